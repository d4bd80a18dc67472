"""Read-only endpoints over other vector databases, opened by URI (docs/sources.md).

``chroma:PATH``, ``chroma+http(s)://host:port``, ``lancedb:PATH``, ``faiss:INDEX_FILE``, ``milvus:FILE.db``,
``milvus+http(s)://[user:password@]host:port``, ``postgresql://...?table=T`` (pgvector), each with
optional ``?key=value`` settings: ``id_key`` (where a mapped id's original goes, default
``_source_id``), ``distance`` (override the metric), and per source ``document_key`` (chroma),
``id`` (lancedb, faiss: the id column), ``sidecar`` (faiss), ``tenant`` / ``database`` (a Chroma
server), ``database`` / ``partitions`` / ``timeout`` / ``load`` / ``ca`` (a Milvus server).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from qdrant_ops.endpoints.sources.base import DEFAULT_ID_KEY, SourceEndpoint
from qdrant_ops.errors import UsageError
from qdrant_ops.secrets import register_secret

if TYPE_CHECKING:
    from qdrant_ops.endpoints.sources.milvus import MilvusServer

CHROMA_TOKEN = "CHROMA_TOKEN"
MILVUS_TOKEN = "MILVUS_TOKEN"
SCHEMES = ("chroma", "chroma+http", "chroma+https", "lancedb", "faiss", "milvus", "milvus+http", "milvus+https",
           "postgresql", "postgres")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_MILVUS_SERVER = {"id_key", "distance", "database", "partitions", "timeout", "load", "ca"}
_OPTIONS = {
    "chroma": {"id_key", "distance", "document_key"},
    "chroma+http": {"id_key", "distance", "document_key", "tenant", "database"},
    "chroma+https": {"id_key", "distance", "document_key", "tenant", "database"},
    "lancedb": {"id_key", "distance", "id"},
    "faiss": {"id_key", "distance", "id", "sidecar"},
    "milvus": {"id_key", "distance"},
    "milvus+http": _MILVUS_SERVER,
    "milvus+https": _MILVUS_SERVER,
}


def is_source_uri(uri: str) -> bool:
    scheme, sep, _ = uri.partition(":")
    return bool(sep) and scheme in SCHEMES


def split_source_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """``(scheme, path, options)`` of a source URI, refusing unknown options."""
    scheme, _, rest = uri.partition(":")
    if rest.startswith("//"):  # a server URI: mask its password before any message can show it
        register_secret(unquote(urlsplit(rest.partition("?")[0]).password or ""))
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
    if scheme in ("milvus+http", "milvus+https"):
        from qdrant_ops.endpoints.sources.milvus import MilvusSource

        return MilvusSource("", id_key=id_key, distance=o.get("distance"), server=milvus_server(scheme, path, o))
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


def milvus_server(scheme: str, path: str, o: dict[str, str]) -> MilvusServer:
    """A Milvus server's address from ``milvus+http(s)://[user:password@]host[:port]`` and its options.

    The credentials are the URI's ``user:password`` (or a lone token in the user part), else
    ``MILVUS_TOKEN``; never ``--api-key``, which is the Qdrant endpoints' own."""
    from qdrant_ops.endpoints.sources.milvus import DEFAULT_PORT, MilvusServer

    http = scheme.removeprefix("milvus+")
    try:
        parts = urlsplit("http:" + path)
        port = parts.port or (DEFAULT_PORT if http == "http" else 443)  # pymilvus's own defaults
    except ValueError as exc:  # a port that is not a number, a malformed IPv6 host
        raise UsageError(f"{scheme}: malformed address: {exc}") from None
    if not parts.hostname:
        raise UsageError(f"{scheme}: no host (milvus+http://HOST:19530)")
    if parts.path not in ("", "/"):
        raise UsageError(f"{scheme}://{parts.hostname}:{port}: a database is named with ?database=, not a path")
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = f"{user}:{password}" if password else user
    token = token or os.environ.get(MILVUS_TOKEN, "")
    register_secret(token)
    register_secret(password)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    database = o.get("database", "")
    display = f"{scheme}://{host}:{port}" + (f"?database={database}" if database else "")
    try:
        timeout = float(o.get("timeout") or 10)
    except ValueError:
        raise UsageError(f"{display}: timeout= takes seconds, not {o['timeout']!r}") from None
    if not timeout > 0:
        raise UsageError(f"{display}: timeout= must be more than 0 seconds")
    partitions = [p for p in (o.get("partitions") or "").split(",") if p]
    load = (o.get("load") or "false").lower()
    if load not in _BOOLEANS:
        raise UsageError(f"{display}: load= takes true or false, not {o['load']!r}")
    ca = o.get("ca", "")
    if ca and http != "https":
        raise UsageError(f"{display}: ca= is for milvus+https://")
    if ca and not os.path.isfile(ca):
        raise UsageError(f"{display}: ca={ca}: no such file")
    return MilvusServer(f"{http}://{host}:{port}", display, token=token, database=database,
                        partitions=partitions, timeout=timeout, load=_BOOLEANS[load], ca=ca)


__all__ = ["SCHEMES", "SourceEndpoint", "is_source_uri", "open_source"]
