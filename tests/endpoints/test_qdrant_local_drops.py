"""A collection restored into local mode: what local mode does not hold is said, not dropped silently."""

from __future__ import annotations

import logging

import pytest

from qdrant_ops.endpoints.base import CollectionSpec
from qdrant_ops.endpoints.open import open_endpoint


def _spec(**config: object) -> CollectionSpec:
    return CollectionSpec(name="c", config={"params": {"vectors": {"size": 2, "distance": "Dot"}}, **config})


def test_settings_local_mode_lacks_are_named(caplog: pytest.LogCaptureFixture) -> None:
    ep = open_endpoint(":memory:")
    spec = _spec(hnsw_config={"m": 32}, wal_config={"wal_capacity_mb": 32})
    spec.config["params"]["shard_number"] = 3
    spec.payload_schema = {"tag": {"data_type": "keyword"}}
    with caplog.at_level(logging.WARNING, logger="qdrant_ops"):
        ep.create_collection("c", spec)
    text = " ".join(r.getMessage() for r in caplog.records)
    # wal_capacity_mb 32 is local mode's own default: not a loss
    assert "hnsw_config" in text and "params.shard_number" in text and "1 payload index" in text
    assert "wal_config" not in text


def test_nothing_said_when_local_mode_holds_it_all(caplog: pytest.LogCaptureFixture) -> None:
    ep = open_endpoint(":memory:")
    with caplog.at_level(logging.WARNING, logger="qdrant_ops"):
        ep.create_collection("c", _spec(metadata={"a": 1}, hnsw_config={"m": 16, "ef_construct": 100}))
    assert not [r for r in caplog.records if "does not hold" in r.getMessage()]
