"""``--no-stamp`` / ``stamp: false``: no migration record in the target's metadata, so the target's
config is the source's (issue 25, failure 4: users' config-diff checks broke on the record)."""

from __future__ import annotations

import json
from pathlib import Path

from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()


def _source(path: Path) -> None:
    client = QdrantClient(path=str(path))
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
        metadata={"team": "search", "rev": 3},
    )
    client.upsert("docs", [models.PointStruct(id=i, vector=[1.0, 0.5, 0.25, float(i)], payload={"i": i}) for i in range(20)])
    client.close()


def _configs(src: Path, dst: Path, name: str = "docs") -> tuple[dict[str, object], dict[str, object]]:
    close_all()
    a = open_endpoint(str(src)).get_spec(name).config
    b = open_endpoint(str(dst)).get_spec(name).config
    close_all()
    return a, b


def test_no_stamp_leaves_the_target_config_equal_to_the_source(tmp_path: Path) -> None:
    _source(tmp_path / "src")
    args = ["migrate", "--source", str(tmp_path / "src"), "--backup-path", str(tmp_path / "bk")]
    res = runner.invoke(app, [*args, "--target", str(tmp_path / "stamped")])
    assert res.exit_code == 0, res.output
    src, stamped = _configs(tmp_path / "src", tmp_path / "stamped")
    meta = stamped["metadata"]
    assert isinstance(meta, dict) and meta["team"] == "search"
    assert meta["migration"]["validation"] == "passed" and meta["migration"]["source_collection"] == "docs"

    res = runner.invoke(app, [*args, "--target", str(tmp_path / "plain"), "--no-stamp"])
    assert res.exit_code == 0, res.output
    src, plain = _configs(tmp_path / "src", tmp_path / "plain")
    assert plain == src


def test_stamp_false_in_the_config_file(tmp_path: Path) -> None:
    _source(tmp_path / "src")
    config = tmp_path / "migration.json"
    config.write_text(json.dumps({"stamp": False, "backup": False}))
    res = runner.invoke(app, ["migrate", "--source", str(tmp_path / "src"), "--target", str(tmp_path / "dst"),
                              "--config", str(config), "--backup-path", str(tmp_path / "state")])
    assert res.exit_code == 0, res.output
    src, dst = _configs(tmp_path / "src", tmp_path / "dst")
    assert dst["metadata"] == {"team": "search", "rev": 3}
    # validate without a record computes the expected content from the source, and passes
    res = runner.invoke(app, ["validate", "--source", str(tmp_path / "src"), "--target", str(tmp_path / "dst")])
    assert res.exit_code == 0, res.output
    close_all()
    assert "migration" not in open_endpoint(str(tmp_path / "dst")).get_spec("docs").metadata
