"""Read-only endpoints over other vector databases, opened by URI (docs/sources.md).

``chroma:PATH``, ``chroma+http(s)://host:port``, ``lancedb:PATH``, ``faiss:INDEX_FILE``, ``milvus:FILE.db``, ``postgresql://...?table=T`` (pgvector), each with optional ``?key=value``
settings: ``id_key`` (where a mapped id's original goes, default ``_source_id``), ``distance``
(override the metric), and per source ``document_key`` (chroma), ``id`` (lancedb, faiss: the id
column) and ``sidecar`` (faiss).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl

from qdrant_ops.endpoints.sources.base import DEFAULT_ID_KEY, SourceEndpoint
from qdrant_ops.errors import UsageError

CHROMA_TOKEN = "CHROMA_TOKEN"
SCHEMES = ("chroma", "chroma+http", "chroma+https", "lancedb", "faiss", "milvus", "postgresql", "postgres")
_OPTIONS = {
    "chroma": {"id_key", "distance", "document_key"},
    "chroma+http": {"id_key", "distance", "document_key", "tenant", "database"},
    "chroma+https": {"id_key", "distance", "document_key", "tenant", "database"},
    "lancedb": {"id_key", "distance", "id"},
    "faiss": {"id_key", "distance", "id", "sidecar"},
    "milvus": {"id_key", "distance"},
}


def is_source_uri(uri: str) -> bool:
    scheme, sep, _ = uri.partition(":")
    return bool(sep) and scheme in SCHEMES


def split_source_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """``(scheme, path, options)`` of a source URI, refusing unknown options."""
    scheme, _, rest = uri.partition(":")
    if scheme in ("postgresql", "postgres"):
        return scheme, rest, {}  # the connection URI's own options are parsed by the source
    path, _, query = rest.partition("?")
    if not path:
        raise UsageError(f"{uri}: no path after {scheme}:")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    unknown = sorted(set(options) - _OPTIONS[scheme])
    if unknown:
        raise UsageError(f"{uri}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(_OPTIONS[scheme]))})")
    return scheme, path, options


def open_source(uri: str) -> SourceEndpoint:
    """A read-only endpoint for a source URI (``is_source_uri``).

    A Chroma server's token comes from ``CHROMA_TOKEN``, never from ``--api-key``: that key is
    the Qdrant endpoints' and must not be sent to another service."""
    scheme, path, o = split_source_uri(uri)
    id_key = o.get("id_key", DEFAULT_ID_KEY)
    if scheme in ("chroma+http", "chroma+https"):
        from urllib.parse import urlsplit

        from qdrant_ops.endpoints.sources.chroma import ChromaSource

        parts = urlsplit("http:" + path)
        if not parts.hostname:
            raise UsageError(f"{scheme}:{path}: no host")
        ssl = scheme == "chroma+https"
        server = (parts.hostname, parts.port or (443 if ssl else 8000), ssl)
        return ChromaSource("", id_key=id_key, document_key=o.get("document_key") or "document",
                            distance=o.get("distance"), server=server, tenant=o.get("tenant"),
                            database=o.get("database"), token=os.environ.get(CHROMA_TOKEN) or None)
    if scheme in ("postgresql", "postgres"):
        from qdrant_ops.endpoints.sources.pgvector import PgvectorSource

        return PgvectorSource(uri)
    if scheme == "chroma":
        from qdrant_ops.endpoints.sources.chroma import ChromaSource

        return ChromaSource(path, id_key=id_key, document_key=o.get("document_key") or "document",
                            distance=o.get("distance"))
    if scheme == "lancedb":
        from qdrant_ops.endpoints.sources.lancedb import LanceDBSource

        return LanceDBSource(path, id_key=id_key, id_column=o.get("id") or "id", distance=o.get("distance"))
    if scheme == "milvus":
        from qdrant_ops.endpoints.sources.milvus import MilvusSource

        return MilvusSource(path, id_key=id_key, distance=o.get("distance"))
    from qdrant_ops.endpoints.sources.faiss import FaissSource

    return FaissSource(path, id_key=id_key, sidecar=o.get("sidecar"), id_column=o.get("id") or "id",
                       distance=o.get("distance"))


__all__ = ["SCHEMES", "SourceEndpoint", "is_source_uri", "open_source"]
