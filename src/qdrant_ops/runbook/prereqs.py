"""Prerequisites of a run, each reported pass/fail with the figure measured.

git present (and a clean work tree when code steps run), Python and qdrant-client versions, every
Qdrant endpoint reachable (version, ``slice`` support), and the backup path writable with enough
free disk for an estimate built from the collections' sizes. Nothing here changes anything.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import QdrantOpsError
from qdrant_ops.reports import Check

log = logging.getLogger(__name__)

GB = 1024**3
# A point's payload and id, on average, when nothing better is known (bytes in the Parquet files).
PAYLOAD_ESTIMATE = 512


@dataclass
class EndpointNeed:
    """An endpoint a step uses, and the collections it reads there (empty: all)."""

    endpoint: EndpointConfig
    collections: list[str]
    read: bool


@dataclass
class PrereqResult:
    checks: list[Check]
    unreachable: bool
    estimate_bytes: int

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_git(repo: Path | None, clean: bool, allowed_dirty: Iterable[str] = ()) -> list[Check]:
    """git on PATH; with ``clean``, no uncommitted change in ``repo`` besides ``allowed_dirty``."""
    git = shutil.which("git")
    if git is None:
        return [Check(name="git", passed=False, detail="git is not installed (not on PATH)")]
    proc = subprocess.run([git, "--version"], capture_output=True, text=True, check=False)
    version = proc.stdout.strip().removeprefix("git version ").strip()
    out = [Check(name="git", passed=True, detail=f"git {version}", figures={"version": version})]
    if not clean or repo is None:
        return out
    from qdrant_ops.code import gitops

    if not gitops.is_work_tree(repo):
        out.append(Check(name="clean work tree", passed=False, detail=f"{repo} is not a git work tree"))
        return out
    allowed = set(allowed_dirty)
    dirty = [p for p in gitops.dirty_paths(repo) if not _allowed(p, allowed)]
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    out.append(
        Check(
            name="clean work tree",
            passed=not dirty,
            detail=f"{repo}: " + (f"uncommitted changes: {shown}" if dirty else "clean"),
            figures={"dirty": len(dirty)},
        )
    )
    return out


def _allowed(path: str, allowed: set[str]) -> bool:
    return any(path == a or path.startswith(a.rstrip("/") + "/") for a in allowed)


def check_versions() -> list[Check]:
    py = platform.python_version()
    try:
        qc = metadata.version("qdrant-client")
        qc_check = Check(name="qdrant-client", passed=True, detail=f"qdrant-client {qc}", figures={"version": qc})
    except metadata.PackageNotFoundError:
        qc_check = Check(name="qdrant-client", passed=False, detail="qdrant-client is not installed")
    return [Check(name="python", passed=True, detail=f"Python {py}", figures={"version": py}), qc_check]


def check_endpoints(needs: Sequence[EndpointNeed]) -> tuple[list[Check], bool, int]:
    """Each distinct endpoint reachable; returns checks, whether one was unreachable, and an
    estimate in bytes of the data the steps read there."""
    from qdrant_ops.endpoints.open import open_endpoint

    checks: list[Check] = []
    unreachable = False
    estimate = 0
    seen: set[str] = set()
    for need in needs:
        key = need.endpoint.display()
        if key in seen and not need.read:
            continue
        first = key not in seen
        seen.add(key)
        try:
            ep = open_endpoint(need.endpoint)
            info = ep.info()
            names = need.collections or ep.list_collections()
            size = 0
            if need.read:
                for name in names:
                    if not ep.collection_exists(name):
                        continue
                    spec = ep.get_spec(name)
                    per_point = PAYLOAD_ESTIMATE + sum(
                        max(f.size, 1) * 4 for f in spec.vector_fields() if f.kind != "sparse"
                    )
                    size += ep.count(name) * per_point
            estimate += size
        except QdrantOpsError as exc:
            unreachable = unreachable or exc.exit_code == 3
            checks.append(Check(name="endpoint", passed=False, detail=f"{key}: {exc}"))
            continue
        if first:
            checks.append(
                Check(
                    name="endpoint",
                    passed=True,
                    detail=f"{info.display}: {info.server_version or 'version unknown'}; "
                    f"slice {'supported' if info.supports_slice else 'not supported (one stream)'}",
                    figures={
                        "version": info.server_version,
                        "slice": info.supports_slice,
                        "collections": len(names),
                    },
                )
            )
    return checks, unreachable, estimate


def check_space(backup_path: Path, estimate: int, min_free_gb: float, factor: float, *, probe: bool) -> list[Check]:
    """The backup path is writable and has max(min_free_gb, estimate x factor) free.

    ``probe`` writes and removes a small file (a real run); otherwise only permissions are read.
    """
    base = nearest_existing(backup_path)
    writable = os.access(base, os.W_OK | os.X_OK) if base.is_dir() else False
    detail = f"{backup_path} ({'exists' if base == backup_path.absolute() else f'created under {base}'})"
    if writable and probe and base.is_dir():
        probe_file = base / f".qdrant-ops-probe-{os.getpid()}"
        try:
            probe_file.write_bytes(b"ok")
            probe_file.unlink()
        except OSError as exc:
            writable = False
            detail += f": {exc}"
    out = [Check(name="backup path writable", passed=writable, detail=detail)]
    free = shutil.disk_usage(base).free if base.exists() else 0
    need = max(int(min_free_gb * GB), int(estimate * factor))
    out.append(
        Check(
            name="free disk",
            passed=free >= need,
            detail=f"{free / GB:.2f} GB free at {base}; need {need / GB:.2f} GB "
            f"(estimate {estimate / GB:.3f} GB x {factor:g}, minimum {min_free_gb:g} GB)",
            figures={"free_bytes": free, "needed_bytes": need, "estimate_bytes": estimate},
        )
    )
    return out
