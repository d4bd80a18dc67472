"""Streaming snapshot download and its sha256 check, against a plain local HTTP file server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import IntegrityError, NotFoundError, UnsupportedError
from qdrant_ops.snapshot.commands import peer_rest_urls, refuse_embedded
from qdrant_ops.snapshot.http import download, rest_base, snapshot_path, upload_url

SEEN_HEADERS: list[dict[str, str]] = []


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        SEEN_HEADERS.append(dict(self.headers.items()))
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    root = tmp_path / "www"
    path = root / snapshot_path("my docs", "docs-1-2026-01-01-00-00-00.snapshot").lstrip("/").replace("%20", " ")
    path.parent.mkdir(parents=True)
    data = bytes(range(256)) * 9000  # ~2.3 MB: several chunks
    path.write_bytes(data)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", data
    finally:
        server.shutdown()
        server.server_close()


def test_download_streams_and_checks_sha256(served: tuple[str, bytes], tmp_path: Path) -> None:
    base, data = served
    url = base + snapshot_path("my docs", "docs-1-2026-01-01-00-00-00.snapshot")
    good = hashlib.sha256(data).hexdigest()
    SEEN_HEADERS.clear()
    got = download(url, tmp_path / "out" / "x.snapshot", api_key="s3cret", expected_sha256=good.upper())
    assert got.verified and got.sha256 == good and got.bytes == len(data)
    assert (tmp_path / "out" / "x.snapshot").read_bytes() == data
    assert SEEN_HEADERS[-1].get("api-key") == "s3cret"
    assert not list((tmp_path / "out").glob("*.partial"))


def test_download_with_wrong_checksum_keeps_nothing(served: tuple[str, bytes], tmp_path: Path) -> None:
    base, _ = served
    url = base + snapshot_path("my docs", "docs-1-2026-01-01-00-00-00.snapshot")
    with pytest.raises(IntegrityError, match="differs from the server's checksum"):
        download(url, tmp_path / "dl" / "x.snapshot", expected_sha256="0" * 64)
    assert list((tmp_path / "dl").iterdir()) == []


def test_download_missing_and_unreachable(served: tuple[str, bytes], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(NotFoundError, match="404"):
        download(base + snapshot_path("docs", "nope.snapshot"), tmp_path / "dl" / "n.snapshot")
    from qdrant_ops.errors import TransientEndpointError

    with pytest.raises(TransientEndpointError):
        download("http://127.0.0.1:9/x", tmp_path / "dl" / "n.snapshot", timeout=2)
    assert list((tmp_path / "dl").iterdir()) == []


def test_paths_urls_and_nodes() -> None:
    assert snapshot_path("a/b", "s 1", 3) == "/collections/a%2Fb/shards/3/snapshots/s%201"
    u = upload_url("http://h:6333/", "docs", shard_id=None, priority="replica", checksum="ab")
    assert u == "http://h:6333/collections/docs/snapshots/upload?wait=true&priority=replica&checksum=ab"
    assert rest_base("grpc://h:6334", None, None, None) == "http://h:6333"
    assert rest_base(None, "h", 7000, True) == "https://h:7000"
    assert rest_base("https://user:pw@h:6333/", None, None, None) == "https://h:6333"
    peers = {"1": "http://qdrant-0.qdrant:6335", "2": "http://qdrant-1.qdrant:6335"}
    assert peer_rest_urls(peers, "https://qdrant-0.qdrant:6333") == [
        "https://qdrant-0.qdrant:6333",
        "https://qdrant-1.qdrant:6333",
    ]


@pytest.mark.parametrize("uri", [":memory:", "/tmp/some-local-store", "edge:/tmp/some-edge"])
def test_embedded_stores_are_refused(uri: str) -> None:
    with pytest.raises(UnsupportedError, match="embedded stores have no native snapshots") as err:
        refuse_embedded(endpoint_from_uri(uri))
    assert err.value.exit_code == 2
