"""Point-level incremental backups: a chain restores and verifies at every link; broken chains
are refused; ``forget`` keeps what a kept backup reads through."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_against, verify_backup
from qdrant_ops.endpoints.archive import MANIFEST, load_manifest, write_manifest_checksum
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError
from qdrant_ops.format.integrity import Digest, scan_digest
from qdrant_ops.repository.chain import read_ids
from qdrant_ops.repository.forget import forget
from qdrant_ops.repository.location import LOCK_FILE
from qdrant_ops.repository.retention import Policy

runner = CliRunner()
MEM = ":memory:"


def _client() -> Any:
    return open_endpoint(MEM).client  # type: ignore[attr-defined]


def _cfg(repo: Path, name: str = "a") -> BackupConfig:
    return BackupConfig(
        backup_path=str(repo), source=endpoint_from_uri(MEM), collections=[name], incremental=True,
        verify_integrity=False, rows_per_file=70,
    )


def _ids(name: str) -> list[Any]:
    return sorted((p.id for page in open_endpoint(MEM).scan(name, batch_size=500) for p in page.points), key=str)


def _change(step: int, name: str = "a") -> dict[str, int]:
    """Updates (vectors), inserts, deletes and payload-only changes; step 3 re-inserts an id
    deleted at step 1."""
    from qdrant_client import models

    c = _client()
    ids = _ids(name)
    upd = ids[step * 7 : step * 7 + 5]
    pay = ids[step * 11 + 40 : step * 11 + 46]
    dele = ids[-(step + 3) :]
    pts = c.retrieve(name, upd, with_vectors=True)
    c.upsert(name, [models.PointStruct(id=p.id, vector={"text": [0.5 * step] * 6}, payload=p.payload) for p in pts])
    c.set_payload(name, payload={"touched": step, "note": f"é{step}"}, points=pay)
    c.delete(name, points_selector=models.PointIdsList(points=dele))
    new = [str(uuid.UUID(int=1000 * step + k)) for k in range(4)]
    if step == 3:
        new.append(_deleted_at_1[0])
    c.upsert(name, [models.PointStruct(id=i, vector={"text": [0.1] * 6, "image": [1.0] * 4},
                                       payload={"new": step}) for i in new])
    if step == 1:
        _deleted_at_1[:] = [str(d) for d in dele]
    return {"updated": len(upd) + len(pay), "inserted": len(new), "deleted": len(dele)}


_deleted_at_1: list[str] = []


def _copy(src: str, dst: str) -> None:
    ep = open_endpoint(MEM)
    ep.create_collection(dst, ep.get_spec(src))
    for page in ep.scan(src, batch_size=200):
        if page.points:
            ep.write(dst, page.points)


def _fresh(name: str) -> None:
    ep = open_endpoint(MEM)
    for n in ep.list_collections():
        if n == name or n.startswith(("copy-", "restored-")):
            ep.delete_collection(n)
    make_collection(MEM, name, "uuid-named", n=300)


def test_chain_of_five_restores_at_every_link(tmp_path: Path) -> None:
    _fresh("a")
    ep = open_endpoint(MEM)
    fields = ep.get_spec("a").vector_fields()
    repo = tmp_path / "repo"
    made: list[str] = []
    digests: list[Digest] = []
    for step in range(5):
        changes = _change(step) if step else {}
        _copy("a", f"copy-{step}")  # the source as it is now, for verify --against later
        digests.append(scan_digest(ep, "a", fields))
        made.append(str(backup(_cfg(repo)).backup_dir))
        entry = load_manifest(Path(made[-1])).collections["a"]
        assert entry.digest == digests[-1]
        if step == 0:
            assert entry.parent is None and sum(f.rows for f in entry.files) == 300
            continue
        assert entry.parent == {"backup": Path(made[-2]).name, "digest": digests[-2].to_json()}
        # Only what changed is written: updated + inserted rows, and the deleted ids.
        assert sum(f.rows for f in entry.files) == changes["updated"] + changes["inserted"]
        assert entry.deleted is not None and entry.deleted.rows == changes["deleted"]
        assert len(read_ids(Path(made[-1]) / entry.deleted.path)) == changes["deleted"]
        # The index lists every id, with a hash only for what changed (null: the parent's).
        hashes = [pq.read_table(Path(made[-1]) / f.path).column("hash") for f in entry.index_files or []]
        assert sum(len(h) for h in hashes) == digests[-1].count
        assert sum(len(h) - h.null_count for h in hashes) == changes["updated"] + changes["inserted"]
    for k, b in enumerate(made):
        rep = restore(RestoreConfig(backup=b, target=endpoint_from_uri(MEM), rename={"a": f"restored-{k}"}))
        assert rep.status == "ok", rep.summary_lines()
        assert scan_digest(ep, f"restored-{k}", fields) == digests[k]
        assert verify_backup(b).status == "ok"
        check = verify_against(b, ep, rename={"a": f"copy-{k}"}, full=True)
        assert check.status == "ok" and check.collections[0].verdict == "exact", check.summary_lines()
        assert check.collections[0].compared_points == digests[k].count
    # A backup compared with another time's state differs: the check can fail.
    assert verify_against(made[1], ep, rename={"a": "copy-4"}).status == "failed"


def test_nothing_changed_writes_only_the_index(tmp_path: Path) -> None:
    _fresh("a")
    repo = tmp_path / "repo"
    first = backup(_cfg(repo))
    second = backup(_cfg(repo))
    entry = load_manifest(Path(second.backup_dir)).collections["a"]
    assert entry.parent is not None and entry.files == [] and entry.deleted is not None and entry.deleted.rows == 0
    index_bytes = sum(f.bytes for f in entry.index_files or [])
    assert second.collections[0].bytes == index_bytes + entry.deleted.bytes
    assert second.collections[0].bytes < first.collections[0].bytes / 3
    assert verify_backup(second.backup_dir).status == "ok"


def _chain(tmp_path: Path, n: int = 3) -> list[Path]:
    _fresh("a")
    repo = tmp_path / "repo"
    made = []
    for step in range(n):
        if step:
            _change(step)
        made.append(Path(backup(_cfg(repo)).backup_dir))
    return made


def test_missing_parent_is_refused_naming_it(tmp_path: Path) -> None:
    made = _chain(tmp_path)
    shutil.rmtree(made[1])
    with pytest.raises(CorruptBackupError, match=f"needs its parent backup {made[1].name}: missing"):
        restore(RestoreConfig(backup=str(made[2]), target=endpoint_from_uri(MEM), rename={"a": "restored-x"}))
    assert not open_endpoint(MEM).collection_exists("restored-x")  # refused before writing
    res = runner.invoke(app, ["verify", str(made[2])])
    assert res.exit_code == 1 and made[1].name in res.output
    res = runner.invoke(app, ["restore", str(made[2]), "--target", MEM, "--suffix", "-y"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"needs its parent backup {made[1].name}" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    # The next incremental backup does not build on the broken chain either.
    with pytest.raises(CorruptBackupError, match=made[1].name):
        backup(_cfg(made[2].parent))


def test_corrupt_parent_is_refused(tmp_path: Path) -> None:
    made = _chain(tmp_path)
    data = next(p for p in sorted((made[0] / "a").glob("part-*.parquet")))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CorruptBackupError, match="sha256"):
        restore(RestoreConfig(backup=str(made[2]), target=endpoint_from_uri(MEM), rename={"a": "restored-z"}))
    rep = verify_backup(str(made[2]))
    assert rep.status == "failed"


def test_parent_replaced_by_another_backup_is_refused(tmp_path: Path) -> None:
    made = _chain(tmp_path, 2)
    manifest = json.loads((made[0] / MANIFEST).read_text())
    manifest["collections"]["a"]["digest"]["full"] = "0" * 32
    (made[0] / MANIFEST).write_text(json.dumps(manifest))
    write_manifest_checksum(made[0])  # a consistent backup, just not the parent that was recorded
    with pytest.raises(CorruptBackupError, match="digest differs from the one recorded"):
        verify_against(str(made[1]), open_endpoint(MEM))


def test_forget_keeps_the_parents_of_kept_backups(tmp_path: Path) -> None:
    made = _chain(tmp_path, 3)
    full = BackupConfig(backup_path=str(made[0].parent), source=endpoint_from_uri(MEM), collections=["a"],
                        verify_integrity=False)
    backup(full)  # a full backup after the chain: --keep-last 2 keeps it and the chain's head
    rep = forget(made[0].parent, Policy(last=2))
    kept = {b["name"]: b["reasons"] for b in rep.kept}
    assert kept[made[2].name] == ["last"]
    assert kept[made[1].name] == [f"parent of {made[2].name}"]
    assert kept[made[0].name] == [f"parent of {made[1].name}"]
    assert rep.removed == []
    assert restore(RestoreConfig(backup=str(made[2]), target=endpoint_from_uri(MEM), rename={"a": "restored-f"})).status == "ok"


def test_tar_chain_restores_at_every_link_and_needs_its_parents(tmp_path: Path) -> None:
    """With --tar each link is one archive naming its parent; a reader extracts the parents'
    archives from beside it. A missing parent archive is refused in one line."""
    _fresh("a")
    ep = open_endpoint(MEM)
    fields = ep.get_spec("a").vector_fields()
    repo = tmp_path / "repo"
    made: list[str] = []
    digests: list[Digest] = []
    for step in range(5):
        if step:
            _change(step)
        _copy("a", f"copy-{step}")
        digests.append(scan_digest(ep, "a", fields))
        rep = backup(_cfg(repo).model_copy(update={"tar": True, "verify_integrity": True}))
        assert rep.status == "ok" and rep.backup_dir.endswith(".tar"), rep.summary_lines()
        made.append(rep.backup_dir)
    assert sorted(p.name for p in repo.iterdir() if p.name != LOCK_FILE) == sorted(Path(m).name for m in made)
    for k, b in enumerate(made):
        rep = restore(RestoreConfig(backup=b, target=endpoint_from_uri(MEM), rename={"a": f"restored-{k}"}))
        assert rep.status == "ok", rep.summary_lines()
        assert scan_digest(ep, f"restored-{k}", fields) == digests[k]
        check = verify_against(b, ep, rename={"a": f"copy-{k}"}, full=True)
        assert check.status == "ok" and check.collections[0].verdict == "exact", check.summary_lines()
    listed = json.loads(runner.invoke(app, ["backups", "list", str(repo), "--json"]).stdout)["backups"]
    assert [b["parent"] for b in listed] == [None, *(Path(m).stem for m in made[:-1])]
    # A sample of the newest link's files covers the chain in the parent archives too.
    parts = [runner.invoke(app, ["verify", made[-1], "--read-data-subset", f"{n}/2", "--json"]) for n in (1, 2)]
    assert all(r.exit_code == 0 for r in parts), [r.output for r in parts]
    reads = [json.loads(r.stdout) for r in parts]
    assert reads[0]["files_read"] + reads[1]["files_read"] == reads[0]["files_total"] > 5
    kept = forget(repo, Policy(last=1), dry_run=True).kept
    assert {b["name"] for b in kept} == {Path(m).stem for m in made}
    # A directory backup after the tars starts its own chain: a chain is all tars or all directories.
    rep = backup(_cfg(repo))
    assert load_manifest(Path(rep.backup_dir)).collections["a"].parent is None
    Path(made[2]).unlink()
    res = runner.invoke(app, ["restore", made[4], "--target", MEM, "--suffix", "-t"])
    assert res.exit_code == 1 and "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1
    assert f"needs its parent backup {Path(made[2]).stem}: missing from {repo}" in res.stderr
    res = runner.invoke(app, ["verify", made[3]])
    assert res.exit_code == 1 and Path(made[2]).stem in res.output
    # Reading left no extracted copies, but the failed restore's own (kept for its rerun).
    assert sorted(p.name for p in repo.iterdir() if p.is_dir()) == sorted([Path(rep.backup_dir).name, Path(made[4]).name + ".d"])


def test_config_key_and_cli(tmp_path: Path) -> None:
    _fresh("a")
    repo = tmp_path / "repo"
    conf = tmp_path / "backup.json"
    conf.write_text(json.dumps({"backup_path": str(repo), "collections": ["a"], "incremental": True}))
    for _ in range(2):
        res = runner.invoke(app, ["backup", "--source", MEM, "--config", str(conf)])
        assert res.exit_code == 0, res.output
    first, second = sorted(p for p in repo.iterdir() if (p / MANIFEST).exists())
    assert load_manifest(first).collections["a"].parent is None
    assert load_manifest(second).collections["a"].parent == {
        "backup": first.name, "digest": load_manifest(first).collections["a"].digest.to_json()
    }
    listed = json.loads(runner.invoke(app, ["backups", "list", str(repo), "--json"]).stdout)["backups"]
    assert [b["parent"] for b in listed] == [None, first.name]
    # --full on the command line wins over the config key: a self-contained backup.
    res = runner.invoke(app, ["backup", "--source", MEM, "--config", str(conf), "--full"])
    assert res.exit_code == 0, res.output
    newest = max((p for p in repo.iterdir() if (p / MANIFEST).exists()), key=lambda p: p.stat().st_mtime)
    assert load_manifest(newest).collections["a"].parent is None


def test_vectors_changed_since_the_parent_gives_a_full_backup(tmp_path: Path) -> None:
    from qdrant_client import models

    _fresh("a")
    repo = tmp_path / "repo"
    backup(_cfg(repo))
    ep = open_endpoint(MEM)
    ep.delete_collection("a")
    _client().create_collection("a", vectors_config={"text": models.VectorParams(size=3, distance=models.Distance.DOT)})
    _client().upsert("a", [models.PointStruct(id=1, vector={"text": [1.0, 2.0, 3.0]}, payload={"x": 1})])
    rep = backup(_cfg(repo))
    assert any("vectors changed" in n for n in rep.notes)
    entry = load_manifest(Path(rep.backup_dir)).collections["a"]
    assert entry.parent is None and entry.points_count == 1
    assert restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(MEM),
                                 rename={"a": "restored-v"})).status == "ok"


class Crash(RuntimeError):
    pass


class CrashingEndpoint:
    """Delegates to a real endpoint; its scan dies after ``pages`` pages (a simulated crash)."""

    def __init__(self, inner: Any, pages: int) -> None:
        self.inner = inner
        self.pages = pages

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def scan(self, name: str, **kw: Any) -> Any:
        for page in self.inner.scan(name, **kw):
            if self.pages <= 0:
                raise Crash("killed")
            self.pages -= 1
            yield page


def test_interrupted_incremental_resumes_to_the_same_backup(tmp_path: Path) -> None:
    _fresh("a")
    repo = tmp_path / "repo"
    cfg = _cfg(repo).model_copy(update={"batch_size": 25, "rows_per_file": 50})
    backup(cfg)
    ref_repo = tmp_path / "ref"
    shutil.copytree(repo, ref_repo)
    _change(1)
    reference = load_manifest(Path(backup(cfg.model_copy(update={"backup_path": str(ref_repo)})).backup_dir))
    with pytest.raises(Crash):
        backup(cfg, source=CrashingEndpoint(open_endpoint(MEM), 5))  # type: ignore[arg-type]
    resumed = backup(cfg)
    assert resumed.resumed
    entry = load_manifest(Path(resumed.backup_dir)).collections["a"]
    want = reference.collections["a"]
    assert entry.digest == want.digest and entry.parent is not None
    assert want.parent is not None and entry.parent["digest"] == want.parent["digest"]
    assert sum(f.rows for f in entry.files) == sum(f.rows for f in want.files)
    assert entry.deleted is not None and want.deleted is not None and entry.deleted.rows == want.deleted.rows
    assert verify_backup(resumed.backup_dir).status == "ok"
