"""The backup's Parquet files are readable as they are by other tools (DuckDB, pyarrow)."""

from __future__ import annotations

import json
from pathlib import Path

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.archive import load_manifest
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri


def test_duckdb_reads_backup_files(tmp_path: Path) -> None:
    import duckdb

    make_collection(":memory:", "docs", "sparse", n=90)
    make_collection(":memory:", "emails", "uuid-named", n=40)
    rep = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "bk")))
    root = Path(rep.backup_dir)
    con = duckdb.connect()
    n, = con.execute(f"SELECT count(*) FROM read_parquet('{root}/docs/*.parquet')").fetchone()  # type: ignore[misc]
    assert n == 90
    rows = con.execute(
        f"SELECT id_int, len(\"vector.dense\"), len(\"sparse.keywords\".indices), payload "
        f"FROM read_parquet('{root}/docs/*.parquet') ORDER BY id_int"
    ).fetchall()
    src = {p.id: p for page in open_endpoint(":memory:").scan("docs", batch_size=200) for p in page.points}
    for pid, dim, nnz, payload in rows:
        assert dim == 5
        assert nnz == len(src[pid].vectors["keywords"].indices)
        assert json.loads(payload) == src[pid].payload
    uuids = con.execute(f"SELECT id_uuid, id_int FROM read_parquet('{root}/emails/*.parquet')").fetchall()
    assert all(u is not None and i is None for u, i in uuids)
    manifest = load_manifest(root)
    assert manifest.data["format"] == "qdrant-ops-backup"
    assert manifest.collections["docs"].files[0].sha256
