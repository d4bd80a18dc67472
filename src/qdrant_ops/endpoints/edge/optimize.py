"""Qdrant Edge's ``optimize()`` in a child process, so Ctrl-C and the progress line keep working.

``EdgeShard.optimize()`` (the HNSW build: a minute per 100k 384-d points) is one native call that
holds the GIL from start to end: in-process, no other thread runs, so the progress display
freezes and Ctrl-C waits for it. The shard is therefore closed here and optimized by a child
process, which this process waits for in short slices. On Ctrl-C the child is killed: Edge
builds optimized segments beside the old ones and swaps them in, so a shard killed mid-build
reloads with every point and its old segments, and the rerun of the restore or migration runs
the optimize again (it is recorded as done only once it has finished).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from qdrant_ops.errors import EndpointError

# The child: dies with its parent (Linux), leaves Ctrl-C to the parent, prints optimize()'s result.
_CHILD = r"""
import ctypes, json, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[2]):
    sys.exit(1)
from qdrant_edge import EdgeShard
shard = EdgeShard.load(sys.argv[1])
optimized = bool(shard.optimize())
shard.flush()
shard.close()
print(json.dumps({"optimized": optimized}))
"""

WAIT_SLICE_S = 0.1


def optimize_in_child(shard_dir: Path, *, tick: Callable[[], None] | None = None) -> bool:
    """Optimize the (closed) shard at ``shard_dir`` in a child process; True when it changed."""
    import os

    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(shard_dir), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=WAIT_SLICE_S)
                break
            except subprocess.TimeoutExpired:
                if tick is not None:
                    tick()
    except BaseException:
        # Ctrl-C (or any error here): the build is abandoned; the shard keeps its old segments.
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        lines = [line for line in (err or "").strip().splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise EndpointError(f"Qdrant Edge optimize() of {shard_dir} failed: {why}")
    try:
        return bool(json.loads(out.strip().splitlines()[-1])["optimized"])
    except (ValueError, KeyError, IndexError):
        raise EndpointError(f"Qdrant Edge optimize() of {shard_dir}: unexpected output {out!r}") from None
