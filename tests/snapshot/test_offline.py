"""``snapshot inspect|convert`` on shard and collection snapshots, through Qdrant Edge, no server."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.verify import verify_against, verify_backup
from qdrant_ops.endpoints.archive import check_file, load_manifest
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError, UnsupportedError
from qdrant_ops.snapshot.offline import classify, collection_name_of, convert_snapshot, inspect_snapshot


def _edge_backup_with_snapshot(tmp_path: Path, shape: str = "sparse", n: int = 150) -> tuple[Path, Path]:
    src = f"edge:{tmp_path}/src"
    make_collection(src, "docs", shape, n=n)
    rep = backup(BackupConfig(source=endpoint_from_uri(src), backup_path=str(tmp_path / "bk"), snapshot=True))
    root = Path(rep.backup_dir)
    return root, root / "docs" / "snapshot-edge-docs.tar"


def test_backup_snapshot_is_in_the_manifest_with_sha256(tmp_path: Path) -> None:
    root, snap = _edge_backup_with_snapshot(tmp_path)
    entry = load_manifest(root).collections["docs"]
    assert entry.snapshots and entry.snapshots[0]["path"] == "docs/snapshot-edge-docs.tar"
    from qdrant_ops.endpoints.archive import FileEntry

    s = entry.snapshots[0]
    check_file(root, FileEntry(path=s["path"], rows=0, bytes=s["bytes"], sha256=s["sha256"]))
    assert snap.stat().st_size < 5_000_000  # sparse Edge files stay small in the tar


def test_inspect_and_convert_a_shard_snapshot(tmp_path: Path) -> None:
    root, snap = _edge_backup_with_snapshot(tmp_path)
    rep = inspect_snapshot(snap)
    assert rep.kind == "shard" and rep.collection == "docs"
    assert rep.points == 150 and rep.segments >= 1 and len(rep.shards) == 1
    assert rep.config["params"]["vectors"]["dense"]["distance"] == "Cosine"
    assert "keywords" in rep.config["params"]["sparse_vectors"]
    conv = convert_snapshot(snap, tmp_path / "conv")
    assert conv.status == "ok" and conv.collections[0].points == 150
    assert verify_backup(conv.backup_dir).status == "ok"
    # the converted backup holds exactly the source's points
    vrep = verify_against(conv.backup_dir, open_endpoint(f"edge:{tmp_path}/src"), full=True)
    assert vrep.status == "ok", vrep.summary_lines()


def test_collection_snapshot_layout_with_two_shards(tmp_path: Path) -> None:
    """A collection snapshot: config.json + one directory per shard (``0/``, ``1/``)."""
    make_collection(f"edge:{tmp_path}/a", "part", "int-unnamed", n=40, seed=1)
    make_collection(f"edge:{tmp_path}/b", "part", "int-unnamed", n=40, seed=2)
    ep_b = open_endpoint(f"edge:{tmp_path}/b")
    moved = [p for page in ep_b.scan("part", batch_size=100) for p in page.points]
    ep_b.delete_collection("part")
    ep_b.create_collection("part", open_endpoint(f"edge:{tmp_path}/a").get_spec("part"))
    for p in moved:
        p.id = int(p.id) + 10_000  # shard 1 holds other ids
    ep_b.write("part", moved)
    close_all()
    stage = tmp_path / "stage"
    shutil.copytree(tmp_path / "a" / "part", stage / "0")
    shutil.copytree(tmp_path / "b" / "part", stage / "1")
    config = {"params": {"vectors": {"size": 8, "distance": "Cosine"}, "shard_number": 2, "replication_factor": 1}, "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000}, "optimizer_config": {"indexing_threshold": 20000}, "wal_config": {"wal_capacity_mb": 32}, "quantization_config": None}
    (stage / "config.json").write_text(json.dumps(config))
    snap = tmp_path / "part-123456-2026-01-02-03-04-05.snapshot"
    subprocess.run(["tar", "--sparse", "--format=gnu", "-cf", str(snap), "-C", str(stage), "."], check=True)
    rep = inspect_snapshot(snap)
    assert rep.kind == "collection" and rep.collection == "part"
    assert [s.shard_id for s in rep.shards] == [0, 1] and rep.points == 80
    assert rep.config["params"]["shard_number"] == 2
    conv = convert_snapshot(snap, tmp_path / "conv")
    assert conv.collections[0].points == 80
    manifest = load_manifest(Path(conv.backup_dir))
    assert manifest.collections["part"].spec.params["shard_number"] == 2


def test_unopenable_snapshots_fail_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.snapshot"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(CorruptBackupError, match="not a snapshot"):
        inspect_snapshot(junk)
    full = tmp_path / "full-snapshot-2026-01-01-00-00-00.snapshot"
    inner = tmp_path / "docs.snapshot"
    inner.write_bytes(b"x")
    with tarfile.open(full, "w") as tf:
        tf.add(inner, arcname="docs.snapshot")
        tf.add(inner, arcname="config.json")
    with pytest.raises(UnsupportedError, match="full-storage snapshot"):
        inspect_snapshot(full)
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tf:
        tf.add(inner, arcname="readme.txt")
    with pytest.raises(UnsupportedError, match="not a Qdrant shard or collection snapshot"):
        inspect_snapshot(other)


def test_names_and_classification() -> None:
    assert collection_name_of(Path("my-docs-8412-2026-01-02-03-04-05.snapshot")) == "my-docs"
    assert collection_name_of(Path("snapshot-edge-docs.tar")) == "docs"
    assert classify(["./segments/x/segment.json", "./wal/open-1"]) == ("shard", [0])
    assert classify(["config.json", "0/segments/a.tar", "2/segments/b.tar"]) == ("collection", [0, 2])


def test_verify_checks_native_snapshot_files(tmp_path: Path) -> None:
    """verify BACKUP checks the snapshot files of the manifest; restore reads Parquet, not them."""
    from typer.testing import CliRunner

    from qdrant_ops.cli import app
    from qdrant_ops.data.config import RestoreConfig
    from qdrant_ops.data.restore import restore

    root, snap = _edge_backup_with_snapshot(tmp_path, shape="int-unnamed", n=80)
    good = verify_backup(str(root))
    assert good.status == "ok"
    check = next(c for c in good.checks if c.name == "snapshots")
    assert check.passed and "1 native snapshot file(s)" in check.detail
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the shard tar, same size
    snap.write_bytes(bytes(data))
    bad = verify_backup(str(root))
    assert bad.status == "failed"
    check = next(c for c in bad.checks if c.name == "snapshots")
    assert not check.passed and str(snap) in check.detail and "sha256" in check.detail
    assert all(c.passed for c in bad.checks if c.name != "snapshots")  # the Parquet files are intact
    res = CliRunner().invoke(app, ["verify", str(root)])
    assert res.exit_code == 1 and "snapshot-edge-docs.tar" in res.output, res.output
    # restore uses the Parquet files: a corrupt snapshot beside them does not stop it
    rest = restore(RestoreConfig(backup=str(root), target=endpoint_from_uri(f"edge:{tmp_path}/back")))
    assert rest.status == "ok" and open_endpoint(f"edge:{tmp_path}/back").count("docs") == 80
    snap.unlink()
    gone = verify_backup(str(root))
    check = next(c for c in gone.checks if c.name == "snapshots")
    assert not check.passed and "native snapshot file missing" in check.detail and str(snap) in check.detail


def test_convert_manifest_names_the_snapshot_file(tmp_path: Path) -> None:
    root, snap = _edge_backup_with_snapshot(tmp_path, shape="int-unnamed", n=30)
    conv = convert_snapshot(snap, tmp_path / "conv")
    manifest_text = (Path(conv.backup_dir) / "manifest.json").read_text()
    source = json.loads(manifest_text)["source"]
    assert source["url"] == str(snap.resolve())
    assert "qdrant-ops-convert-" not in manifest_text  # the scratch Edge store is named nowhere
    assert conv.source.startswith(f"snapshot {snap.resolve()} (shard, 1 shard(s))")
    assert "qdrant-ops-convert-" not in json.dumps(conv.model_dump(mode="json"))
