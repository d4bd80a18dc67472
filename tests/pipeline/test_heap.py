"""``release_free_heap``: a thread's freed arena memory goes back to the system (glibc only)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from qdrant_ops.pipeline.heap import _malloc_trim, release_free_heap

# In a fresh process: a thread frees an 8 MiB block (mmapped, which raises glibc's mmap threshold
# to 8 MiB and its trim threshold to 16 MiB), then allocates and touches 6 MiB, which now comes
# from the thread's own arena, allocates a small block after it (still held, as an engine's
# longer-lived objects are) and frees the 6 MiB, which stays resident there as free memory.
PROBE = textwrap.dedent(
    """
    import ctypes, threading
    from qdrant_ops.pipeline.heap import release_free_heap

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def anon_kb():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon:"))

    def worker():
        libc.free(libc.malloc(8 << 20))
        block = libc.malloc(6 << 20)
        ctypes.memset(block, 1, 6 << 20)
        libc.malloc(64)
        libc.free(block)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    before = anon_kb()
    print(release_free_heap(), before - anon_kb())
    """
)


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_a_threads_freed_arena_memory_is_handed_back() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    released, freed_kb = out.stdout.split()
    assert released == "True"
    assert int(freed_kb) >= 5 * 1024  # the 6 MiB block's pages


def test_without_malloc_trim_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    _malloc_trim.cache_clear()
    try:
        assert release_free_heap() is False
    finally:
        monkeypatch.undo()
        _malloc_trim.cache_clear()
