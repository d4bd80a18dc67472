"""Qdrant through qdrant-client: a server (REST or gRPC), an embedded local-mode store, or ``:memory:``.

Everything goes through qdrant-client's public API, so the same code serves a remote server and
the embedded engines. Local mode is not thread-safe, so its calls are serialised by a lock.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from qdrant_ops.endpoints.base import (
    CollectionSpec,
    EndpointInfo,
    Offset,
    Point,
    PointId,
    ScanPage,
    columns_from_records,
)
from qdrant_ops.endpoints.qdrant_requests import (
    local_mode_drops,
    payload_indexes,
    points_request,
    spec_to_create_kwargs,
)
from qdrant_ops.endpoints.uri import EndpointConfig, ResolvedEndpoint
from qdrant_ops.errors import (
    EndpointError,
    NotFoundError,
    QdrantOpsError,
    TransientEndpointError,
    is_transient,
)
from qdrant_ops.pipeline.retry import RetryPolicy, call_with_retry
from qdrant_ops.secrets import register_secret

log = logging.getLogger(__name__)
T = TypeVar("T")

_MIN_SLICE_VERSION = (1, 19)
# Metadata calls (info, exists, count, create...) retry transient failures like writes do; the
# first contact retries less, so that an unreachable server is reported within a second.
_META_RETRY = RetryPolicy()
_FIRST_CONTACT_RETRY = RetryPolicy(max_retries=3, base_delay=0.1)
# Ids listed per call by a local-mode scan (``QdrantEndpoint._scan_by_ids``), and the collection
# size, in pages, from which that scan is used: listing ids costs more than it saves on a
# collection of a few pages.
ID_CHUNK = 16_384
BY_IDS_MIN_PAGES = 8


def _version_tuple(v: str | None) -> tuple[int, ...]:
    out: list[int] = []
    for part in (v or "").split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def make_client(cfg: EndpointConfig, where: ResolvedEndpoint | None = None) -> Any:
    """A QdrantClient for an endpoint config (any form but ``edge:``); ``where`` is its
    ``cfg.resolve()`` when the caller holds it already."""
    from qdrant_client import QdrantClient

    where = where or cfg.resolve()

    api_key = cfg.api_key.get_secret_value() if cfg.api_key else None
    register_secret(api_key)
    common: dict[str, Any] = {"check_compatibility": False}  # info() reports the version
    if cfg.timeout is not None:
        common["timeout"] = int(cfg.timeout) if cfg.timeout >= 1 else 1
    if where.kind == "memory":
        return QdrantClient(location=":memory:")
    if where.kind == "local":
        return QdrantClient(path=where.location)
    if cfg.host:
        return QdrantClient(
            host=cfg.host,
            port=cfg.port or 6333,
            grpc_port=cfg.grpc_port or 6334,
            https=cfg.https,
            prefer_grpc=cfg.prefer_grpc,
            api_key=api_key,
            **common,
        )
    url = cfg.url or ""
    parts = urlsplit(url)
    if parts.scheme in ("grpc", "grpcs"):
        return QdrantClient(
            host=parts.hostname,
            grpc_port=parts.port or 6334,
            prefer_grpc=True,
            https=parts.scheme == "grpcs",
            api_key=api_key,
            **common,
        )
    return QdrantClient(url=url, prefer_grpc=cfg.prefer_grpc, api_key=api_key, **common)


class QdrantEndpoint:
    """The Endpoint protocol over a qdrant-client ``QdrantClient``."""

    def __init__(self, client: Any, display: str, kind: str) -> None:
        self.client = client
        self.display = display
        self.kind = kind
        self.embedded = kind in ("local", "memory")
        self._lock: threading.RLock | None = threading.RLock() if self.embedded else None
        self._info: EndpointInfo | None = None

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T], what: str) -> T:
        try:
            if self._lock is not None:
                with self._lock:
                    return fn()
            return fn()
        except QdrantOpsError:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if is_transient(exc):
                raise TransientEndpointError(f"{self.display}: {what} failed: {text}") from exc
            raise
        # (non-transient client errors propagate unchanged: callers classify them)

    def _meta(self, fn: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
        """``_call`` for a metadata call, retried when transient (scroll and upsert are retried
        by their callers, which know where to resume)."""
        return call_with_retry(lambda: self._call(fn, what), policy or _META_RETRY, what=what)

    # -- protocol ----------------------------------------------------------------------------

    def info(self) -> EndpointInfo:
        if self._info is not None:
            return self._info
        version: str | None = None
        try:
            version = str(self._meta(lambda: self.client.info().version, "info", _FIRST_CONTACT_RETRY))
        except EndpointError as exc:
            raise EndpointError(f"cannot reach {self.display}: {unreachable_reason(exc.__cause__ or exc)}") from None
        except QdrantOpsError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here means unreachable
            raise EndpointError(f"cannot reach {self.display}: {unreachable_reason(exc)}") from None
        if self.embedded:
            from qdrant_client import models

            supports = hasattr(models, "SliceCondition")
            version = f"local-mode (qdrant-client {version})"
        else:
            supports = _version_tuple(version) >= _MIN_SLICE_VERSION
        self._info = EndpointInfo(self.kind, self.display, version, supports)
        return self._info

    def list_collections(self) -> list[str]:
        self.info()
        res = self._meta(self.client.get_collections, "list collections")
        return sorted(c.name for c in res.collections)

    def collection_exists(self, name: str) -> bool:
        return bool(self._meta(lambda: self.client.collection_exists(name), "collection_exists"))

    def get_spec(self, name: str) -> CollectionSpec:
        if not self.collection_exists(name):
            raise NotFoundError(f"collection {name!r} does not exist at {self.display}")
        info = self._meta(lambda: self.client.get_collection(name), "get collection")
        config = json.loads(info.config.model_dump_json(exclude_none=True))
        payload_schema = {
            k: json.loads(v.model_dump_json(exclude_none=True))
            for k, v in (info.payload_schema or {}).items()
        }
        aliases = sorted(a for a, c in self.aliases().items() if c == name)
        return CollectionSpec(
            name=name,
            config=config,
            payload_schema=payload_schema,
            aliases=aliases,
            points_count=self.count(name),
        )

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        kwargs = spec_to_create_kwargs(spec)
        tried: list[bool] = []

        def create() -> None:
            # A retry after a lost response finds the collection created: that is success.
            if tried and self.client.collection_exists(name):
                return
            tried.append(True)
            self.client.create_collection(name, **kwargs)

        self._meta(create, "create collection")
        for field_name, field_schema in payload_indexes(spec):
            if self.embedded:
                continue  # local mode ignores payload indexes (and warns); nothing to create
            self._create_index(name, field_name, field_schema)
        if self.embedded:
            dropped = local_mode_drops(spec, self._meta(lambda: self.client.get_collection(name), "get collection"))
            if dropped:
                log.warning(
                    "%s: local mode does not hold %s (qdrant-client's local mode keeps vectors, "
                    "sparse vectors and metadata; a server keeps the rest)", name, ", ".join(dropped)
                )

    def _create_index(self, name: str, field_name: str, field_schema: Any) -> None:
        self._meta(
            lambda: self.client.create_payload_index(
                name, field_name=field_name, field_schema=field_schema, wait=True
            ),
            "create payload index",
        )

    def delete_collection(self, name: str) -> None:
        self._meta(lambda: self.client.delete_collection(name), "delete collection")

    def count(self, name: str) -> int:
        res = self._meta(lambda: self.client.count(name, exact=True), "count")
        return int(res.count)

    def indexed_vectors(self, name: str) -> int:
        """Vectors in an ANN (HNSW) index; 0 where search scans every vector (local mode has no
        index; a server collection under its indexing threshold has none yet)."""
        if self.embedded:
            return 0
        info = self._meta(lambda: self.client.get_collection(name), "get collection")
        return int(info.indexed_vectors_count or 0)

    def scan(
        self,
        name: str,
        *,
        batch_size: int,
        slice_: tuple[int, int] | None = None,
        offset: Offset = None,
        with_vectors: bool = True,
    ) -> Iterator[ScanPage]:
        from qdrant_client import models

        flt = None
        if slice_ is not None and slice_[1] > 1:
            index, total = slice_
            flt = models.Filter(
                must=[models.SliceCondition(slice=models.Slice(total=total, index=index))]
            )
        if self.embedded and flt is None and self.count(name) > BY_IDS_MIN_PAGES * batch_size:
            yield from self._scan_by_ids(name, batch_size, offset, with_vectors)
            return
        current = offset
        while True:
            records, nxt = self._scroll(name, batch_size, current, flt, with_vectors)
            got = len(records)
            # The page's records are not held here while the next page is scrolled.
            page = ScanPage(columns=columns_from_records(records), next_offset=nxt)
            del records
            yield page
            del page
            if nxt is None or not got:
                return
            current = nxt

    def _scan_by_ids(
        self, name: str, batch_size: int, offset: Offset, with_vectors: bool
    ) -> Iterator[ScanPage]:
        """A scan of local mode in id order: ids listed by an ids-only scroll, points fetched by
        ``retrieve``, ``batch_size`` at a time; each page's ``next_offset`` is the id after it.

        Local mode sorts every id of the collection and walks them from the first on each scroll
        call, so scrolling page by page costs pages × collection size. ``retrieve`` looks points
        up by id, at no cost per call; the listing scroll takes about ``ID_CHUNK`` ids a call, a
        whole number of pages (an ids-only record is small, so a chunk weighs about what a page
        does).

        The first page is scrolled (one call, as the listing's first would be): a caller that
        reads one page (migrate's sample) lists nothing.
        """
        records, current = self._scroll(name, batch_size, offset, None, with_vectors)
        got = len(records)
        page = ScanPage(columns=columns_from_records(records), next_offset=current)
        del records  # no page's records are held here while the next is read
        yield page
        del page
        if current is None or not got:
            return
        chunk = batch_size * max(1, ID_CHUNK // batch_size)  # whole pages: none is cut short
        while True:
            listed, after = self._scroll(name, chunk, current, None, False, with_payload=False)
            ids = [r.id for r in listed]
            del listed
            if not ids:
                yield ScanPage(columns=columns_from_records([]), next_offset=None)
                return
            for start in range(0, len(ids), batch_size):
                part = ids[start : start + batch_size]
                records = self._call(
                    lambda: self.client.retrieve(
                        name, ids=part, with_payload=True, with_vectors=with_vectors
                    ),
                    "retrieve",
                )
                end = start + batch_size
                nxt = ids[end] if end < len(ids) else after
                page = ScanPage(columns=columns_from_records(records), next_offset=nxt)
                del records
                yield page
                del page
            if after is None:
                return
            current = after

    def _scroll(
        self,
        name: str,
        limit: int,
        offset: Offset,
        flt: Any,
        with_vectors: bool,
        *,
        with_payload: bool = True,
    ) -> tuple[list[Any], Offset]:
        result: tuple[list[Any], Offset] = self._call(
            lambda: self.client.scroll(
                name,
                limit=limit,
                offset=offset,
                scroll_filter=flt,
                with_payload=with_payload,
                with_vectors=with_vectors,
            ),
            "scroll",
        )
        return result

    def retrieve(self, name: str, ids: Sequence[PointId]) -> list[Point]:
        recs = self._meta(
            lambda: self.client.retrieve(name, ids=list(ids), with_payload=True, with_vectors=True),
            "retrieve",
        )
        return columns_from_records(recs).to_points()

    def write(self, name: str, points: Sequence[Point]) -> None:
        request = points_request(points)
        self._call(lambda: self.client.upsert(name, points=request, wait=True), "upsert")

    def set_alias(self, alias: str, collection: str) -> None:
        from qdrant_client import models

        def move() -> None:
            # Looked up on every attempt, so a retry after a lost response stays correct.
            current = {a.alias_name for a in self.client.get_aliases().aliases}
            ops: list[Any] = []
            if alias in current:
                ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            ops.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
                )
            )
            self.client.update_collection_aliases(change_aliases_operations=ops)

        self._meta(move, "alias")

    def aliases(self) -> dict[str, str]:
        res = self._meta(self.client.get_aliases, "get aliases")
        return {a.alias_name: a.collection_name for a in res.aliases}

    # -- optional capabilities (not in the Endpoint protocol; callers check with hasattr) -------

    def update_metadata(self, name: str, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the collection's metadata (top-level keys replaced)."""
        self._meta(lambda: self.client.update_collection(name, metadata=metadata), "update metadata")

    def delete_alias(self, alias: str) -> None:
        from qdrant_client import models

        op = models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
        self._call(lambda: self.client.update_collection_aliases(change_aliases_operations=[op]), "alias")

    def close(self) -> None:
        try:
            self.client.close()
        except Exception as exc:  # noqa: BLE001 - closing must never hide the real outcome
            log.debug("closing %s: %s", self.display, exc)


_REASONS = (
    ("connection refused", "connection refused"),
    ("name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("temporary failure in name resolution", "unknown host"),
    ("dns resolution failed", "unknown host"),
    ("timed out", "timed out"),
    ("deadline exceeded", "timed out"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("ssl", "TLS handshake failed"),
)


def unreachable_reason(exc: BaseException) -> str:
    """Why a first contact failed, in words (a gRPC error's repr spans lines and says little)."""
    details = getattr(exc, "details", None)
    text = ""
    if callable(details):
        try:
            text = str(details() or "")
        except Exception:  # noqa: BLE001 - a broken error object: fall back to its text
            text = ""
    text = text or str(exc)
    low = text.lower()
    for needle, reason in _REASONS:
        if needle in low:
            return reason
    return _first_line(exc) if not text.strip() else text.strip().splitlines()[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
