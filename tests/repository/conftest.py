"""Object stores on loopback for the repository tests: moto's S3 server, and (tests/cloud_emulators.py)
the GCS emulator and Azurite, each started once per test session."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CREDS = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
         "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto server started for this test session."""
    from moto.server import ThreadedMotoServer

    for key, value in CREDS.items():
        os.environ.setdefault(key, value)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def s3(s3_server: str) -> Any:
    """A boto3 client of the loopback server, to look at what a backup left there."""
    return s3_client(s3_server)


@pytest.fixture
def s3_url(s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<fresh bucket>/backups`` on the loopback server, reached through AWS_ENDPOINT_URL;
    the local caches go under tmp_path."""
    bucket = f"qo-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    return f"s3://{bucket}/backups"


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The blob endpoint of an Azurite started for this test session (az:// tests)."""
    from cloud_emulators import azurite

    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of a GCS emulator started for this test session (gs:// tests)."""
    from cloud_emulators import gcs_emulator

    with gcs_emulator(tmp_path_factory.mktemp("gcs")) as url:
        yield url
