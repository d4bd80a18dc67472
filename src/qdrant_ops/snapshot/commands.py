"""``qdrant-ops snapshot create|list|download|delete|restore``: Qdrant's native snapshots.

Snapshots are per collection and per node: on a cluster each node snapshots the shards it holds,
so every command runs on every node (``--node URL`` repeated, or read from ``GET /cluster``) and
the report says which node holds which shards. ``--shards`` works per shard instead.

Everything goes through qdrant-client's snapshot API, except the transfers, which stream over
Qdrant's documented REST paths (``snapshot_http``). Embedded stores (local mode, ``:memory:``) and
Qdrant Edge have no native snapshot API: these commands refuse them with exit 2 (an Edge shard is
snapshotted by ``backup --snapshot``, which tars it after a flush). ``inspect`` and ``convert``
(offline, through Qdrant Edge) are in ``snapshot_offline``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import NotFoundError, QdrantOpsError, UnsupportedError, UsageError
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, call_with_retry
from qdrant_ops.reports import Report, bytes_cell, human_bytes, md_table
from qdrant_ops.repository.location import cache_dir, is_remote, local_path, open_location
from qdrant_ops.repository.store import send_file
from qdrant_ops.snapshot.config import SnapshotConfig
from qdrant_ops.snapshot.http import download, rest_base, snapshot_path, upload

log = logging.getLogger(__name__)

EMBEDDED_MESSAGE = (
    "embedded stores have no native snapshots ({what}); snapshot commands need a Qdrant server "
    "URL. Use `qdrant-ops backup` for a portable backup of an embedded store"
)


class SnapshotItem(BaseModel):
    collection: str
    node: str
    shard_id: int | None = None
    name: str = ""
    size: int = 0
    checksum: str | None = None
    created: str | None = None
    node_shards: list[int] = Field(default_factory=list)
    path: str | None = None
    sha256: str | None = None
    verified: bool = False
    action: str = ""  # created | listed | downloaded | deleted | recovered


class SnapshotReport(Report):
    verb: str = "snapshot"
    action: str = ""
    endpoint: str = ""
    nodes: list[str] = Field(default_factory=list)
    items: list[SnapshotItem] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        for i in self.items:
            where = f"shard {i.shard_id} on {i.node}" if i.shard_id is not None else f"{i.node} (shards {i.node_shards or '?'})"
            extra = f" -> {i.path} (sha256 {'checked' if i.verified else 'computed'})" if i.path else ""
            lines.append(f"  {i.collection} @ {where}: {i.action} {i.name} {human_bytes(i.size)}{extra}")
        return lines

    def markdown_sections(self) -> list[str]:
        rows = [
            [i.collection, i.node, "" if i.shard_id is None else i.shard_id, ",".join(map(str, i.node_shards)), i.action, i.name, bytes_cell(i.size), i.checksum or "", i.path or "", i.verified]
            for i in self.items
        ]
        return [
            "",
            f"Endpoint `{self.endpoint}`, nodes: {', '.join(f'`{n}`' for n in self.nodes)}.",
            "",
            md_table(["collection", "node", "shard", "node holds shards", "action", "snapshot", "bytes", "checksum", "file", "sha256 checked"], rows),
        ]


@dataclass
class Node:
    url: str
    client: Any
    api_key: str | None


def refuse_embedded(cfg: EndpointConfig) -> None:
    """UnsupportedError (exit 2) for local mode, ``:memory:`` and Edge."""
    kind = cfg.kind()
    if kind in ("local", "memory"):
        raise UnsupportedError(EMBEDDED_MESSAGE.format(what=f"{cfg.display()} is qdrant-client local mode"))
    if kind == "edge":
        raise UnsupportedError(
            EMBEDDED_MESSAGE.format(what=f"{cfg.display()} is Qdrant Edge")
            + "; `backup --snapshot` tars Edge shards, which `snapshot inspect|convert` open"
        )


def peer_rest_urls(peers: dict[str, str], base: str) -> list[str]:
    """REST URLs of cluster peers: each peer's host with the scheme and port of ``base``.

    ``GET /cluster`` lists peers by their internal (p2p, usually :6335) URI, so the REST port is
    taken from the URL the user gave.
    """
    b = urlsplit(base)
    out: list[str] = []
    for uri in peers.values():
        host = urlsplit(uri).hostname or uri
        port = f":{b.port}" if b.port else ""
        out.append(f"{b.scheme}://{host}{port}")
    return sorted(set(out))


def _nodes(cfg: SnapshotConfig, report: SnapshotReport) -> list[Node]:
    from qdrant_ops.endpoints.qdrant import make_client

    ep = cfg.server()
    refuse_embedded(ep)
    api_key = ep.api_key.get_secret_value() if ep.api_key else None
    base = rest_base(ep.url, ep.host, ep.port, ep.https)
    urls = [rest_base(u, None, None, None) for u in cfg.nodes]
    main = make_client(ep)
    if not urls:
        try:
            status = main.cluster_status()
            peers = {str(k): str(v.uri) for k, v in (getattr(status, "peers", None) or {}).items()}
        except QdrantOpsError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreachable or no cluster API: one node
            log.debug("cluster status unavailable: %s", exc)
            peers = {}
        urls = peer_rest_urls(peers, base) if len(peers) > 1 else [base]
        if len(urls) > 1:
            report.notes.append(f"nodes read from cluster info: {', '.join(urls)} (REST port taken from {base})")
    nodes: list[Node] = []
    for url in urls:
        client = main if url == base else make_client(EndpointConfig(url=url, api_key=ep.api_key, timeout=ep.timeout))
        nodes.append(Node(url, client, api_key))
    report.endpoint = ep.display()
    report.nodes = [n.url for n in nodes]
    return nodes


def _call(fn: Callable[[], Any], what: str) -> Any:
    from qdrant_ops.errors import EndpointError

    try:
        return call_with_retry(fn, RetryPolicy(max_retries=3), RetryStats(), what=what)
    except QdrantOpsError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line naming the call, the cause kept
        status = getattr(exc, "status_code", None)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if status == 404:
            raise NotFoundError(f"{what}: not found ({text})") from exc
        raise EndpointError(f"{what} failed: {text}") from exc


def _local_shards(node: Node, collection: str) -> list[int]:
    info = _call(lambda: node.client.collection_cluster_info(collection), f"cluster info of {collection} on {node.url}")
    return sorted(int(s.shard_id) for s in (info.local_shards or []))


def _collections(cfg: SnapshotConfig, node: Node) -> list[str]:
    if cfg.collections:
        return list(cfg.collections)
    res = _call(node.client.get_collections, f"list collections on {node.url}")
    return sorted(c.name for c in res.collections)


def _item(collection: str, node: Node, shard: int | None, desc: Any, shards: list[int], action: str) -> SnapshotItem:
    return SnapshotItem(
        collection=collection,
        node=node.url,
        shard_id=shard,
        name=str(desc.name),
        size=int(desc.size or 0),
        checksum=getattr(desc, "checksum", None),
        created=str(desc.creation_time) if getattr(desc, "creation_time", None) else None,
        node_shards=shards,
        action=action,
    )


def _fetch(cfg: SnapshotConfig, node: Node, item: SnapshotItem, dest_dir: Path, prefix: str = "") -> None:
    url = node.url.rstrip("/") + snapshot_path(item.collection, item.name, item.shard_id)
    host = urlsplit(node.url).hostname or "node"
    shard = f"shard{item.shard_id}-" if item.shard_id is not None else ""
    dest = dest_dir / f"{prefix}{host}-{shard}{item.name}"
    got = call_with_retry(
        lambda: download(url, dest, api_key=node.api_key, expected_sha256=item.checksum, timeout=cfg.timeout),
        RetryPolicy(max_retries=3),
        what=f"download {item.name}",
    )
    item.path, item.sha256, item.verified = str(got.path), got.sha256, got.verified
    if is_remote(cfg.output):  # staged locally, checked, then sent on and the local copy dropped
        item.path = send_file(got.path, cfg.output, f"{dest_dir.name}/{got.path.name}")
    if not got.verified:
        log.warning("%s: the server gave no checksum; sha256 computed but not checked", dest)


def _out_dir(cfg: SnapshotConfig, collection: str) -> Path:
    from qdrant_ops.endpoints.archive import collection_dirname

    if is_remote(cfg.output):
        return cache_dir("staging", open_location(cfg.output)) / "snapshots" / collection_dirname(collection)
    return local_path(cfg.output) / collection_dirname(collection)


def create_snapshots(cfg: SnapshotConfig) -> SnapshotReport:
    """Create a snapshot of each collection on every node (or of every shard with ``shards``)."""
    report = SnapshotReport(action="create")
    for node in _nodes(cfg, report):
        for coll in _collections(cfg, node):
            shards = _local_shards(node, coll)
            targets: list[int | None] = list(shards) if cfg.shards else [None]
            for shard in targets:
                started = time.monotonic()
                if shard is None:
                    desc = _call(partial(node.client.create_snapshot, coll, wait=True), f"snapshot {coll} on {node.url}")
                else:
                    desc = _call(
                        partial(node.client.create_shard_snapshot, coll, shard, wait=True),
                        f"snapshot {coll} shard {shard} on {node.url}",
                    )
                item = _item(coll, node, shard, desc, shards, "created")
                log.info("snapshot %s of %s on %s in %.1fs", item.name, coll, node.url, time.monotonic() - started)
                if cfg.download:
                    _fetch(cfg, node, item, _out_dir(cfg, coll))
                    item.action = "created+downloaded"
                    if cfg.delete_after_download:
                        _delete(node, item)
                report.items.append(item)
    report.finish()
    return report


def list_snapshots(cfg: SnapshotConfig) -> SnapshotReport:
    """Every snapshot of the collections, on every node (per shard with ``shards``)."""
    report = SnapshotReport(action="list")
    for node in _nodes(cfg, report):
        for coll in _collections(cfg, node):
            shards = _local_shards(node, coll)
            for shard in (list(shards) if cfg.shards else [None]):
                if shard is None:
                    descs = _call(partial(node.client.list_snapshots, coll), f"list snapshots of {coll} on {node.url}")
                else:
                    descs = _call(
                        partial(node.client.list_shard_snapshots, coll, shard),
                        f"list snapshots of {coll} shard {shard} on {node.url}",
                    )
                report.items.extend(_item(coll, node, shard, d, shards, "listed") for d in descs)
    report.finish()
    return report


def _find(node: Node, collection: str, name: str, shard: int | None) -> Any:
    if shard is None:
        descs = _call(lambda: node.client.list_snapshots(collection), f"list snapshots of {collection} on {node.url}")
    else:
        descs = _call(lambda: node.client.list_shard_snapshots(collection, shard), f"list snapshots of {collection} shard {shard}")
    for d in descs:
        if d.name == name:
            return d
    return None


def _selected(cfg: SnapshotConfig, collection: str, name: str, shard: int | None, action: str, report: SnapshotReport) -> list[tuple[Node, SnapshotItem]]:
    found: list[tuple[Node, SnapshotItem]] = []
    for node in _nodes(cfg, report):
        desc = _find(node, collection, name, shard)
        if desc is not None:
            found.append((node, _item(collection, node, shard, desc, _local_shards(node, collection), action)))
    if not found:
        where = f" shard {shard}" if shard is not None else ""
        raise NotFoundError(f"snapshot {name!r} of {collection}{where} is on none of: {', '.join(report.nodes)}")
    return found


def download_snapshot(cfg: SnapshotConfig, collection: str, name: str, shard: int | None = None) -> SnapshotReport:
    """Stream one snapshot from the node(s) holding it into ``cfg.output``, sha256 checked."""
    report = SnapshotReport(action="download")
    for node, item in _selected(cfg, collection, name, shard, "downloaded", report):
        _fetch(cfg, node, item, _out_dir(cfg, collection))
        report.items.append(item)
        report.check("sha256", item.verified, f"{item.path}: sha256 {item.sha256}", collection=collection)
    report.finish()
    return report


def _delete(node: Node, item: SnapshotItem) -> None:
    if item.shard_id is None:
        _call(lambda: node.client.delete_snapshot(item.collection, item.name, wait=True), f"delete {item.name} on {node.url}")
    else:
        sid = item.shard_id
        _call(lambda: node.client.delete_shard_snapshot(item.collection, sid, item.name, wait=True), f"delete {item.name} on {node.url}")


def delete_snapshot(cfg: SnapshotConfig, collection: str, name: str, shard: int | None = None) -> SnapshotReport:
    """Delete one snapshot from every node that has it."""
    report = SnapshotReport(action="delete")
    for node, item in _selected(cfg, collection, name, shard, "deleted", report):
        _delete(node, item)
        report.items.append(item)
    report.finish()
    return report


def restore_snapshot(cfg: SnapshotConfig, collection: str, location: str, shard: int | None = None) -> SnapshotReport:
    """Recover ``collection`` from a snapshot URL (the server fetches it) or a local file (uploaded).

    ``cfg.priority`` is Qdrant's snapshot priority; ``cfg.checksum`` (sha256) is checked by the
    server; for a local file it is computed when not given.
    """
    from qdrant_client import models

    report = SnapshotReport(action="restore")
    nodes = _nodes(cfg, report)
    if len(nodes) > 1 and not cfg.nodes:
        raise UsageError("restore goes to one node: name it with --node (cluster info lists several)")
    node = nodes[0]
    priority = models.SnapshotPriority(cfg.priority)
    is_url = location.startswith(("http://", "https://", "file://"))
    item = SnapshotItem(collection=collection, node=node.url, shard_id=shard, name=location.rsplit("/", 1)[-1], action="recovered")
    if is_url:
        if shard is None:
            _call(
                lambda: node.client.recover_snapshot(collection, location, checksum=cfg.checksum, priority=priority, wait=True),
                f"recover {collection} on {node.url}",
            )
        else:
            _call(
                lambda: node.client.recover_shard_snapshot(collection, shard, location, checksum=cfg.checksum, priority=priority, wait=True),
                f"recover {collection} shard {shard} on {node.url}",
            )
    else:
        path = Path(location)
        if not path.is_file():
            raise NotFoundError(f"snapshot file not found: {path}")
        from qdrant_ops.format.integrity import sha256_file

        checksum = cfg.checksum or sha256_file(path)
        upload(node.url, collection, path, api_key=node.api_key, shard_id=shard, priority=cfg.priority, checksum=checksum, timeout=cfg.timeout)
        item.size, item.sha256, item.checksum, item.path = path.stat().st_size, checksum, checksum, str(path)
    report.items.append(item)
    report.notes.append(f"priority: {cfg.priority}")
    report.finish()
    return report


def backup_snapshots(source_cfg: EndpointConfig | None, src: Any, name: str, cdir: Path) -> list[dict[str, Any]]:
    """Native snapshots of one collection for ``backup --snapshot``, written into ``cdir``.

    A server snapshots the collection on every node and each file is streamed into the backup
    (sha256 checked against the server's checksum); an Edge shard is flushed and tarred (a shard
    snapshot that ``snapshot inspect|convert`` and ``EdgeShard.unpack_snapshot`` open).
    Returns manifest entries (paths relative to the backup directory).
    """
    from qdrant_ops.format.integrity import sha256_file

    if src.info().kind == "edge":
        path = cdir / f"snapshot-edge-{cdir.name}.tar"
        src.snapshot_to(name, path)
        return [{
            "path": f"{cdir.name}/{path.name}",
            "kind": "edge-shard",
            "node": src.info().display,
            "shard_id": 0,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }]
    if source_cfg is None:
        raise UsageError("backup --snapshot needs the source's endpoint config")
    cfg = SnapshotConfig(endpoint=source_cfg, collections=[name])
    report = SnapshotReport(action="create")
    out: list[dict[str, Any]] = []
    for node in _nodes(cfg, report):
        shards = _local_shards(node, name)
        desc = _call(partial(node.client.create_snapshot, name, wait=True), f"snapshot {name} on {node.url}")
        item = _item(name, node, None, desc, shards, "created")
        _fetch(cfg, node, item, cdir, prefix="snapshot-")
        rel = f"{cdir.name}/{Path(item.path or '').name}"
        out.append({
            "path": rel,
            "kind": "collection",
            "node": node.url,
            "node_shards": shards,
            "name": item.name,
            "bytes": Path(item.path or "").stat().st_size,
            "sha256": item.sha256,
            "server_checksum": item.checksum,
        })
    return out
