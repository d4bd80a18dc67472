"""``edge:DIR``: Qdrant Edge, the real Qdrant engine in-process, one shard directory per collection.

Layout of ``DIR``::

    DIR/<collection>/           an Edge shard (edge_config.json, segments/, wal/); unsafe characters
                                in the name are percent-encoded as in backups
    DIR/qdrant-ops-edge.json    what Edge itself cannot hold: aliases (Edge has none), each
                                collection's name and the config carried for round trips
                                (shard/replication settings, WAL, strict mode, metadata)

Any directory under ``DIR`` that holds an Edge shard is a collection, so a shard copied in by hand
(or unpacked from a snapshot) is found too. Shards are opened on first use and flushed and closed
by ``close()``. Reads may run in parallel (Edge is thread-safe); opening, creating and deleting
shards is serialised. ``optimize()`` runs Edge's optimizers (HNSW build, merges) after bulk writes
and reports what it took.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from qdrant_ops._fs import atomic_write_text
from qdrant_ops.endpoints.archive import collection_dirname
from qdrant_ops.endpoints.base import (
    CollectionSpec,
    EndpointInfo,
    Offset,
    Point,
    PointId,
    ScanPage,
    columns_from_records,
)
from qdrant_ops.endpoints.edge.config import (
    EDGE_CONFIG_FILE,
    _q,
    edge_index_schema,
    edge_json_to_config,
    payload_schema_out,
    read_edge_json,
    refusals,
    spec_to_edge,
)
from qdrant_ops.endpoints.edge.records import advise_scan, id_out, point_to_edge, scroller, updater
from qdrant_ops.errors import (
    EndpointError,
    LockedError,
    NotFoundError,
    QdrantOpsError,
    TargetExistsError,
    UnsupportedError,
    UsageError,
)
from qdrant_ops.pipeline.heap import release_free_heap
from qdrant_ops.progress import NullProgress, ProgressSink

log = logging.getLogger(__name__)
T = TypeVar("T")

SIDECAR = "qdrant-ops-edge.json"
SIDECAR_FORMAT = "qdrant-ops-edge"
# From this many points optimize() runs in a child process (below, it takes a second or less).
CHILD_MIN_POINTS = 10_000

def edge_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qdrant-edge-py")
    except PackageNotFoundError:  # pragma: no cover - installed from source
        return "unknown"


def is_shard_dir(path: Path) -> bool:
    """True when ``path`` holds an Edge shard."""
    return path.is_dir() and ((path / EDGE_CONFIG_FILE).is_file() or (path / "segments").is_dir())


@dataclass
class OptimizeResult:
    """What ``optimize()`` did to one collection."""

    collection: str
    optimized: bool
    duration_s: float
    segments_before: int
    segments_after: int
    indexed_vectors: int
    points: int

    def describe(self) -> str:
        what = "optimized" if self.optimized else "already optimal"
        return (
            f"{self.collection}: Qdrant Edge optimize() {what} in {self.duration_s:.2f} s "
            f"(segments {self.segments_before} -> {self.segments_after}, "
            f"{self.indexed_vectors} indexed vectors, {self.points} points)"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_error(what: str, path: Path, exc: BaseException) -> QdrantOpsError:
    """Why a shard did not open; the engine's "Can't init WAL: Kind(WouldBlock)" means a lock."""
    text = _first_line(exc)
    if "WouldBlock" in text:
        return LockedError(f"Edge shard {path} is locked by another process (one process at a time may open it)")
    return EndpointError(f"cannot {what} Edge shard {path}: {text}")


