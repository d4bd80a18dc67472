"""Config of the snapshot commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qdrant_ops.config.base import Model
from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import ConfigError


class SnapshotConfig(Model):
    """``qdrant-ops snapshot ...``: Qdrant's native snapshots, per collection, node and shard."""

    endpoint: EndpointConfig | None = None
    nodes: list[str] = Field(default_factory=list)
    collections: list[str] = Field(default_factory=list)
    shards: bool = False
    output: str = "./snapshots"
    download: bool = False
    delete_after_download: bool = False
    priority: Literal["snapshot", "replica", "no_sync"] = "snapshot"
    checksum: str | None = None
    timeout: float = Field(default=3600.0, gt=0)

    def server(self) -> EndpointConfig:
        if self.endpoint is None or not self.endpoint.is_set:
            raise ConfigError("no endpoint given: use --url, QDRANT_URL or a config file")
        return self.endpoint
