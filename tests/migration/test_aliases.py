"""``migrate`` carries the sources' aliases onto the targets (issue 25, failure 2: restore
recreated aliases, migrate left the target with none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()


def _alias(client: QdrantClient, collection: str, alias: str) -> None:
    client.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias))])


def _store(path: Path, aliases: dict[str, list[str]]) -> None:
    client = QdrantClient(path=str(path))
    for name, names in aliases.items():
        client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
        client.upsert(name, [models.PointStruct(id=i, vector=[1.0, 2.0, 3.0, float(i)], payload={"i": i}) for i in range(10)])
        for a in names:
            _alias(client, name, a)
    client.close()


def _aliases(uri: str) -> dict[str, str]:
    close_all()
    out = open_endpoint(uri).aliases()
    close_all()
    return out


def _migrate(tmp: Path, target: str, *extra: str) -> tuple[int, str, dict[str, object]]:
    config = tmp / "migration.json"
    config.write_text(json.dumps({"target": {"collections": {"docs": {"name": "docs_v2"}}}}))
    report = tmp / "rep"
    res = runner.invoke(app, ["migrate", "--source", str(tmp / "src"), "--target", target, "-c", str(config),
                              "--backup-path", str(tmp / "bk"), "--report", str(report), *extra])
    data = json.loads((tmp / "rep.json").read_text()) if (tmp / "rep.json").exists() else {}
    return res.exit_code, res.output, data


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_aliases_move_with_their_collections(tmp_path: Path, kind: str) -> None:
    _store(tmp_path / "src", {"docs": ["docs_live", "docs_latest"], "other": ["other_a"]})
    target = str(tmp_path / "dst") if kind == "local" else f"edge:{tmp_path / 'dst'}"
    code, out, rep = _migrate(tmp_path, target)
    assert code == 0, out
    assert _aliases(target) == {"docs_live": "docs_v2", "docs_latest": "docs_v2", "other_a": "other"}
    moved = {m["alias"]: (c["target_name"], m["status"]) for c in rep["collections"] for m in c["aliases"]}  # type: ignore[attr-defined]
    assert moved == {"docs_live": ("docs_v2", "created"), "docs_latest": ("docs_v2", "created"),
                     "other_a": ("other", "created")}
    assert "| docs_live | docs | docs_v2 | - | created |" in (tmp_path / "rep.md").read_text()
    assert _aliases(str(tmp_path / "src"))["docs_live"] == "docs"  # the source keeps its own


def test_aliases_none_copies_nothing(tmp_path: Path) -> None:
    _store(tmp_path / "src", {"docs": ["docs_live"]})
    code, out, rep = _migrate(tmp_path, str(tmp_path / "dst"), "--aliases", "none")
    assert code == 0, out
    assert _aliases(str(tmp_path / "dst")) == {}
    assert any("--aliases none" in n for n in rep["notes"])  # type: ignore[attr-defined]
    res = runner.invoke(app, ["migrate", "--source", str(tmp_path / "src"), "--target", str(tmp_path / "x"),
                              "--aliases", "some"])
    assert res.exit_code == 2 and "--aliases takes copy or none" in res.output


def test_an_alias_pointing_elsewhere_is_refused_before_writing(tmp_path: Path) -> None:
    _store(tmp_path / "src", {"docs": ["docs_live"]})
    _store(tmp_path / "dst", {"legacy": ["docs_live"]})
    code, out, _ = _migrate(tmp_path, str(tmp_path / "dst"), "--dry-run")
    assert code == 1, out  # a plan the run would refuse fails the dry run
    assert "docs_live -> docs_v2: refused: the target's alias points at legacy" in out
    code, out, _ = _migrate(tmp_path, str(tmp_path / "dst"))
    assert code == 2, out
    assert "docs_live (points at legacy)" in out
    close_all()
    assert open_endpoint(str(tmp_path / "dst")).list_collections() == ["legacy"]
    assert not (tmp_path / "bk").exists() or not any((tmp_path / "bk").glob("2*"))
    code, out, rep = _migrate(tmp_path, str(tmp_path / "dst"), "--on-exists", "replace")
    assert code == 0, out
    assert _aliases(str(tmp_path / "dst")) == {"docs_live": "docs_v2"}
    [move] = rep["collections"][0]["aliases"]  # type: ignore[index]
    assert move["previous"] == "legacy" and move["status"] == "replaced (pointed at legacy)"


def test_same_store_leaves_aliases_and_switch_alias_keeps_its_meaning(tmp_path: Path) -> None:
    _store(tmp_path / "src", {"docs": ["docs_live", "docs_latest"]})
    src = str(tmp_path / "src")
    res = runner.invoke(app, ["migrate", "--source", src, "--target", src, "--format-version", "v2",
                              "--backup-path", str(tmp_path / "bk"), "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert _aliases(src) == {"docs_live": "docs", "docs_latest": "docs"}  # moving them is a cutover
    notes = json.loads((tmp_path / "rep.json").read_text())["notes"]
    assert any("one store" in n for n in notes)
    # Another store, --switch-alias: that alias moves by the cutover (recorded), the others are copied.
    code, out, rep = _migrate(tmp_path, str(tmp_path / "dst"), "--switch-alias", "docs_live", "--collections", "docs")
    assert code == 0, out
    assert rep["alias"] == "docs_live"
    assert _aliases(str(tmp_path / "dst")) == {"docs_live": "docs_v2", "docs_latest": "docs_v2"}
    close_all()
    cutovers = open_endpoint(str(tmp_path / "dst")).get_spec("docs_v2").metadata["cutovers"]
    assert [c["alias"] for c in cutovers] == ["docs_live"]
