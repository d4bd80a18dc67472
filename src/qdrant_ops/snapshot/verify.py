"""Native snapshot files of a backup (``backup --snapshot``): presence, size and sha256.

The manifest lists them per collection under ``snapshots`` (paths relative to the backup
directory). ``verify BACKUP`` checks each one; restore reads the Parquet files and never needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.archive import safe_member
from qdrant_ops.errors import CorruptBackupError
from qdrant_ops.format.integrity import sha256_file


def check_snapshot(root: Path, item: dict[str, Any]) -> Path:
    """The snapshot file of manifest entry ``item``, after checking presence, size and sha256."""
    rel = item.get("path")
    if not isinstance(rel, str) or not rel:
        raise CorruptBackupError(f"{root}: a snapshot entry in the manifest has no path")
    path = safe_member(root, rel)
    if not path.is_file():
        raise CorruptBackupError(f"{path}: native snapshot file missing", file=path)
    expected_bytes = item.get("bytes")
    size = path.stat().st_size
    if expected_bytes is not None and (not isinstance(expected_bytes, int) or size != expected_bytes):
        raise CorruptBackupError(
            f"{path}: native snapshot size {size} differs from the manifest's {expected_bytes}", file=path
        )
    expected = item.get("sha256")
    if not expected:
        raise CorruptBackupError(f"{path}: the manifest holds no sha256 for this native snapshot", file=path)
    if sha256_file(path) != expected:
        raise CorruptBackupError(f"{path}: native snapshot sha256 differs from the manifest", file=path)
    return path


def check_snapshots(root: Path, snapshots: list[dict[str, Any]] | None) -> tuple[int, list[str]]:
    """How many listed snapshot files check out, and one problem line per file that does not."""
    ok, problems = 0, []
    for item in snapshots or []:
        try:
            check_snapshot(root, item)
        except CorruptBackupError as exc:
            problems.append(str(exc))
        else:
            ok += 1
    return ok, problems
