"""``qdrant-ops snapshot inspect|convert``: open a native snapshot with Qdrant Edge, no server.

Which snapshots Edge can open:

- **shard snapshots** (``POST /collections/{c}/shards/{id}/snapshots``; and the ``.tar`` of an Edge
  shard that ``backup --snapshot`` writes): a shard at the archive root (``segments/``, ``wal/``).
  Unpacked with ``EdgeShard.unpack_snapshot`` and loaded directly.
- **collection snapshots** (``POST /collections/{c}/snapshots``): the collection's ``config.json``
  and one directory per shard held by that node (``0/``, ``1/``, ...). Each shard directory is
  repacked and unpacked through Edge; the points of all shards are read together.
- **full-storage snapshots** (``POST /snapshots``, a tar of ``<collection>.snapshot`` files) are not
  opened directly: the error says to extract them and open each collection snapshot.
Anything else is refused with a clear error. A node's collection snapshot holds only the shards on
that node: convert the snapshot of every node for a whole clustered collection.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops.endpoints.base import CollectionSpec
from qdrant_ops.errors import CorruptBackupError, NotFoundError, UnsupportedError
from qdrant_ops.reports import Report, human_bytes, md_table

log = logging.getLogger(__name__)

_QDRANT_NAME = re.compile(r"^(?P<name>.+)-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.snapshot$")


class ShardSummary(BaseModel):
    shard_id: int
    segments: int
    points: int
    indexed_vectors: int


class InspectReport(Report):
    verb: str = "snapshot-inspect"
    file: str = ""
    kind: str = ""  # shard | collection
    collection: str = ""
    bytes: int = 0
    points: int = 0
    segments: int = 0
    vectors: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    shards: list[ShardSummary] = Field(default_factory=list)
    open_s: float = 0.0

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        lines.append(f"{self.file}: {self.kind} snapshot of {self.collection!r}, {human_bytes(self.bytes)}")
        lines.append(f"  {len(self.shards)} shard(s), {self.segments} segment(s), {self.points} points")
        for s in self.shards:
            lines.append(f"  shard {s.shard_id}: {s.segments} segments, {s.points} points, {s.indexed_vectors} indexed vectors")
        lines.append(f"  vectors: {', '.join(self.vectors) or '(none)'}")
        lines.append("  config: " + json.dumps(self.config, sort_keys=True))
        return lines

    def markdown_sections(self) -> list[str]:
        return [
            "",
            f"`{self.file}`: {self.kind} snapshot of `{self.collection}`, {self.points} points.",
            "",
            md_table(["shard", "segments", "points", "indexed vectors"], [[s.shard_id, s.segments, s.points, s.indexed_vectors] for s in self.shards]),
            "",
            "```json",
            json.dumps(self.config, indent=2, sort_keys=True),
            "```",
        ]


@dataclass
class OpenedSnapshot:
    kind: str
    collection: str
    shards: dict[int, Path]
    config: dict[str, Any] | None
    workdir: Path
    summaries: list[ShardSummary] = field(default_factory=list)


def collection_name_of(file: Path) -> str:
    """Qdrant names snapshots ``<collection>-<peer>-<YYYY-MM-DD-HH-MM-SS>.snapshot``."""
    m = _QDRANT_NAME.match(file.name)
    if m:
        return m.group("name")
    name = file.name
    for suffix in (".snapshot", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.removeprefix("snapshot-edge-") or "collection"


def _members(file: Path) -> list[str]:
    if not file.is_file():
        raise NotFoundError(f"snapshot file not found: {file}")
    if not tarfile.is_tarfile(file):
        raise CorruptBackupError(f"{file}: not a snapshot (snapshots are tar archives)", file=file)
    try:
        with tarfile.open(file) as tf:
            return [str(PurePosixPath(m.name)) for m in tf.getmembers()]
    except tarfile.TarError as exc:
        raise CorruptBackupError(f"{file}: unreadable tar: {exc}", file=file) from None


def classify(names: list[str]) -> tuple[str, list[int]]:
    """``("shard", [0])``, ``("collection", shard ids)`` or ``("full", [])`` from member names."""
    parts = [PurePosixPath(n).parts for n in names if n not in (".", "")]
    parts = [p[1:] if p and p[0] == "." else p for p in parts]
    if any(p and p[0] == "segments" for p in parts):
        return "shard", [0]
    shard_ids = sorted({int(p[0]) for p in parts if len(p) > 1 and p[0].isdigit() and p[1] == "segments"})
    if shard_ids:
        return "collection", shard_ids
    if any(len(p) == 1 and p[0].endswith(".snapshot") for p in parts):
        return "full", []
    return "unknown", []


def _edge() -> Any:
    from qdrant_ops.endpoints.edge.config import _q

    return _q()


def _unpack(tar_path: Path, dest: Path) -> None:
    try:
        _edge().EdgeShard.unpack_snapshot(str(tar_path), str(dest))
    except Exception as exc:  # noqa: BLE001 - the engine raises plain errors
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptBackupError(f"{tar_path}: Qdrant Edge cannot unpack this shard: {text}", file=tar_path) from None


def _extract(file: Path, dest: Path) -> None:
    """Extract a snapshot tar safely: tarfile's ``data`` filter refuses links out, devices and
    absolute or escaping paths."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(file) as tf:
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise CorruptBackupError(f"{file}: cannot extract: {exc}", file=file) from None


