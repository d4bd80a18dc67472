"""A restore interrupted during the target's optimize runs it again on the rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def test_restore_interrupted_in_optimize_optimizes_on_the_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sigint_trials as it
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig, RestoreConfig
    from qdrant_ops.data.restore import restore
    from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
    from qdrant_ops.endpoints.open import close_all
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    src = it.make_edge_store(tmp_path / "src", n=500, dims=8)
    made = backup(BackupConfig(source=endpoint_from_uri(src), backup_path=str(tmp_path / "b"), verify_integrity=False))
    cfg = RestoreConfig(backup=made.backup_dir, target=endpoint_from_uri(f"edge:{tmp_path / 'dst'}"))
    calls: list[str] = []
    real = EdgeEndpoint.after_bulk_write

    def ctrl_c_once(self: EdgeEndpoint, name: str, progress: Any = None) -> str:
        calls.append(name)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(self, name, progress)

    monkeypatch.setattr(EdgeEndpoint, "after_bulk_write", ctrl_c_once)
    with pytest.raises(KeyboardInterrupt):
        restore(cfg)
    close_all()
    again = restore(cfg)  # every row group is done: nothing is written, but the optimize runs
    row = again.collections[0]
    assert again.resumed and row.written == 0 and row.resumed_points == 500
    assert len(calls) == 2 and "optimize()" in row.post_write
    assert "resumed from" in "\n".join(again.summary_lines())
    assert "optimize" in again.phase_seconds
