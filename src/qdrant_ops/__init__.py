"""qdrant-ops: back up, migrate, verify and consolidate Qdrant collections and their code."""

from __future__ import annotations

import os

# Arrow allocates from the C library's malloc (its "system" pool) rather than the mimalloc that
# pyarrow bundles. mimalloc keeps what it frees for reuse, in heaps of the thread that allocated
# it, and the data verbs allocate Arrow buffers in several threads (read-ahead of the next row
# group, the background Parquet writer); the buffers are few and large, which malloc serves with
# mmap and hands back when freed. Measured with benchmarks/bench.py (`:memory:`, 10k 128-d
# points): peak RSS above the engine 41 -> 24 MiB for a backup, 25 -> 5 MiB for a restore, 40 ->
# 20 MiB for `verify BACKUP`, at the same speed; a 2k-point restore into local mode on disk 18 ->
# 0.3-0.8 MiB. pyarrow reads this once, when it is first imported, so it is set before any
# qdrant-ops module imports it; a process that chose its allocator keeps it.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"

__all__ = ["__version__"]