def open_snapshot(file: Path, workdir: Path, collection: str | None = None) -> OpenedSnapshot:
    """Unpack ``file`` into ``workdir``: one loadable Edge shard directory per shard."""
    kind, shard_ids = classify(_members(file))
    name = collection or collection_name_of(file)
    if kind == "full":
        raise UnsupportedError(
            f"{file} is a full-storage snapshot (one .snapshot per collection inside): extract it "
            "with `tar -xf` and inspect or convert each collection snapshot"
        )
    if kind == "unknown":
        raise UnsupportedError(f"{file}: not a Qdrant shard or collection snapshot (no segments/ found)")
    shards: dict[int, Path] = {}
    config: dict[str, Any] | None = None
    if kind == "shard":
        shards[0] = workdir / "shard-0"
        _unpack(file, shards[0])
    else:
        root = workdir / "raw"
        _extract(file, root)
        cfg_path = root / "config.json"
        if cfg_path.is_file():
            try:
                loaded = json.loads(cfg_path.read_text(encoding="utf-8"))
                config = loaded if isinstance(loaded, dict) else None
            except ValueError as exc:
                raise CorruptBackupError(f"{cfg_path}: unreadable collection config: {exc}", file=cfg_path) from None
        for sid in shard_ids:
            packed = workdir / f"shard-{sid}.tar"
            with tarfile.open(packed, "w") as tf:
                tf.add(root / str(sid), arcname=".")
            shards[sid] = workdir / f"shard-{sid}"
            _unpack(packed, shards[sid])
            packed.unlink()
        shutil.rmtree(workdir / "raw", ignore_errors=True)
    return OpenedSnapshot(kind, name, shards, config, workdir)


def _clean(config: dict[str, Any]) -> dict[str, Any]:
    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if x is not None}
        return v

    out = walk(config)
    return out if isinstance(out, dict) else {}


def snapshot_spec(opened: OpenedSnapshot) -> CollectionSpec:
    """The collection spec: the snapshot's own config.json, else derived from the first shard."""
    from qdrant_ops.endpoints.edge.config import edge_json_to_config, read_edge_json

    derived = edge_json_to_config(read_edge_json(opened.shards[min(opened.shards)]))
    config = _clean(opened.config) if opened.config else derived
    config.pop("uuid", None)
    if "params" not in config:
        config = derived
    return CollectionSpec(name=opened.collection, config=config)


