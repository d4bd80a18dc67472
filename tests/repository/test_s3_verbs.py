"""Every verb that takes a backup path, from the command line, with s3:// on the loopback server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import open_endpoint

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_cli_backup_restore_verify_with_storage_options(
    s3_server: str, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the endpoint comes from --storage-option here
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    src = str(tmp_path / "src")
    make_collection(src, "a", "uuid-named", n=120)
    opts = ["--storage-option", f"endpoint_url={s3_server}", "--storage-option", "secret_key=testing-secret-key",
            "--storage-option", "access_key=testing-key-id"]
    code, out, err = run(*opts, "backup", "--source", src, "--backup-path", s3_url, "--report", str(tmp_path / "r"))
    assert code == 0, err
    assert "testing-secret-key" not in out + err + (tmp_path / "r.json").read_text() + (tmp_path / "r.md").read_text()
    code, out, err = run(*opts, "verify", s3_url, "--against", src, "--full")
    assert code == 0, out + err
    code, out, err = run(*opts, "restore", s3_url, "--target", str(tmp_path / "dst"))
    assert code == 0, out + err
    assert open_endpoint(str(tmp_path / "dst")).count("a") == 120


def test_cli_bad_storage_option_is_one_line(s3_url: str) -> None:
    code, _, err = run("--storage-option", "nonsense", "verify", s3_url)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "key=value" in err
    code, _, err = run("verify", s3_url, "--storage-option", "colour=blue")  # after the verb too
    assert code == 2 and len(err.strip().splitlines()) == 1 and "colour" in err


def test_unreachable_store_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    import qdrant_ops.repository.store as store
    from qdrant_ops.pipeline.retry import RetryPolicy

    monkeypatch.setattr(store, "RetryPolicy", lambda: RetryPolicy(max_retries=2, base_delay=0.01))
    code, _, err = run("verify", "s3://nobody-bucket/backups")
    assert code == 3 and len(err.strip().splitlines()) == 1, err


def test_migrate_with_backup_to_s3(s3: Any, s3_url: str, tmp_path: Path) -> None:
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    make_collection(src, "docs", "int-unnamed", n=90)
    code, out, err = run("migrate", "--source", src, "--target", dst, "--backup-path", s3_url,
                         "--report", str(tmp_path / "m"))
    assert code == 0, out + err
    backup_dir = json.loads((tmp_path / "m.json").read_text())["backup_dir"]
    assert backup_dir.startswith(s3_url + "/")
    code, out, err = run("verify", backup_dir, "--against", src)
    assert code == 0, out + err


def test_transient_store_errors_are_retried(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store call that fails with a network error succeeds on a later attempt."""
    import qdrant_ops.repository.store as store
    from qdrant_ops.pipeline.retry import RetryPolicy

    monkeypatch.setattr(store, "RetryPolicy", lambda: RetryPolicy(max_retries=3, base_delay=0.001))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("AWS Error NETWORK_CONNECTION during PutObject operation: curlCode: 7")
        return "ok"

    assert store.storage_call(flaky, "upload x") == "ok" and len(calls) == 3
    with pytest.raises(store.EndpointError):
        store.storage_call(lambda: (_ for _ in ()).throw(OSError("AWS Error ACCESS_DENIED")), "upload y")
