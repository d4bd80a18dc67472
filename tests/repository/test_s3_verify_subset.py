"""``verify --read-data-subset`` of an s3:// backup: only the sampled files are fetched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import EXIT_CHECK_FAILED
from qdrant_ops.repository.location import open_location

runner = CliRunner()
MEM = ":memory:"


def test_s3_fetches_only_the_sample(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_ops.repository import store

    make_collection(MEM, "a", "int-unnamed", n=150)
    cfg = BackupConfig(backup_path=s3_url, source=endpoint_from_uri(MEM), collections=["a"], batch_size=10, rows_per_file=20,
                       verify_integrity=False)
    url = backup(cfg).backup_dir
    fetched: list[str] = []
    real = store.download

    def counting(loc: Any, rel: str, local: Path) -> None:
        fetched.append(rel)
        real(loc, rel, local)

    monkeypatch.setattr(store, "download", counting)
    reads = []
    for n in (1, 2):
        res = runner.invoke(app, ["verify", url, "--read-data-subset", f"{n}/2", "--json"])
        assert res.exit_code == 0, res.stderr
        reads.append(json.loads(res.stdout))
    assert len(fetched) == sum(r["files_read"] for r in reads) == reads[0]["files_total"] > 2
    assert len(set(fetched)) == len(fetched)  # each file fetched by one part only

    key = fetched[0]
    s3 = open_location(url)
    with s3.fs.open_output_stream(s3.key(key)) as out:
        out.write(b"\0" * 10)
    res = runner.invoke(app, ["verify", url, "--read-data-subset", "2"])
    assert res.exit_code == EXIT_CHECK_FAILED and key in res.stdout  # caught by its size alone
