"""Arrow allocates from the system allocator in a qdrant-ops process (see ``qdrant_ops/__init__.py``),
unless the process chose its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import qdrant_ops, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _backend(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_value is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_qdrant_ops_makes_arrow_use_the_system_allocator() -> None:
    assert _backend(None) == "system"


def test_an_allocator_the_process_chose_is_kept() -> None:
    import pyarrow as pa

    chosen = "mimalloc" if "mimalloc" in pa.supported_memory_backends() else "jemalloc"
    if chosen not in pa.supported_memory_backends():
        pytest.skip("this pyarrow has only the system allocator")
    assert _backend(chosen) == chosen
