"""Chroma as a read-only source: ``chroma:PATH`` (an embedded ``PersistentClient`` store) or
``chroma+http://host:8000`` / ``chroma+https://...`` (a server: ``?tenant=``, ``?database=``, and
the API key, if any, sent as ``Authorization: Bearer``).

Each Chroma collection is one collection; its embeddings become the unnamed dense vector, its
metadata the payload's top-level keys, its document ``payload["document"]`` (``?document_key=``)
and its URI ``payload["uri"]``. ``hnsw:space`` maps ``cosine`` -> Cosine, ``ip`` -> Dot,
``l2`` -> Euclid. Pages come from ``collection.get(limit, offset)``, in Chroma's insertion order:
stable while the store is unchanged, so a rerun resumes at its offset.
"""

from __future__ import annotations

import math
import os
from typing import Any

from qdrant_ops.endpoints.sources.base import (
    DEFAULT_ID_KEY,
    SourceEndpoint,
    SourceRow,
    SourceTable,
    SourceVector,
    parse_distance,
)
from qdrant_ops.endpoints.sources.extras import require
from qdrant_ops.errors import EndpointError, NotFoundError, UnsupportedError

SPACES = {"cosine": "Cosine", "ip": "Dot", "l2": "Euclid"}


class ChromaSource(SourceEndpoint):
    engine = "chroma"
    sliceable = True  # positional slices over the insertion order

    def __init__(
        self, path: str, *, id_key: str = DEFAULT_ID_KEY, document_key: str = "document", distance: str | None = None,
        server: tuple[str, int, bool] | None = None, tenant: str | None = None, database: str | None = None,
        token: str | None = None,
    ) -> None:
        chromadb = require("chromadb", "chroma")
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        version = str(getattr(chromadb, "__version__", ""))
        if server is not None:
            host, port, ssl = server
            display = f"chroma+{'https' if ssl else 'http'}://{host}:{port}"
            super().__init__(display, id_key=id_key, version=version)
            extra: dict[str, Any] = {}
            if tenant:
                extra["tenant"] = tenant
            if database:
                extra["database"] = database
            try:
                self.client = chromadb.HttpClient(
                    host=host, port=port, ssl=ssl, settings=settings,
                    headers={"Authorization": f"Bearer {token}"} if token else None, **extra,
                )
                self.client.heartbeat()
            except chromadb.errors.NotFoundError as exc:  # an unknown tenant or database
                raise NotFoundError(f"{display}: {exc}") from None
            except (ValueError, OSError, chromadb.errors.ChromaError) as exc:  # "Could not connect to a Chroma server"
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise EndpointError(f"cannot reach {display}: {first}") from None
        else:
            if not os.path.isdir(path):
                raise NotFoundError(f"chroma:{path}: no Chroma store there (a read never creates one)")
            super().__init__(f"chroma:{path}", id_key=id_key, version=version)
            self.client = chromadb.PersistentClient(path=path, settings=settings)
        self.in_process = server is None
        self.document_key = document_key
        self.distance = parse_distance(distance, SPACES, self.display)

    def _collection(self, name: str) -> Any:
        return self.client.get_collection(name)

    def list_collections(self) -> list[str]:
        return sorted(c if isinstance(c, str) else c.name for c in self.client.list_collections())

    def describe(self, name: str) -> SourceTable:
        col = self._collection(name)
        space = str((col.metadata or {}).get("hnsw:space") or _config_space(col) or "l2")
        if space not in SPACES:
            raise UnsupportedError(f"{self.display} {name}: distance {space!r} has no Qdrant equivalent")
        first = col.get(limit=1, include=["embeddings"])
        emb = first.get("embeddings")
        size = len(emb[0]) if emb is not None and len(emb) else int(getattr(col, "_model", None) and col._model.dimension or 0)
        if not size:
            raise UnsupportedError(f"{self.display} {name}: an empty collection without a dimension cannot be mapped")
        distance = self.distance or SPACES[space]
        rules = [
            f"hnsw:space {space} -> {distance}" + (" (given with ?distance=)" if self.distance else ""),
            f"document -> payload[{self.document_key!r}], uri -> payload['uri'], metadata keys -> payload keys",
        ]
        return SourceTable(
            name=name, count=col.count(), vectors=[SourceVector("embedding", "", size, distance)],
            order="Chroma's insertion order (get with offset): stable while the store is unchanged",
            resumable=True, rules=rules,
        )

    def rows(self, name: str, offset: int, limit: int, with_vectors: bool) -> list[SourceRow]:
        include = ["documents", "metadatas", "uris"] + (["embeddings"] if with_vectors else [])
        got = self._collection(name).get(limit=limit, offset=offset, include=include)
        embs = got.get("embeddings") if with_vectors else None
        out: list[SourceRow] = []
        for i, cid in enumerate(got["ids"]):
            meta = dict((got.get("metadatas") or [None] * (i + 1))[i] or {})
            for key, value in (
                (self.document_key, (got.get("documents") or [None] * (i + 1))[i]),
                ("uri", (got.get("uris") or [None] * (i + 1))[i]),
            ):
                if value is None:
                    continue
                if key in meta:
                    raise UnsupportedError(
                        f"{self.display} {name}: record {cid!r} has a metadata key {key!r} too; "
                        "choose another with ?document_key=NAME"
                    )
                meta[key] = value
            vectors = {"embedding": embs[i]} if embs is not None else {}
            out.append(SourceRow(cid, vectors, meta))
        return out

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        res = self._collection(name).query(query_embeddings=[vector], n_results=k, include=["distances"])
        space = str((self._collection(name).metadata or {}).get("hnsw:space") or "l2")
        out = []
        for cid, d in zip(res["ids"][0], res["distances"][0], strict=True):
            # Chroma returns distances; Qdrant scores: 1 - d for cosine and ip, sqrt(d) for l2.
            score = math.sqrt(max(float(d), 0.0)) if space == "l2" else 1.0 - float(d)
            out.append((cid, score))
        return out


def _config_space(col: Any) -> str | None:
    cfg = getattr(col, "configuration", None) or {}
    hnsw = cfg.get("hnsw") if isinstance(cfg, dict) else None
    return str(hnsw.get("space")) if isinstance(hnsw, dict) and hnsw.get("space") else None
