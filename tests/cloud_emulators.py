"""Local GCS and Azure Blob emulators on loopback, for the gs:// and az:// repository tests.

Azure: Azurite (npm ``azurite``; `.ci/run` installs it under ``.tools/``). GCS: the
``gcp-storage-emulator`` package (the ``[dev]`` extra). A missing emulator fails the test that
needs it with the command that installs it: CI installs both, so a skip would hide a gap.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Azurite's development account: a fixed, published name and key that only the emulator accepts.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT = 60.0


def azurite_command() -> str:
    """The azurite-blob executable: $AZURITE_BLOB, the project's .tools/, else the PATH."""
    for candidate in (os.environ.get("AZURITE_BLOB"), str(ROOT / ".tools/node_modules/.bin/azurite-blob"),
                      shutil.which("azurite-blob")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("Azurite is not installed (the az:// tests need it): run `make azurite`, which .ci/run "
                "does, or set AZURITE_BLOB to an azurite-blob executable", pytrace=False)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _fail_start(what: str, log: Path) -> None:
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    pytest.fail(f"{what} did not start within {START_TIMEOUT:.0f} s:\n{tail}", pytrace=False)


@contextmanager
def azurite(workdir: Path) -> Iterator[str]:
    """Azurite's blob service on a free loopback port, its data in ``workdir``; yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "azurite.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [azurite_command(), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(workdir),
             "--silent", "--disableTelemetry", "--skipApiVersionCheck"],
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = re.search(r"listens on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                _fail_start("Azurite", log)
            time.sleep(0.1)
        yield found.group(1)
    finally:
        _stop(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gcs_emulator(workdir: Path) -> Iterator[str]:
    """gcp-storage-emulator on a free loopback port, its data in ``workdir``; yields its URL."""
    import importlib.util

    if importlib.util.find_spec("gcp_storage_emulator") is None:
        pytest.fail("gcp-storage-emulator is not installed (the gs:// tests need it): "
                    "pip install -e '.[dev]'", pytrace=False)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "gcs.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "--data-dir", str(workdir / "data"), "start",
             "--host", "127.0.0.1", "--port", str(port), "--quiet"],
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _fail_start("gcp-storage-emulator", log)
                time.sleep(0.1)
        yield url
    finally:
        _stop(proc)