class EdgeEndpoint:
    """The Endpoint protocol over a directory of Qdrant Edge shards."""

    def __init__(self, dir_path: str | Path) -> None:
        if not str(dir_path):
            raise UsageError("edge: needs a directory, e.g. edge:./vectors")
        self.root = Path(dir_path).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"{self.root} is a file, not an Edge store directory")
        if is_shard_dir(self.root):
            raise UsageError(
                f"{self.root} is one Edge shard; give its parent directory (edge:{self.root.parent})"
            )
        self.display = f"edge:{self.root}"
        self._shards: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._info: EndpointInfo | None = None

    # -- sidecar -------------------------------------------------------------------------------

    def _sidecar(self) -> dict[str, Any]:
        path = self.root / SIDECAR
        if not path.is_file():
            return {"format": SIDECAR_FORMAT, "version": 1, "aliases": {}, "collections": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EndpointError(f"{path}: unreadable: {_first_line(exc)}") from None
        if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
            raise EndpointError(f"{path}: not a {SIDECAR_FORMAT} file")
        data.setdefault("aliases", {})
        data.setdefault("collections", {})
        return data

    def _save_sidecar(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / SIDECAR, json.dumps(data, indent=2, sort_keys=True) + "\n")

    # -- plumbing ------------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        if not name or "/" in name or name in (".", ".."):
            raise UsageError(f"bad collection name {name!r}")
        with self._lock:
            known = self._sidecar()["collections"].get(name)
        dirname = known["dir"] if known else collection_dirname(name)
        return self.root / dirname

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._lock:
            shard = self._shards.get(name)
            if shard is not None:
                return shard
            path = self._dir(name)
            if not is_shard_dir(path):
                raise NotFoundError(f"collection {name!r} does not exist at {self.display}")
            try:
                shard = _q().EdgeShard.load(str(path))
            except QdrantOpsError:
                raise
            except Exception as exc:  # noqa: BLE001 - the engine raises plain errors
                raise _open_error("open", path, exc) from None
            self._shards[name] = shard
            return shard

    def _call(self, name: str, fn: Callable[[Any], T], what: str) -> T:
        shard = self._shard(name)
        try:
            return fn(shard)
        except QdrantOpsError:
            raise
        except Exception as exc:  # noqa: BLE001 - name the shard and the operation, keep the cause
            raise EndpointError(f"{self.display}: {what} on {name!r} failed: {_first_line(exc)}") from exc

    # -- protocol ------------------------------------------------------------------------------

    def info(self) -> EndpointInfo:
        if self._info is None:
            _q()
            self._info = EndpointInfo("edge", self.display, f"qdrant-edge {edge_version()}", True)
        return self._info

    def list_collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        with self._lock:
            by_dir = {v["dir"]: k for k, v in self._sidecar()["collections"].items()}
        names = [by_dir.get(d.name, unquote(d.name)) for d in self.root.iterdir() if is_shard_dir(d)]
        return sorted(names)

    def collection_exists(self, name: str) -> bool:
        return name in self._shards or is_shard_dir(self._dir(name))

    def get_spec(self, name: str) -> CollectionSpec:
        shard = self._shard(name)
        with self._lock:
            carried = self._sidecar()["collections"].get(name, {}).get("carried") or {}
            aliases = sorted(a for a, c in self._sidecar()["aliases"].items() if c == name)
        config = edge_json_to_config(read_edge_json(self._dir(name)), carried)
        try:
            info = shard.info()
        except Exception as exc:  # noqa: BLE001
            raise EndpointError(f"{self.display}: info on {name!r} failed: {_first_line(exc)}") from exc
        return CollectionSpec(
            name=name,
            config=config,
            payload_schema=payload_schema_out(info),
            aliases=aliases,
            points_count=self.count(name),
        )

    def refusals(self, spec: CollectionSpec) -> list[str]:
        """What of ``spec`` Edge cannot hold (``endpoints.preflight``); empty when it takes it."""
        return refusals(spec)

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        refused = refusals(spec)
        if refused:  # restore and migrate refuse earlier, before any collection is written
            raise UnsupportedError(f"{self.display} cannot hold collection {name!r}: {'; '.join(refused)}")
        config, carried = spec_to_edge(spec)
        # Every index is converted first: one Edge cannot hold refuses the collection before
        # its shard exists.
        indexes = [(f, edge_index_schema(s, f)) for f, s in sorted(spec.payload_schema.items())]
        path = self._dir(name)
        with self._lock:
            if is_shard_dir(path):
                raise TargetExistsError(f"collection {name!r} already exists at {self.display}")
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                shard = _q().EdgeShard.create(str(path), config)
            except Exception as exc:  # noqa: BLE001
                raise _open_error("create", path, exc) from None
            self._shards[name] = shard
            data = self._sidecar()
            data["collections"][name] = {"dir": path.name, "carried": carried}
            self._save_sidecar(data)
        if carried:
            log.info("%s: kept beside the Edge shard (Edge has no such settings): %s", name, sorted(carried))
        q = _q()
        for field_name, index in indexes:
            if index is not None:
                op = q.UpdateOperation.create_field_index(field_name, index)
                self._call(name, updater(op), "create payload index")

    def delete_collection(self, name: str) -> None:
        path = self._dir(name)
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            if not is_shard_dir(path):
                raise NotFoundError(f"collection {name!r} does not exist at {self.display}")
            shutil.rmtree(path)
            data = self._sidecar()
            data["collections"].pop(name, None)
            data["aliases"] = {a: c for a, c in data["aliases"].items() if c != name}
            self._save_sidecar(data)

    def count(self, name: str) -> int:
        q = _q()
        n = int(self._call(name, lambda s: s.count(q.CountRequest(exact=True)), "count"))
        # An exact count allocates in proportion to the shard on Edge's own threads, whose arenas
        # keep it once freed: handed back here (``pipeline.heap``).
        release_free_heap()
        return n

    def scan(
        self,
        name: str,
        *,
        batch_size: int,
        slice_: tuple[int, int] | None = None,
        offset: Offset = None,
        with_vectors: bool = True,
    ) -> Iterator[ScanPage]:
        q = _q()
        flt = None
        if slice_ is not None and slice_[1] > 1:
            index, total = slice_
            flt = q.Filter(must=[q.SliceCondition(total=total, index=index)])
        current: Offset = offset
        self._shard(name)  # a missing collection fails here, as before
        advise_scan(self._dir(name), vectors=with_vectors)
        while True:
            request = q.ScrollRequest(
                offset=current, limit=batch_size, filter=flt, with_payload=True, with_vector=with_vectors
            )
            records, nxt = self._call(name, scroller(request), "scroll")
            next_offset = id_out(nxt) if nxt is not None else None
            got = len(records)
            # Columns are built from the records on first use (a backup reads the vectors
            # straight into float32 instead: ``ScanPage.columns_with_matrix``). The page is not
            # held here while the next one is scrolled.
            page = ScanPage(records=records, id_out=id_out, next_offset=next_offset)
            del records
            yield page
            del page
            if next_offset is None or not got:
                return
            current = next_offset

    def retrieve(self, name: str, ids: Sequence[PointId]) -> list[Point]:
        recs = self._call(
            name, lambda s: s.retrieve(list(ids), with_payload=True, with_vector=True), "retrieve"
        )
        return columns_from_records(recs, id_out).to_points()

    def query(
        self,
        name: str,
        vector: Any,
        *,
        using: str = "",
        limit: int = 10,
        exact: bool = False,
        hnsw_ef: int | None = None,
    ) -> list[tuple[PointId, float]]:
        """Nearest neighbours of ``vector`` (dense or multi) in vector ``using`` ("" = unnamed).

        Approximate (Edge's HNSW index where one is built, see ``optimize()``) by default; a full
        scan with ``exact=True``. Returns ``(id, score)`` pairs, best first, as validation expects.
        """
        if limit <= 0:
            raise UsageError(f"query limit must be positive, not {limit}")
        q = _q()
        if hasattr(vector, "tolist"):
            vector = vector.tolist()
        elif isinstance(vector, list) and vector and hasattr(vector[0], "tolist"):
            vector = [v.tolist() for v in vector]
        request = q.QueryRequest(
            limit=limit,
            query=q.Query.Nearest(vector, using=using or None),
            with_vector=False,
            with_payload=False,
            params=q.SearchParams(exact=exact, hnsw_ef=hnsw_ef),
        )
        hits = self._call(name, lambda s: list(s.query(request)), "query")
        return [(id_out(h.id), float(h.score)) for h in hits]

    def indexed_vectors(self, name: str) -> int:
        """Vectors in the shard's HNSW index; 0 until optimize() built one."""
        return int(self._call(name, lambda s: s.info(), "info").indexed_vectors_count)

    def search_index_note(self, name: str) -> str:
        """What ANN queries on ``name`` search: an HNSW index, or (none built yet) every vector."""
        info = self._call(name, lambda s: s.info(), "info")
        indexed, points = int(info.indexed_vectors_count), int(info.points_count)
        where = f"{self.display} {name}"
        if indexed:
            return f"{where}: ANN queries use Edge's HNSW index ({indexed} indexed vectors, {points} points)"
        return (
            f"{where}: no HNSW index built ({points} points; below indexing_threshold or optimize() "
            "not run), so ANN queries there are full scans and recall measures no index"
        )

    def write(self, name: str, points: Sequence[Point]) -> None:
        q = _q()
        structs = [point_to_edge(p) for p in points]
        shard = self._shard(name)
        shard.update(q.UpdateOperation.upsert_points(structs))

    def optimize(self, name: str, progress: ProgressSink | None = None) -> OptimizeResult:
        """Run Edge's optimizers on ``name`` until none is planned, then flush; what it took.

        A shard of ``CHILD_MIN_POINTS`` or more is optimized by a child process (``optimize.py``):
        the call holds the GIL for minutes, which would freeze the progress line and Ctrl-C.
        """
        before = self._call(name, lambda s: s.info(), "info")
        points = int(before.points_count)
        task = (progress or NullProgress()).task(
            f"optimize {name}: Qdrant Edge index build, {points:,} points (no count of its own)"
        )
        started = time.monotonic()
        try:
            if points >= CHILD_MIN_POINTS:
                optimized = self._optimize_in_child(name)
            else:
                optimized = bool(self._call(name, lambda s: s.optimize(), "optimize"))
                self._call(name, lambda s: s.flush(), "flush")
        finally:
            task.done()
        elapsed = time.monotonic() - started
        after = self._call(name, lambda s: s.info(), "info")
        # The optimizers allocate on Edge's own threads, and glibc keeps what they freed: handed
        # back here (``pipeline.heap``).
        release_free_heap()
        result = OptimizeResult(
            collection=name,
            optimized=optimized,
            duration_s=round(elapsed, 3),
            segments_before=int(before.segments_count),
            segments_after=int(after.segments_count),
            indexed_vectors=int(after.indexed_vectors_count),
            points=int(after.points_count),
        )
        log.info("%s", result.describe())
        return result

    def _optimize_in_child(self, name: str) -> bool:
        from qdrant_ops.endpoints.edge.optimize import optimize_in_child

        with self._lock:  # the child needs the shard's lock: closed here, reopened on next use
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.flush()
                shard.close()
        return optimize_in_child(self._dir(name))

    def after_bulk_write(self, name: str, progress: ProgressSink | None = None) -> str:
        """Called by restore/migrate once a collection is filled: optimize, and say what it took."""
        return self.optimize(name, progress).describe()

    def flush(self, name: str) -> None:
        self._call(name, lambda s: s.flush(), "flush")

    def snapshot_to(self, name: str, dest: Path) -> Path:
        """Flush ``name`` and tar its shard directory to ``dest`` (a shard snapshot Edge can open)."""
        import tarfile

        src = self.shard_path(name)
        self.flush(name)
        partial = dest.with_name(dest.name + ".partial")
        gnu_tar = shutil.which("tar")
        with self._lock:
            if gnu_tar:
                # Edge preallocates its files sparsely (a few hundred KB on disk read as ~165 MB):
                # GNU tar's sparse format keeps the archive that small, and Edge unpacks it.
                import subprocess

                proc = subprocess.run(
                    [gnu_tar, "--sparse", "--format=gnu", "-cf", str(partial), "-C", str(src), "."],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    partial.unlink(missing_ok=True)
                    raise EndpointError(f"tar of Edge shard {src} failed: {proc.stderr.strip()[:200]}")
            else:
                log.warning("no tar command: writing %s without sparse files (larger)", dest)
                with tarfile.open(partial, "w") as tf:
                    tf.add(src, arcname=".")
        partial.chmod(0o600)
        partial.replace(dest)
        return dest

    def shard_path(self, name: str) -> Path:
        """The shard directory of a collection (for snapshots of Edge collections)."""
        path = self._dir(name)
        if not is_shard_dir(path):
            raise NotFoundError(f"collection {name!r} does not exist at {self.display}")
        return path

    def set_alias(self, alias: str, collection: str) -> None:
        if not alias:
            raise UsageError("an alias needs a name")
        if not self.collection_exists(collection):
            raise NotFoundError(f"collection {collection!r} does not exist at {self.display}")
        with self._lock:
            data = self._sidecar()
            data["aliases"][alias] = collection
            self._save_sidecar(data)

    def aliases(self) -> dict[str, str]:
        with self._lock:
            return {str(a): str(c) for a, c in self._sidecar()["aliases"].items()}

    # -- optional capabilities (as on QdrantEndpoint; callers check with hasattr) --------------

    def delete_alias(self, alias: str) -> None:
        with self._lock:
            data = self._sidecar()
            if data["aliases"].pop(alias, None) is None:
                raise NotFoundError(f"alias {alias!r} does not exist at {self.display}")
            self._save_sidecar(data)

    def update_metadata(self, name: str, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the collection's metadata (kept beside the shard)."""
        path = self.shard_path(name)
        with self._lock:
            data = self._sidecar()
            entry = data["collections"].setdefault(name, {"dir": path.name, "carried": {}})
            carried = entry.setdefault("carried", {})
            carried["metadata"] = {**(carried.get("metadata") or {}), **metadata}
            self._save_sidecar(data)

    def close(self) -> None:
        with self._lock:
            shards, self._shards = self._shards, {}
        for name, shard in shards.items():
            try:
                shard.flush()
                shard.close()
            except Exception as exc:  # noqa: BLE001 - closing must never hide the real outcome
                log.warning("closing Edge shard %s: %s", name, _first_line(exc))
