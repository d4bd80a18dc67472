"""Incremental backups to s3:// (the loopback server): a chain of five restores and verifies at
every link, reading its parents from the store; a missing or altered parent object is refused,
naming it; ``backups list`` and ``forget`` see the chain."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_against, verify_backup
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError
from qdrant_ops.format.integrity import Digest, scan_digest
from qdrant_ops.repository.forget import forget
from qdrant_ops.repository.retention import Policy
from repository.test_incremental import CrashingEndpoint, _copy

runner = CliRunner()
MEM = ":memory:"
NAME = "s3inc"


def _cfg(url: str) -> BackupConfig:
    return BackupConfig(backup_path=url, source=endpoint_from_uri(MEM), collections=[NAME], incremental=True,
                        verify_integrity=False, rows_per_file=60)


def _fresh() -> None:
    ep = open_endpoint(MEM)
    for n in ep.list_collections():
        if n == NAME or n.startswith(f"{NAME}-"):
            ep.delete_collection(n)
    make_collection(MEM, NAME, "uuid-named", n=240)  # dot and euclid: kept as written


def change(client: Any, name: str, step: int) -> dict[str, int]:
    """Between two backups: whole-point updates, payload-only and vector-only changes, inserts
    and deletes (step 3 re-inserts an id deleted at step 1)."""
    from qdrant_client import models

    ids = sorted(str(p.id) for p in client.scroll(name, limit=10_000)[0])
    upd, pay, vec = ids[step * 5 : step * 5 + 4], ids[60 + step * 6 : 64 + step * 6], ids[120 + step * 6 : 123 + step * 6]
    dele = ids[-(step + 2) :]
    client.upsert(name, [models.PointStruct(id=i, vector={"text": [0.1 * step] * 6, "image": [2.0] * 4},
                                            payload={"updated": step}) for i in upd])
    client.set_payload(name, payload={"touched": step, "note": f"é{step}"}, points=pay)
    client.update_vectors(name, [models.PointVectors(id=i, vector={"text": [float(step), 0, 0, 0, 1, 2]}) for i in vec])
    client.delete(name, points_selector=models.PointIdsList(points=dele))
    back = str(uuid.UUID(int=11))  # inserted at step 1, deleted at step 2, back at step 3
    new = [str(uuid.UUID(int=10 * step + k)) for k in range(3)] + ([back] if step == 3 else [])
    client.upsert(name, [models.PointStruct(id=i, vector={"text": [1.0] * 6}, payload={"new": step}) for i in new])
    if step == 2:
        client.delete(name, points_selector=models.PointIdsList(points=[back]))
    return {"changed": len(upd) + len(pay) + len(vec) + len(new)}


def _manifest(s3: Any, url: str) -> dict[str, Any]:
    bucket, _, key = url[len("s3://"):].partition("/")
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read()))


def _chain(s3_url: str, n: int) -> tuple[list[str], list[Digest]]:
    _fresh()
    ep = open_endpoint(MEM)
    fields = ep.get_spec(NAME).vector_fields()
    made: list[str] = []
    digests: list[Digest] = []
    for step in range(n):
        if step:
            change(ep.client, NAME, step)  # type: ignore[attr-defined]
        _copy(NAME, f"{NAME}-copy-{step}")
        digests.append(scan_digest(ep, NAME, fields))
        made.append(str(backup(_cfg(s3_url)).backup_dir))
    return made, digests


def test_chain_of_five_on_s3_restores_and_verifies_at_every_link(s3: Any, s3_url: str) -> None:
    made, digests = _chain(s3_url, 5)
    ep = open_endpoint(MEM)
    fields = ep.get_spec(NAME).vector_fields()
    for k, url in enumerate(made):
        entry = _manifest(s3, url)["collections"][NAME]
        assert Digest.from_json(entry["digest"]) == digests[k]
        if k:
            assert entry["parent"] == {"backup": made[k - 1].rsplit("/", 1)[1], "digest": digests[k - 1].to_json()}
            # Only what changed is sent: a fraction of the collection.
            assert 0 < sum(f["rows"] for f in entry["files"]) < digests[k].count // 4
    for k, url in enumerate(made):
        rep = restore(RestoreConfig(backup=url, target=endpoint_from_uri(MEM), rename={NAME: f"{NAME}-restored-{k}"}))
        assert rep.status == "ok", rep.summary_lines()
        assert scan_digest(ep, f"{NAME}-restored-{k}", fields) == digests[k]
        assert verify_backup(url).status == "ok"
        check = verify_against(url, ep, rename={NAME: f"{NAME}-copy-{k}"}, full=True)
        assert check.status == "ok" and check.collections[0].verdict == "exact", check.summary_lines()
        assert check.collections[0].compared_points == digests[k].count
    assert verify_against(made[2], ep, rename={NAME: f"{NAME}-copy-4"}).status == "failed"
    # The command line, and the repository's listing and retention, see the same chain.
    res = runner.invoke(app, ["verify", s3_url, "--against", MEM, "--rename", f"{NAME}={NAME}-copy-4", "--full"])
    assert res.exit_code == 0, res.output
    listed = json.loads(runner.invoke(app, ["backups", "list", s3_url, "--json"]).stdout)["backups"]
    assert [b["parent"] for b in listed] == [None, *(u.rsplit("/", 1)[1] for u in made[:-1])]
    rep = forget(s3_url, Policy(last=1))
    assert {b["name"] for b in rep.kept} == {u.rsplit("/", 1)[1] for u in made} and rep.removed == []


def test_missing_or_altered_parent_on_s3_is_refused_naming_it(s3: Any, s3_url: str) -> None:
    made, _ = _chain(s3_url, 3)
    bucket, _, _ = s3_url[len("s3://"):].partition("/")
    middle = made[1][len(f"s3://{bucket}/"):]
    entry = _manifest(s3, made[1])["collections"][NAME]
    index_key = f"{middle}/{entry['index_files'][0]['path']}"
    saved = s3.get_object(Bucket=bucket, Key=index_key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=index_key, Body=saved[:-9] + b"corrupted")  # same size, other bytes
    target = {NAME: f"{NAME}-restored-x"}
    with pytest.raises(CorruptBackupError, match=f"{made[1]}/{entry['index_files'][0]['path']}: sha256 differs"):
        verify_against(made[2], open_endpoint(MEM))
    # The next backup does not build on the broken chain either.
    with pytest.raises(CorruptBackupError, match=f"{made[1]}/.*sha256 differs"):
        backup(_cfg(s3_url))
    s3.delete_object(Bucket=bucket, Key=index_key)
    res = runner.invoke(app, ["restore", made[2], "--target", MEM, "--rename", f"{NAME}={NAME}-restored-x"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"{made[1]}/{entry['index_files'][0]['path']}: file missing" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    s3.delete_object(Bucket=bucket, Key=f"{middle}/manifest.json")  # the parent is gone (no longer complete)
    with pytest.raises(CorruptBackupError, match=f"needs its parent backup {made[1].rsplit('/', 1)[1]}: missing from {s3_url}"):
        restore(RestoreConfig(backup=made[2], target=endpoint_from_uri(MEM), rename=target))
    assert not open_endpoint(MEM).collection_exists(f"{NAME}-restored-x")  # refused before writing
    res = runner.invoke(app, ["verify", made[2]])
    assert res.exit_code == 1 and made[1].rsplit("/", 1)[1] in res.output


def test_resumed_remote_incremental_keeps_its_parent(s3: Any, s3_url: str) -> None:
    """A run that dies mid-scan resumes on the parent it started with, even once a newer
    complete backup is in the store, and sends only what is missing."""
    made, _ = _chain(s3_url, 1)
    ep = open_endpoint(MEM)
    change(ep.client, NAME, 1)  # type: ignore[attr-defined]
    cfg = _cfg(s3_url).model_copy(update={"batch_size": 20, "rows_per_file": 40})
    with pytest.raises(RuntimeError, match="killed"):
        backup(cfg, source=CrashingEndpoint(ep, 6))  # type: ignore[arg-type]
    bucket, _, _ = s3_url[len("s3://"):].partition("/")
    first = made[0][len(f"s3://{bucket}/"):]
    newer = first.rsplit("/", 1)[0] + "/29990101T000000Z"  # a newer complete backup appears meanwhile
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=first + "/")["Contents"]:
        s3.copy_object(Bucket=bucket, Key=newer + obj["Key"][len(first):], CopySource={"Bucket": bucket, "Key": obj["Key"]})
    resumed = backup(cfg)
    assert resumed.resumed
    entry = _manifest(s3, str(resumed.backup_dir))["collections"][NAME]
    assert entry["parent"]["backup"] == made[0].rsplit("/", 1)[1]
    # The data files the first run sent are not sent again; the rest (indexes among them) are.
    files = len(entry["files"]) + len(entry["index_files"]) + 1
    assert resumed.reused_files >= 1 and resumed.uploaded_files + resumed.reused_files == files
    assert verify_against(str(resumed.backup_dir), ep, full=True).status == "ok"


@pytest.mark.slow
def test_kill9_mid_upload_of_an_incremental_resumes(s3: Any, s3_url: str, tmp_path: Path) -> None:
    """An incremental backup to S3 killed with SIGKILL while sending resumes on the same parent:
    it sends only what is missing, leaves no multipart upload open and verifies exactly."""
    import os

    import numpy as np

    from qdrant_ops.endpoints.base import Point
    from repository.test_s3_kill_resume import ROOT, _cli, _make_edge_source, kill_mid_upload

    source = f"edge:{tmp_path}/src"
    _make_edge_source(source, n=12000, dim=256)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}")
    config = tmp_path / "backup.json"
    config.write_text(json.dumps({"rows_per_file": 1500, "incremental": True}))
    args = ["backup", "--source", source, "--backup-path", s3_url, "--config", str(config), "--no-verify"]
    bucket, _, prefix = s3_url[len("s3://"):].partition("/")

    def keys() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        # Backup objects only: the repository lock lives in locks/ while a run holds it.
        return [k["Key"] for page in pages for k in page.get("Contents", [])
                if k["Key"].split("/")[1] != "locks" and not k["Key"].endswith("/")]

    first = _cli(args, env)
    _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err.decode()
    parent = {k.split("/")[1] for k in keys()}
    before = len(keys())
    ep = open_endpoint(source)  # two thirds of the points change, some go, some come
    rng = np.random.default_rng(2)
    for start in range(0, 8000, 2000):
        vecs = rng.random((2000, 256), dtype=np.float32)
        ep.write("big", [Point(id=start + i, vectors={"": v.tolist()}, payload={"i": start + i, "v": 2})
                         for i, v in enumerate(vecs)])
    import qdrant_edge

    ep._shard("big").update(qdrant_edge.UpdateOperation.delete_points(list(range(11900, 12000))))  # type: ignore[attr-defined]
    ep.write("big", [Point(id=20000 + i, vectors={"": [0.5] * 256}, payload={"new": i}) for i in range(300)])
    ep.close()

    proc = _cli(args, env)
    kill_mid_upload(proc, s3, bucket, prefix, lambda: len(keys()) - before)
    listed = len(keys()) - before
    assert not any(k.endswith("manifest.json") and k.split("/")[1] not in parent for k in keys())

    report = tmp_path / "resume"
    again = _cli([*args, "--report", str(report)], env)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err.decode()
    data = json.loads(report.with_suffix(".json").read_text())
    manifest = _manifest(s3, data["backup_dir"])
    entry = manifest["collections"]["big"]
    assert entry["parent"]["backup"] == parent.pop()
    assert 8000 <= sum(f["rows"] for f in entry["files"]) < 12000 and entry["deleted"]["rows"] == 100
    files = len(entry["files"]) + len(entry["index_files"]) + 1
    # As in test_s3_kill_resume: a file streamed whole before its checkpoint recorded it is sent again.
    assert listed >= 2 and data["reused_files"] >= listed - int(entry.get("slices", 1))
    assert data["uploaded_files"] + data["reused_files"] == files
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/").get("Uploads")

    check = _cli(["verify", data["backup_dir"], "--against", source, "--full"], env)
    out, err = check.communicate(timeout=180)
    assert check.returncode == 0, (out + err).decode()


def test_subset_reads_of_a_remote_link_cover_its_chain(s3: Any, s3_url: str) -> None:
    """``verify --read-data-subset n/t`` of the newest link samples the whole chain's files (its
    parents' too, read from the store); 1/3..3/3 read each once, and a parent's damaged data
    file fails exactly the part that holds it."""
    made, _ = _chain(s3_url, 3)
    reads = []
    for n in (1, 2, 3):
        res = runner.invoke(app, ["verify", made[2], "--read-data-subset", f"{n}/3", "--json"])
        assert res.exit_code == 0, res.output
        reads.append(json.loads(res.stdout))
    total = reads[0]["files_total"]
    assert sum(r["files_read"] for r in reads) == total
    assert total == sum(len(_manifest(s3, u)["collections"][NAME]["files"])
                        + len(_manifest(s3, u)["collections"][NAME]["index_files"])
                        + (1 if _manifest(s3, u)["collections"][NAME].get("deleted") else 0) for u in made)
    bucket, _, _ = s3_url[len("s3://"):].partition("/")
    first = made[0][len(f"s3://{bucket}/"):]
    data = _manifest(s3, made[0])["collections"][NAME]["files"][0]["path"]
    key = f"{first}/{data}"
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=body[:-9] + b"corrupted")  # same size, other bytes
    codes = [runner.invoke(app, ["verify", made[2], "--read-data-subset", f"{n}/3"]).exit_code for n in (1, 2, 3)]
    assert sorted(codes) == [0, 0, 1], codes