def inspect_snapshot(file: str | Path, *, collection: str | None = None) -> InspectReport:
    """Open a snapshot through Qdrant Edge and report its config, segments and points."""
    path = Path(file)
    report = InspectReport(file=str(path))
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-snapshot-", dir=path.parent if path.parent.is_dir() else None) as tmp:
        started = time.monotonic()
        opened = open_snapshot(path, Path(tmp), collection)
        q = _edge()
        for sid, shard_dir in sorted(opened.shards.items()):
            shard = q.EdgeShard.load(str(shard_dir))
            try:
                info = shard.info()
                report.shards.append(ShardSummary(shard_id=sid, segments=int(info.segments_count), points=int(info.points_count), indexed_vectors=int(info.indexed_vectors_count)))
            finally:
                shard.close()
        report.open_s = round(time.monotonic() - started, 3)
        spec = snapshot_spec(opened)
    report.kind, report.collection, report.bytes = opened.kind, opened.collection, path.stat().st_size
    report.points = sum(s.points for s in report.shards)
    report.segments = sum(s.segments for s in report.shards)
    report.config = spec.config
    report.vectors = [f"{f.name or '(default)'}: {f.kind} {f.size or ''} {f.distance}".strip() for f in spec.vector_fields()]
    report.finish()
    return report


def convert_snapshot(file: str | Path, to: str | Path, *, collection: str | None = None, compression_level: int = 3, batch_size: int = 1000) -> Any:
    """Turn a snapshot into a logical Parquet backup (with manifest) under ``to``; a BackupReport.

    The shard(s) are unpacked into a scratch Edge store and backed up from there; a collection
    snapshot with several shards is merged into one collection first.
    """
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.archive import collection_dirname
    from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
    from qdrant_ops.endpoints.uri import EndpointConfig, redact_url

    path = Path(file)
    named = redact_url(str(path.resolve()))  # a path, or a URL without user:password or query
    from qdrant_ops.repository.location import cache_dir, is_remote, open_location

    # The scratch store sits beside the backup it becomes (the same disk); for an object store,
    # in the local cache, never in a directory named after the URL.
    scratch = cache_dir("convert", open_location(str(to))) if is_remote(to) else Path(to)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-convert-", dir=str(scratch)) as tmp:
        opened = open_snapshot(path, Path(tmp) / "unpacked", collection)
        spec = snapshot_spec(opened)
        store = Path(tmp) / "store"
        store.mkdir()
        first = min(opened.shards)
        target = store / collection_dirname(opened.collection)
        shutil.move(str(opened.shards[first]), target)
        ep = EdgeEndpoint(store)
        # The manifest's source.url (and the report) name the snapshot file, not the scratch store.
        ep.display = named
        if opened.config:
            from qdrant_ops._fs import atomic_write_text
            from qdrant_ops.endpoints.edge.endpoint import SIDECAR, SIDECAR_FORMAT

            sidecar = {"format": SIDECAR_FORMAT, "version": 1, "aliases": {}, "collections": {opened.collection: {"dir": target.name, "carried": spec.config}}}
            atomic_write_text(store / SIDECAR, json.dumps(sidecar))
        for sid, shard_dir in sorted(opened.shards.items()):
            if sid == first:
                continue
            other = EdgeEndpoint(Path(tmp) / "unpacked")
            name = shard_dir.name
            for page in other.scan(name, batch_size=batch_size):
                if page.points:
                    ep.write(opened.collection, page.points)
            other.close()
        ep.flush(opened.collection)
        cfg = BackupConfig(
            source=EndpointConfig(url=f"edge:{store}"),
            backup_path=str(to),
            collections=[opened.collection],
            compression_level=compression_level,
            batch_size=batch_size,
        )
        report = backup(cfg, source=ep)
        ep.close()
    report.source = f"snapshot {named} ({opened.kind}, {len(opened.shards)} shard(s))"
    report.notes.append(f"converted from {opened.kind} snapshot {path.name} through Qdrant Edge")
    return report
