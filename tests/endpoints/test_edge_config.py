"""What Qdrant Edge cannot hold is refused before its shard exists; what it can, it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from collection_corpus import CORPUS, spec_of
from qdrant_ops.endpoints.base import CollectionSpec
from qdrant_ops.endpoints.edge.config import refusals
from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
from qdrant_ops.errors import UnsupportedError

CASES = {c.feature: c for c in CORPUS}


def _spec(config: dict[str, object], schema: dict[str, object] | None = None) -> CollectionSpec:
    return CollectionSpec(name="c", config=config, payload_schema=dict(schema or {}))


def test_payload_only_collection_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path / "store")
    spec = spec_of(CASES["no-vectors"], "c")
    with pytest.raises(UnsupportedError, match="no vectors.*Qdrant Edge") as err:
        ep.create_collection("c", spec)
    assert err.value.exit_code == 2 and "'c'" in str(err.value)
    assert not (tmp_path / "store").exists()
    assert len(refusals(spec)) == 1 and refusals(spec)[0] in str(err.value)


def test_an_index_parameter_edge_lacks_is_refused_before_the_shard(tmp_path: Path) -> None:
    spec = _spec(
        {"params": {"vectors": {"size": 2, "distance": "Dot"}}},
        {"t": {"data_type": "text", "params": {"type": "text", "tokenizer": "klingon"}}},
    )
    ep = EdgeEndpoint(tmp_path / "store")
    with pytest.raises(UnsupportedError, match=r"payload index 't' \(text\).*Qdrant Edge has no text tokenizer"):
        ep.create_collection("c", spec)
    assert not (tmp_path / "store").exists()
    assert len(refusals(spec)) == 1


def test_text_index_and_storage_memory_are_kept(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path / "store")
    for feature in ("index-text", "index-text-multilingual", "payload-id-tracker-memory", "index-geo"):
        spec = spec_of(CASES[feature], feature)
        assert refusals(spec) == []
        ep.create_collection(feature, spec)
        got = ep.get_spec(feature)
        for key in ("payload", "id_tracker"):
            if key in spec.params:
                assert got.params[key] == spec.params[key]
        assert {f: {k: v for k, v in s.items() if k != "points"} for f, s in got.payload_schema.items()} == spec.payload_schema
    ep.close()
