"""``prune`` and ``forget --prune`` on a local repository and on S3: what goes, what stays, the lock."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data import backup as backup_module
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.archive import PARTIAL_PREFIX
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import EXIT_USAGE, LockedError
from qdrant_ops.repository.location import cache_dir, open_location
from qdrant_ops.repository.prune import prune

runner = CliRunner()
MEM = ":memory:"


def _cfg(repo: str, **kw: Any) -> BackupConfig:
    return BackupConfig(backup_path=repo, source=endpoint_from_uri(MEM), collections=["a"],
                        verify_integrity=False, rows_per_file=20, **kw)


def _local_tree(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _s3_tree(s3: Any, url: str) -> dict[str, int]:
    bucket, _, prefix = url[len("s3://"):].partition("/")
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        out.update({o["Key"][len(prefix) + 1:]: o["Size"] for o in page.get("Contents", [])})
    # pyarrow keeps a deleted file's "directory" as an empty marker object: not a file.
    return {k: v for k, v in out.items() if not (k.endswith("/") or k == "") or v}


def _uploads(s3: Any, bucket: str) -> set[str]:
    return {u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}


def test_local_prune_removes_only_what_no_manifest_lists(tmp_path: Path) -> None:
    make_collection(MEM, "a", "int-unnamed", n=60)
    repo = tmp_path / "repo"
    full = Path(backup(_cfg(str(repo), incremental=True)).backup_dir)
    child = Path(backup(_cfg(str(repo), incremental=True)).backup_dir)  # reads through `full`
    kept = _local_tree(repo)
    garbage = {  # path -> bytes: what a prune must remove
        ".partial-20200101T000000Z/a/part-00000-00000.parquet": 11,
        ".partial-20200101T000000Z/state.sqlite": 5,
        ".partial-20200102T000000Z.tar": 7,
        "20200103T000000Z/a/part-00000-00000.parquet": 3,  # a backup directory without a manifest
        f"{full.name}/state.sqlite": 13,
        f"{full.name}/a/part-00000-00099.parquet.tmp": 17,
        f"{child.name}/stray/deep/x.bin": 19,
    }
    alone = {".qdrant-ops-read-1-abcd/x": 2, "notes.txt": 4, "20200104T000000Z.tar.d/.extracted": 2,
             "20200105T000000Z.tar": 6}  # a tar prune cannot read: named, never removed
    for rel, size in {**garbage, **alone}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(b"x" * size)
    before = _local_tree(repo)

    dry = prune(str(repo), dry_run=True)
    assert _local_tree(repo) == before and dry.status == "dry-run"
    assert dry.removed_bytes == sum(garbage.values())
    where = {Path(g["location"]).relative_to(repo).as_posix().rstrip("/") for g in dry.removed}
    assert where == {".partial-20200101T000000Z", ".partial-20200102T000000Z.tar", "20200103T000000Z",
                     f"{full.name}/state.sqlite", f"{full.name}/a/part-00000-00099.parquet.tmp", f"{child.name}/stray"}
    assert dry.left_alone == [{"location": str(repo / "20200105T000000Z.tar"),
                               "reason": "a .tar whose manifest cannot be read; not touched"}]
    partial = next(g for g in dry.removed if g["location"].endswith(".partial-20200101T000000Z"))
    assert partial["kind"] == "partial backup" and partial["bytes"] == 16 and "no longer be resumed" in partial["reason"]

    done = prune(str(repo))
    assert done.status == "ok" and done.removed == dry.removed
    after = _local_tree(repo)
    assert after == kept | {k: v for k, v in alone.items()} | {".qdrant-ops.lock": after[".qdrant-ops.lock"]}
    assert verify_backup(str(child)).status == "ok" and verify_backup(str(full)).status == "ok"
    assert prune(str(repo)).removed == []


def test_s3_prune_removes_partials_unlisted_files_and_open_uploads(s3: Any, s3_url: str) -> None:
    make_collection(MEM, "a", "int-unnamed", n=60)
    done = backup(_cfg(s3_url)).backup_dir
    name = done.rsplit("/", 1)[1]
    bucket, _, prefix = s3_url[len("s3://"):].partition("/")
    kept = _s3_tree(s3, s3_url)
    garbage = {"20200101T000000Z/a/part-00000-00000.parquet": 11, f"{name}/state.sqlite": 13,
               f"{name}/a/extra.parquet": 17}
    for rel, size in garbage.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=b"x" * size)
    s3.put_object(Bucket=bucket, Key="elsewhere/20200101T000000Z/a/x", Body=b"x")
    mine = s3.create_multipart_upload(Bucket=bucket, Key=f"{prefix}/20200105T000000Z/a/big.parquet")
    s3.upload_part(Bucket=bucket, Key=f"{prefix}/20200105T000000Z/a/big.parquet", UploadId=mine["UploadId"],
                   PartNumber=1, Body=b"y" * 23)
    s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/20200105T000000Z/x")
    staging = cache_dir("staging", open_location(s3_url)) / f"{PARTIAL_PREFIX}20200106T000000Z"
    (staging / "a").mkdir(parents=True)
    (staging / "a" / "part-00000-00000.parquet").write_bytes(b"z" * 29)
    before = _s3_tree(s3, s3_url)

    res = runner.invoke(app, ["prune", "--backup-path", s3_url, "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    dry = json.loads(res.stdout)
    assert _s3_tree(s3, s3_url) == before and staging.exists() and len(_uploads(s3, bucket)) == 2
    kinds = {(g["kind"], g["location"].removeprefix(s3_url + "/"), g["bytes"]) for g in dry["removed"]}
    assert kinds == {("partial backup", "20200101T000000Z", 11), ("unlisted file", f"{name}/state.sqlite", 13),
                     ("unlisted file", f"{name}/a/extra.parquet", 17),
                     ("open upload", "20200105T000000Z/a/big.parquet", 23),
                     ("partial backup", str(staging), 29)}
    assert dry["removed_bytes"] == 11 + 13 + 17 + 23 + 29 and dry["by_kind"]["open upload"] == {"count": 1, "bytes": 23}

    res = runner.invoke(app, ["prune", s3_url])
    assert res.exit_code == 0, res.stderr
    assert "removed open upload" in res.stdout and "5 item(s), 93 B removed" in res.stdout
    assert _s3_tree(s3, s3_url) == kept and not staging.exists()
    assert _uploads(s3, bucket) == {"elsewhere/20200105T000000Z/x"}
    assert s3.head_object(Bucket=bucket, Key="elsewhere/20200101T000000Z/a/x")["ContentLength"] == 1
    assert verify_backup(done).status == "ok"


def test_forget_prune_reports_prune_and_keeps_the_chain(tmp_path: Path) -> None:
    make_collection(MEM, "a", "int-unnamed", n=30)
    repo = tmp_path / "repo"
    made = [Path(backup(_cfg(str(repo), incremental=True)).backup_dir) for _ in range(3)]
    (repo / ".partial-20200101T000000Z" / "a").mkdir(parents=True)
    (made[0] / "state.sqlite").write_bytes(b"s" * 9)
    res = runner.invoke(app, ["forget", str(repo), "--keep-last", "1", "--prune", "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert [b["name"] for b in plan["removed"]] == []  # the newest reads through both older ones
    assert {b["name"]: (b["reasons"], b.get("parent_of")) for b in plan["kept"]} == {
        made[0].name: ([f"parent of {made[1].name}"], [made[1].name]),
        made[1].name: ([f"parent of {made[2].name}"], [made[2].name]),
        made[2].name: (["last"], None)}
    assert plan["prune"]["removed_count"] == 2 and plan["prune"]["removed_bytes"] == 9
    assert (repo / ".partial-20200101T000000Z").exists() and (made[0] / "state.sqlite").exists()
    res = runner.invoke(app, ["forget", str(repo), "--keep-last", "1", "--prune"])
    assert res.exit_code == 0, res.stderr
    assert "not folded into its child" in res.stdout and "2 item(s), 9 B removed" in res.stdout
    assert not (repo / ".partial-20200101T000000Z").exists() and not (made[0] / "state.sqlite").exists()
    assert verify_backup(str(made[2])).status == "ok"


class Blocking:
    """A real endpoint whose scan waits, holding the backup mid-run, until ``go`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.scanning = threading.Event()
        self.go = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def scan(self, name: str, **kw: Any) -> Any:
        self.scanning.set()
        self.go.wait(30)
        yield from self.inner.scan(name, **kw)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_prune_refuses_while_a_backup_runs(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    repo = str(tmp_path / "repo") if where == "local" else str(request.getfixturevalue("s3_url"))
    make_collection(MEM, "a", "int-unnamed", n=30)
    src = Blocking(open_endpoint(MEM))
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(backup(_cfg(repo), source=src)))  # type: ignore[arg-type]
    t.start()
    try:
        assert src.scanning.wait(30)
        with pytest.raises(LockedError):
            prune(repo)
        res = runner.invoke(app, ["prune", repo])
        assert res.exit_code == EXIT_USAGE and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert res.stderr.startswith("error:") and "in use by another qdrant-ops run" in res.stderr
        res = runner.invoke(app, ["forget", repo, "--keep-last", "1", "--prune"])
        assert res.exit_code == EXIT_USAGE, res.stderr
    finally:
        src.go.set()
        t.join(60)
    assert out and out[0].status == "ok"
    assert prune(repo).removed == []  # the finished backup left nothing behind


def test_backup_holds_the_lock_through_its_verify_and_tar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_collection(MEM, "a", "int-unnamed", n=30)
    repo = tmp_path / "repo"
    refused: list[str] = []
    real_tar, real_verify = backup_module.write_tar, verify_backup

    def try_prune(phase: str) -> None:
        try:
            prune(str(repo))
        except LockedError:
            refused.append(phase)

    def tar(path: Path) -> Path:
        try_prune("tar")
        return real_tar(path)

    def verify(location: str, **kw: Any) -> Any:
        try_prune("verify")
        return real_verify(location, **kw)

    monkeypatch.setattr(backup_module, "write_tar", tar)
    monkeypatch.setattr("qdrant_ops.data.verify.verify_backup", verify)
    rep = backup(_cfg(str(repo)).model_copy(update={"tar": True, "verify_integrity": True}))
    assert refused == ["verify", "tar"] and rep.backup_dir.endswith(".tar")


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["prune"], ["prune", str(tmp_path / "missing")], ["prune", "a", "--backup-path", "b"]):
        res = runner.invoke(app, args)
        assert res.exit_code == EXIT_USAGE and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
    assert os.listdir(tmp_path) == []
