"""Qdrant Edge as source and target: backup -> restore -> verify for every point shape.

The same round trip as test_roundtrip.py, over (source, target) pairs Edge -> local, local -> Edge
and Edge -> Edge. Payload floats are compared within 1 ULP where Edge is an endpoint (DESIGN.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import SHAPES, make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_against, verify_backup, verify_live
from qdrant_ops.endpoints.archive import load_manifest
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.format.compare import payload_equal

PAIRS = [("edge", "local"), ("local", "edge"), ("edge", "edge")]


def _uri(kind: str, base: Path) -> str:
    return f"edge:{base}-edge" if kind == "edge" else str(base) + "-local"


def _points(uri: str, name: str) -> dict[object, object]:
    out: dict[object, object] = {}
    for page in open_endpoint(uri).scan(name, batch_size=64):
        for p in page.points:
            out[p.id] = p.payload
    return out


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_edge_roundtrip_every_shape(src_kind: str, dst_kind: str, tmp_path: Path) -> None:
    src = _uri(src_kind, tmp_path / "src")
    dst = _uri(dst_kind, tmp_path / "dst")
    for shape in SHAPES:
        make_collection(src, shape, shape, n=120)
    rep = backup(
        BackupConfig(source=endpoint_from_uri(src), backup_path=str(tmp_path / "bk"), parallel=2, batch_size=25, rows_per_file=50)
    )
    assert rep.status == "ok", rep.summary_lines()
    # Edge scans its slices at once; qdrant-client's local mode scans one stream (pipeline/scope.py).
    assert rep.parallel_mode == ("2 slice(s) in parallel" if src_kind == "edge" else "one stream")
    manifest = load_manifest(Path(rep.backup_dir))
    assert {n: e.points_count for n, e in manifest.collections.items()} == {
        s: (0 if s == "empty" else 120) for s in SHAPES
    }
    assert verify_backup(rep.backup_dir).status == "ok"

    rrep = restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(dst), suffix="_r", batch_size=31))
    assert rrep.status == "ok", rrep.summary_lines()
    assert all(c.written == c.points for c in rrep.collections)
    if dst_kind == "edge":
        filled = [c for c in rrep.collections if c.points]
        assert filled and all("optimize()" in c.post_write for c in filled), rrep.summary_lines()
    else:
        assert all(c.post_write == "" for c in rrep.collections)

    target = open_endpoint(dst)
    assert sorted(target.list_collections()) == sorted(f"{s}_r" for s in SHAPES)
    vrep = verify_against(rep.backup_dir, target, suffix="_r", full=True)
    assert vrep.status == "ok", vrep.summary_lines()
    live = verify_live(open_endpoint(src), target, suffix="_r", full=True)
    assert live.status == "ok", live.summary_lines()

    for shape in SHAPES:
        a, b = _points(src, shape), _points(dst, f"{shape}_r")
        assert a.keys() == b.keys()
        assert all(payload_equal(a[k], b[k], ulps=1) for k in a)
        if shape == "uuid-named":
            assert all(isinstance(i, str) for i in a) and all(isinstance(i, str) for i in b)
        elif shape != "empty":
            assert all(isinstance(i, int) for i in b)
    for shape in SHAPES:
        assert target.get_spec(f"{shape}_r").vector_fields() == open_endpoint(src).get_spec(shape).vector_fields()


def test_verify_live_finds_a_changed_edge_point(tmp_path: Path) -> None:
    src, dst = f"edge:{tmp_path}/a", f"edge:{tmp_path}/b"
    make_collection(src, "docs", "int-unnamed", n=60)
    make_collection(dst, "docs", "int-unnamed", n=60)
    target = open_endpoint(dst)
    p = target.retrieve("docs", [4])[0]
    p.payload = {**(p.payload or {}), "title": "changed"}
    target.write("docs", [p])
    rep = verify_live(open_endpoint(src), target, full=True)
    assert rep.status == "failed"
    assert rep.collections[0].differences[0]["id"] == "4"
    assert rep.collections[0].differences[0]["kind"] == "payload"


def test_cli_backup_restore_verify_with_edge(tmp_path: Path) -> None:
    src = f"edge:{tmp_path}/src"
    make_collection(src, "docs", "sparse", n=40)
    runner = CliRunner()
    res = runner.invoke(app, ["backup", "--source", src, "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--target", f"edge:{tmp_path}/dst"])
    assert res.exit_code == 0, res.output
    assert "optimize()" in res.output
    res = runner.invoke(app, ["verify", "--source", src, "--target", f"edge:{tmp_path}/dst", "--full"])
    assert res.exit_code == 0, res.output
    # an edge: URI naming a file is bad usage
    (tmp_path / "f").write_text("x")
    res = runner.invoke(app, ["backup", "--source", f"edge:{tmp_path}/f", "--backup-path", str(tmp_path / "bk2")])
    assert res.exit_code == 2
    assert "is a file" in res.output
