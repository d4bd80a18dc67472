"""A native snapshot downloaded to an s3:// output: checked locally, then sent to the store.

The snapshot is served by a plain local HTTP file server (the snapshot download is an HTTP GET);
the object store is the loopback S3 server.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from qdrant_ops.errors import IntegrityError
from qdrant_ops.snapshot.commands import Node, SnapshotItem, _fetch, _out_dir
from qdrant_ops.snapshot.config import SnapshotConfig
from qdrant_ops.snapshot.http import snapshot_path

NAME = "docs-1-2026-01-01-00-00-00.snapshot"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    root = tmp_path / "www"
    path = root / snapshot_path("docs", NAME).lstrip("/")
    path.parent.mkdir(parents=True)
    data = bytes(range(256)) * 4000
    path.write_bytes(data)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", data
    finally:
        server.shutdown()
        server.server_close()


def test_snapshot_download_to_s3(served: tuple[str, bytes], s3: Any, s3_url: str, tmp_path: Path) -> None:
    base, data = served
    cfg = SnapshotConfig(output=s3_url)
    item = SnapshotItem(collection="docs", node=base, name=NAME, checksum=hashlib.sha256(data).hexdigest())
    dest = _out_dir(cfg, "docs")
    _fetch(cfg, Node(base, None, None), item, dest)
    assert item.verified and item.path == f"{s3_url}/docs/127.0.0.1-{NAME}"
    bucket, _, prefix = s3_url[len("s3://"):].partition("/")
    assert s3.get_object(Bucket=bucket, Key=f"{prefix}/docs/127.0.0.1-{NAME}")["Body"].read() == data
    assert not [p for p in dest.iterdir() if p.is_file()]  # the staged copy is gone


def test_bad_checksum_sends_nothing(served: tuple[str, bytes], s3: Any, s3_url: str) -> None:
    base, _ = served
    cfg = SnapshotConfig(output=s3_url)
    item = SnapshotItem(collection="docs", node=base, name=NAME, checksum="0" * 64)
    with pytest.raises(IntegrityError):
        _fetch(cfg, Node(base, None, None), item, _out_dir(cfg, "docs"))
    bucket, _, prefix = s3_url[len("s3://"):].partition("/")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) == 0


def test_edge_backup_with_snapshot_to_s3_then_convert_to_s3(s3_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``backup --snapshot`` sends the shard tar with the Parquet files; ``snapshot convert --to``
    an s3:// root writes a backup there; both verify."""
    from typer.testing import CliRunner

    from datagen import make_collection
    from qdrant_ops.cli import app
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.data.verify import verify_backup
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    src = f"edge:{tmp_path}/src"
    make_collection(src, "docs", "sparse", n=80)
    rep = backup(BackupConfig(source=endpoint_from_uri(src), backup_path=s3_url, snapshot=True))
    assert rep.status == "ok" and rep.collections[0].snapshots == 1
    local = backup(BackupConfig(source=endpoint_from_uri(src), backup_path=str(tmp_path / "bk"), snapshot=True))
    snap = Path(local.backup_dir) / "docs" / "snapshot-edge-docs.tar"
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["snapshot", "convert", str(snap), "--to", f"{s3_url}/converted"])
    assert res.exit_code == 0, res.stderr
    assert not (tmp_path / "s3:").exists()  # no local directory named after the URL
    assert verify_backup(f"{s3_url}/converted").status == "ok"
    assert verify_backup(rep.backup_dir).status == "ok"
