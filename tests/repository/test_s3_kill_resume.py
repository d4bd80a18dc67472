"""A backup to S3 killed with SIGKILL mid-upload resumes: only missing files are sent, no
multipart upload is left open, and the result verifies exactly against the source."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _make_edge_source(uri: str, n: int, dim: int) -> None:
    import numpy as np

    from qdrant_ops.endpoints.base import CollectionSpec, Point
    from qdrant_ops.endpoints.open import open_endpoint

    ep = open_endpoint(uri)
    spec = CollectionSpec.from_json({"name": "big", "config": {"params": {"vectors": {"size": dim, "distance": "Euclid"}}}})
    ep.create_collection("big", spec)
    rng = np.random.default_rng(1)
    for start in range(0, n, 2000):
        vecs = rng.random((min(2000, n - start), dim), dtype=np.float32)
        ep.write("big", [Point(id=start + i, vectors={"": v.tolist()}, payload={"i": start + i}) for i, v in enumerate(vecs)])
    ep.close()


def _data_objects(s3: Any, bucket: str, prefix: str) -> int:
    """Objects the backup wrote under the repository, its lock object in locks/ not counted."""
    contents = s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return sum(1 for o in contents if not o["Key"].startswith(f"{prefix}/locks/") and not o["Key"].endswith("/"))


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qdrant_ops", "--quiet", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_mid_upload(proc: subprocess.Popen[bytes], s3: Any, bucket: str, prefix: str, sent: Callable[[], int]) -> None:
    """SIGKILL ``proc`` while a file is being sent and after two others were (``sent()`` counts
    the files in the store): the resume must skip those."""
    open_seen = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if sent() >= 2 and s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/").get("Uploads"):
            proc.send_signal(signal.SIGKILL)
            open_seen = True
            break
        time.sleep(0.005)
    proc.wait()
    assert open_seen, proc.stderr.read() if proc.stderr else "backup ended before any upload began"


@pytest.mark.slow
def test_kill9_mid_upload_resumes(s3: Any, s3_url: str, tmp_path: Path) -> None:
    source = f"edge:{tmp_path}/src"
    _make_edge_source(source, n=12000, dim=256)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}")
    config = tmp_path / "backup.json"
    config.write_text(json.dumps({"rows_per_file": 1500}))
    args = ["backup", "--source", source, "--backup-path", s3_url, "--config", str(config), "--no-verify"]
    bucket, _, prefix = s3_url[len("s3://"):].partition("/")

    proc = _cli(args, env)
    kill_mid_upload(proc, s3, bucket, prefix, lambda: _data_objects(s3, bucket, prefix))
    listed = _data_objects(s3, bucket, prefix)
    assert not any(k["Key"].endswith("manifest.json") for k in
                   s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", []))

    report = tmp_path / "resume"
    again = _cli([*args, "--report", str(report)], env)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err.decode()
    data = json.loads(report.with_suffix(".json").read_text())
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{data['backup_dir'][len('s3://' + bucket) + 1:]}/manifest.json")["Body"].read())
    files = len(manifest["collections"]["big"]["files"])  # the manifest is sent apart, last
    # A file streamed whole before its slice's checkpoint recorded it is written again by the
    # rerun: at most one such file per slice; every other object the killed run left is reused.
    slices = int(manifest["collections"]["big"].get("slices", 1))
    assert listed >= 2 and data["reused_files"] >= listed - slices
    assert data["uploaded_files"] + data["reused_files"] == files
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/").get("Uploads")
    # The killed run's lock object named a process gone from this host: the rerun removed it.
    locks = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/locks/").get("Contents", [])
    assert not [o["Key"] for o in locks if not o["Key"].endswith("/")]  # pyarrow leaves a folder marker
    assert "removed a stale lock" in " ".join(data["notes"]), data["notes"]

    check = _cli(["verify", s3_url, "--against", source, "--full"], env)
    out, err = check.communicate(timeout=180)
    assert check.returncode == 0, (out + err).decode()
