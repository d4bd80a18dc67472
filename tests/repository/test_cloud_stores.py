"""gs:// and az:// backup paths against local emulators: gcp-storage-emulator and Azurite.

Each store is reached the documented way: GCS through STORAGE_EMULATOR_HOST, Azure through
AZURE_STORAGE_CONNECTION_STRING (the environment, as each cloud's own tools read it), or through
``--storage-option``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from cloud_emulators import AZURITE_ACCOUNT, AZURITE_KEY
from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all, open_endpoint

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
_CLOUD_ENV = ("STORAGE_EMULATOR_HOST", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME",
              "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN")


@dataclass
class Store:
    scheme: str
    endpoint: str
    url: str  # <scheme>://<bucket>/backups
    fs: Any  # a filesystem of its own, to look at what the commands left in the store

    @property
    def root(self) -> str:
        return self.url.split("://", 1)[1]

    def objects(self, under: str = "") -> dict[str, int]:
        """Relative key -> size of every object under the repository (or ``under`` it)."""
        import pyarrow.fs as pafs

        base = f"{self.root}/{under}".rstrip("/")
        sel = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        return {i.path[len(base) + 1:]: i.size for i in self.fs.get_file_info(sel) if i.type == pafs.FileType.File}


def azurite_connection_string(endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};")


def inspector(scheme: str, endpoint: str) -> Any:
    import pyarrow.fs as pafs

    host = urlsplit(endpoint).netloc
    if scheme == "gs":
        return pafs.GcsFileSystem(anonymous=True, scheme="http", endpoint_override=host, project_id="test")
    return pafs.AzureFileSystem(account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY, blob_storage_authority=host,
                                dfs_storage_authority=host, blob_storage_scheme="http", dfs_storage_scheme="http")


def _open_store(scheme: str, endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A fresh bucket (container) on the session's emulator, reached through the environment."""
    for name in _CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    if scheme == "gs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    else:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(endpoint))
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    bucket = f"qo-{uuid.uuid4().hex[:12]}"
    fs = inspector(scheme, endpoint)
    fs.create_dir(bucket)
    return Store(scheme, endpoint, f"{scheme}://{bucket}/backups", fs)


@pytest.fixture(params=["gs", "az"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    scheme = str(request.param)
    endpoint = str(request.getfixturevalue("gcs_server" if scheme == "gs" else "azurite_server"))
    return _open_store(scheme, endpoint, tmp_path, monkeypatch)


@pytest.fixture
def az_store(azurite_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    return _open_store("az", azurite_server, tmp_path, monkeypatch)


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def _config(tmp_path: Path) -> str:
    path = tmp_path / "backup.json"
    path.write_text(json.dumps({"rows_per_file": 60, "batch_size": 30}))
    return str(path)


def test_backup_list_verify_restore_forget(store: Store, tmp_path: Path) -> None:
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    make_collection(src, "a", "int-unnamed", n=150)
    make_collection(src, "b", "uuid-named", n=70)
    code, out, err = run("backup", "--source", src, "--backup-path", store.url, "--config", _config(tmp_path),
                         "--report", str(tmp_path / "b1"))
    assert code == 0, out + err
    first = json.loads((tmp_path / "b1.json").read_text())["backup_dir"]
    assert first.startswith(store.url + "/")
    name = first.rsplit("/", 1)[1]
    keys = store.objects(name)
    assert "manifest.json" in keys and sum(k.endswith(".parquet") for k in keys) >= 4
    assert not [k for k in keys if "state.sqlite" in k or "plan.json" in k]

    code, out, err = run("backups", "list", store.url, "--json")
    assert code == 0, out + err
    rows = json.loads(out)["backups"]
    assert [(r["name"], r["state"], r["points"]) for r in rows] == [(name, "complete", 220)]

    code, out, err = run("verify", store.url)
    assert code == 0, out + err
    code, out, err = run("restore", store.url, "--target", dst)
    assert code == 0, out + err
    assert open_endpoint(dst).count("a") == 150 and open_endpoint(dst).count("b") == 70
    code, out, err = run("verify", store.url, "--against", dst, "--full", "--json")
    assert code == 0, out + err
    checked = {c["name"]: c for c in json.loads(out)["collections"]}
    assert set(checked) == {"a", "b"}
    for row in checked.values():
        assert row["expected_digest"] and row["expected_digest"] == row["actual_digest"], row

    code, out, err = run("backup", "--source", src, "--backup-path", store.url, "--report", str(tmp_path / "b2"))
    assert code == 0, out + err
    second = json.loads((tmp_path / "b2.json").read_text())["backup_dir"].rsplit("/", 1)[1]
    code, out, err = run("forget", store.url, "--keep-last", "1")
    assert code == 0, out + err
    assert not store.objects(name) and "manifest.json" in store.objects(second)
    code, out, err = run("backups", "list", store.url, "--json")
    assert code == 0, out + err
    assert [r["name"] for r in json.loads(out)["backups"]] == [second]


def test_interrupted_backup_resumes(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store goes away after two files were sent: the rerun sends only the rest."""
    import qdrant_ops.data.backup as backup_module
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.data.verify import verify_backup
    from qdrant_ops.endpoints.uri import endpoint_from_uri
    from qdrant_ops.errors import EndpointError

    src = str(tmp_path / "src")
    make_collection(src, "a", "int-unnamed", n=400)
    cfg = BackupConfig(backup_path=store.url, source=endpoint_from_uri(src), batch_size=50, rows_per_file=60)
    real, sent = backup_module.send_staged, []

    def failing(path: Path, work: Path, target: Any, done: set[str], *rest: Any) -> None:
        if len(sent) == 2:
            raise EndpointError(f"upload {target.display}: connection lost")
        real(path, work, target, done, *rest)
        sent.append(path.name)

    monkeypatch.setattr(backup_module, "send_staged", failing)
    with pytest.raises(EndpointError):
        backup(cfg)
    left = store.objects()
    # Files are streamed to the store as they are written: the two recorded ones are there whole,
    # a third may be there cut short (an Azure blob exists from its first block); no manifest.
    assert len(left) >= 2 and not [k for k in left if k.endswith("manifest.json")]

    monkeypatch.setattr(backup_module, "send_staged", real)
    rep = backup(cfg)
    assert rep.backup_dir.startswith(store.url + "/")
    keys = store.objects(rep.backup_dir.rsplit("/", 1)[1])
    assert set(left) <= {f"{rep.backup_dir.rsplit('/', 1)[1]}/{k}" for k in keys}  # the same prefix, resumed
    parts = [k for k in keys if k.endswith(".parquet")]
    assert rep.reused_files >= 2 and rep.uploaded_files >= 1 and rep.uploaded_files + rep.reused_files == len(parts)
    assert all(size > 0 for size in store.objects().values())  # a cut-short object was sent again
    check = verify_backup(store.url)
    assert check.status == "ok" and not check.failed_checks


def test_migrate_backs_up_to_the_store(store: Store, tmp_path: Path) -> None:
    """migrate's pre-migration backup goes to the store; verify reads it back against the source."""
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    make_collection(src, "docs", "sparse", n=90)
    code, out, err = run("migrate", "--source", src, "--target", dst, "--backup-path", store.url,
                         "--report", str(tmp_path / "m"))
    assert code == 0, out + err
    backup_dir = json.loads((tmp_path / "m.json").read_text())["backup_dir"]
    assert backup_dir.startswith(store.url + "/")
    code, out, err = run("verify", backup_dir, "--against", src)
    assert code == 0, out + err


def test_abfs_url_names_the_account(az_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``abfs://container@account.dfs.core.windows.net/prefix``: the account comes from the URL."""
    store = az_store
    from qdrant_ops.repository.location import open_location

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY)
    container = store.root.split("/")[0]
    url = f"abfs://{container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/backups"
    src = str(tmp_path / "src")
    make_collection(src, "a", "int-unnamed", n=40)
    # The endpoint in the URL's query: the backup's own URL, opened again to verify it, keeps it.
    code, out, err = run("backup", "--source", src, "--backup-path", f"{url}?endpoint_url={store.endpoint}")
    assert code == 0, out + err
    assert open_location(url).root == f"{container}/backups"
    assert len([k for k in store.objects() if k.endswith("manifest.json")]) == 1


@pytest.fixture(autouse=True)
def _no_leftover_options() -> Iterator[None]:
    """A CLI call's --storage-option stays set in this process: clear it for the next test."""
    from qdrant_ops.repository.location import set_storage_options

    yield
    set_storage_options({})


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qdrant_ops", *args], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _account_sas(key: str) -> str:
    """An account SAS token for the blob service, signed as Azure's account-SAS rules say."""
    import base64
    import hashlib
    import hmac
    from urllib.parse import quote

    fields = {"sv": "2021-08-06", "ss": "b", "srt": "sco", "sp": "rwdlac", "se": "2099-01-01T00:00:00Z",
              "spr": "https,http"}
    to_sign = "\n".join([AZURITE_ACCOUNT, fields["sp"], fields["ss"], fields["srt"], "", fields["se"], "",
                         fields["spr"], fields["sv"], "", ""])
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in {**fields, "sig": sig}.items())


def test_account_and_sas_token_from_the_environment(az_store: Store, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_SAS_TOKEN (as the Azure CLI prints one: no '?')."""
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", _account_sas(AZURITE_KEY))
    src = str(tmp_path / "src")
    make_collection(src, "a", "int-unnamed", n=30)
    opts = ["--storage-option", f"endpoint_url={az_store.endpoint}"]
    code, out, err = run(*opts, "backup", "--source", src, "--backup-path", az_store.url)
    assert code == 0, out + err
    code, out, err = run(*opts, "--json", "backups", "list", az_store.url)
    assert code == 0 and [b["points"] for b in json.loads(out)["backups"]] == [30], out + err


@pytest.mark.slow  # five commands, three of them in processes of their own
def test_no_credential_in_any_output(az_store: Store, tmp_path: Path) -> None:
    """The account key and a SAS token, given as --storage-option, appear in no stdout, stderr,
    report, manifest or local cache file, also when a command fails with --debug."""
    store = az_store
    env = {k: v for k, v in os.environ.items() if k not in _CLOUD_ENV}
    env["PYTHONPATH"] = str(ROOT / "src")
    src = str(tmp_path / "src")
    make_collection(src, "a", "int-unnamed", n=80)
    close_all()  # the commands below open the source in their own processes
    sas = _account_sas(AZURITE_KEY)
    base = ["--storage-option", f"account_name={AZURITE_ACCOUNT}", "--storage-option", f"endpoint_url={store.endpoint}"]
    with_key = [*base, "--storage-option", f"account_key={AZURITE_KEY}"]
    with_sas = [*base, "--storage-option", f"sas_token={sas}"]
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    runs = [
        _cli([*with_key, "backup", "--source", src, "--backup-path", store.url, "--report", str(tmp_path / "r")], env),
        _cli([*with_sas, "--log-format", "json", "restore", store.url, "--target", str(tmp_path / "dst")], env),
        _cli([*base, "--storage-option", f"account_key={wrong_key}", "--debug", "verify", store.url], env),
    ]
    assert [r.returncode for r in runs] == [0, 0, 3], [r.stderr for r in runs]
    assert open_endpoint(str(tmp_path / "dst")).count("a") == 80
    listed = run(*with_sas, "--json", "backups", "list", store.url)
    checked = run(*with_sas, "verify", store.url, "--report", str(tmp_path / "v"))
    assert listed[0] == 0 and json.loads(listed[1])["backups"][0]["state"] == "complete"
    assert checked[0] == 0, checked

    texts = [r.stdout + r.stderr for r in runs] + [listed[1] + listed[2], checked[1] + checked[2]]
    texts += [p.read_text() for p in tmp_path.glob("[rv].*") if p.suffix in (".json", ".md", ".html")]
    manifests = [k for k in store.objects() if k.endswith("manifest.json")]
    with store.fs.open_input_stream(f"{store.root}/{manifests[0]}") as fh:
        texts.append(fh.read().decode())
    cached = [p.read_bytes().decode("latin-1") for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(texts) >= 9 and manifests
    for secret in (AZURITE_KEY, sas, sas.rsplit("sig=", 1)[1], wrong_key):
        assert not [t for t in texts + cached if secret in t], secret


def test_missing_account_or_unknown_option_is_one_line(az_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    code, _, err = run("verify", az_store.url)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "account_name" in err, err
    code, _, err = run("--storage-option", "colour=blue", "verify", "gs://bucket/backups")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "colour" in err and "project_id" in err, err


@pytest.mark.parametrize("scheme", ["gs", "az"])
def test_unreachable_store_exits_3(scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens: one line and exit 3 within seconds (the client does not retry for minutes)."""
    import time

    import qdrant_ops.repository.store as store_module
    from qdrant_ops.pipeline.retry import RetryPolicy

    for name in _CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(store_module, "RetryPolicy", lambda: RetryPolicy(max_retries=0))
    opts = ["--storage-option", "endpoint_url=http://127.0.0.1:9"]  # nothing listens on the discard port
    if scheme == "az":
        opts += ["--storage-option", f"account_name={AZURITE_ACCOUNT}",
                 "--storage-option", f"account_key={AZURITE_KEY}"]
    started = time.monotonic()
    code, _, err = run(*opts, "verify", f"{scheme}://nobody/backups")
    assert code == 3 and len(err.strip().splitlines()) == 1 and "gave up after retries" in err, err
    assert time.monotonic() - started < 20


def _edge_source(uri: str, n: int, dim: int) -> None:
    import numpy as np

    from qdrant_ops.endpoints.base import CollectionSpec, Point

    ep = open_endpoint(uri)
    spec = CollectionSpec.from_json({"name": "big", "config": {"params": {"vectors": {"size": dim,
                                                                                      "distance": "Euclid"}}}})
    ep.create_collection("big", spec)
    rng = np.random.default_rng(3)
    for start in range(0, n, 2000):
        vecs = rng.random((min(2000, n - start), dim), dtype=np.float32)
        ep.write("big", [Point(id=start + i, vectors={"": v.tolist()}, payload={"i": start + i})
                         for i, v in enumerate(vecs)])
    ep.close()


@pytest.mark.slow
def test_kill9_mid_backup_resumes(store: Store, tmp_path: Path) -> None:
    """SIGKILL once two data files are in the store: the rerun sends only the others, and the
    result verifies point by point against the source."""
    import signal
    import time

    source = f"edge:{tmp_path}/src"
    _edge_source(source, n=8000, dim=128)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    config = tmp_path / "backup.json"
    config.write_text(json.dumps({"rows_per_file": 1000}))
    args = [sys.executable, "-m", "qdrant_ops", "--quiet", "backup", "--source", source, "--backup-path", store.url,
            "--config", str(config), "--no-verify"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    parts: list[str] = []
    while proc.poll() is None and time.monotonic() < deadline:
        # Azure shows a blob being written as empty until its blocks are committed: not sent yet.
        parts = [k for k, size in store.objects().items() if k.endswith(".parquet") and size]
        if len(parts) >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    assert not [k for k in store.objects() if k.endswith("manifest.json")]

    again = subprocess.run([*args, "--report", str(tmp_path / "resume")], check=False, cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    data = json.loads((tmp_path / "resume.json").read_text())
    name = data["backup_dir"].rsplit("/", 1)[1]
    files = [k for k in store.objects(name) if k.endswith(".parquet")]
    assert {p.split("/", 1)[0] for p in parts} == {name}  # the same backup, resumed
    # Files are streamed as they are written: the newest object seen may be one cut short by the
    # kill (the GCS emulator shows an upload in progress), which the rerun sends again.
    assert data["reused_files"] >= len(parts) - 1 and data["uploaded_files"] + data["reused_files"] == len(files)
    check = subprocess.run([*args[:4], "verify", store.url, "--against", source, "--full"], check=False, cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr


def test_snapshot_download_goes_to_the_store(store: Store, tmp_path: Path) -> None:
    """A native snapshot, served over HTTP as a Qdrant node serves it, checked and then sent on."""
    import hashlib
    import http.server
    import threading
    from functools import partial

    from qdrant_ops.snapshot.commands import Node, SnapshotItem, _fetch, _out_dir
    from qdrant_ops.snapshot.config import SnapshotConfig
    from qdrant_ops.snapshot.http import snapshot_path

    name = "docs-1-2026-01-01-00-00-00.snapshot"
    path = tmp_path / "www" / snapshot_path("docs", name).lstrip("/")
    path.parent.mkdir(parents=True)
    data = bytes(range(256)) * 4000
    path.write_bytes(data)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path / "www")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        cfg = SnapshotConfig(output=store.url)
        item = SnapshotItem(collection="docs", node=base, name=name, checksum=hashlib.sha256(data).hexdigest())
        _fetch(cfg, Node(base, None, None), item, _out_dir(cfg, "docs"))
    finally:
        server.shutdown()
        server.server_close()
    assert item.verified and item.path == f"{store.url}/docs/127.0.0.1-{name}"
    with store.fs.open_input_stream(f"{store.root}/docs/127.0.0.1-{name}") as fh:
        assert fh.read() == data


def test_runbook_backup_step_to_the_store(store: Store, tmp_path: Path) -> None:
    from qdrant_ops.data.verify import verify_backup
    from qdrant_ops.runbook.model import Runbook
    from qdrant_ops.runbook.run import run_runbook
    from qdrant_ops.runbook.runs import load_state
    from runbook_fixtures import make_repo, make_store, runbook_data

    local, repo = tmp_path / "store", make_repo(tmp_path / "repo")
    make_store(local)
    close_all()
    data = runbook_data(local, repo, tmp_path / "runs")
    step = {"id": "backup", "kind": "backup", "config": {"backup_path": store.url}}
    data["phases"] = [{"id": "7.1", "steps": [step]}]
    report = run_runbook(Runbook.model_validate(data))
    assert report.status == "ok", report.notes
    written = load_state(Path(report.run_dir)).steps[0].undo["backup_dir"]
    assert written.startswith(store.url + "/")
    assert verify_backup(written).status == "ok"


def test_gcs_without_credentials_fails_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A credentials file that cannot be read: one line naming it, exit 3, no retries."""
    import time

    for name in _CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    started = time.monotonic()
    code, _, err = run("verify", "gs://some-bucket/backups")
    assert code == 3 and len(err.strip().splitlines()) == 1 and "missing-key.json" in err, err
    assert "error_info" not in err and time.monotonic() - started < 10


def test_no_token_to_be_had_is_not_retried() -> None:
    """GCS reports a metadata server it cannot reach as UNAVAILABLE: retrying would only wait."""
    from qdrant_ops.errors import EndpointError
    from qdrant_ops.pipeline.retry import RetryPolicy
    from qdrant_ops.repository.store import storage_call

    calls: list[int] = []

    def no_token() -> None:
        calls.append(1)
        raise OSError("google::cloud::Status(UNAVAILABLE: Retry policy exhausted, with a last message of Could not "
                      "create a OAuth2 access token to authenticate the request. error_info={reason=}")

    with pytest.raises(EndpointError, match="OAuth2") as caught:
        storage_call(no_token, "list gs://b/p", RetryPolicy(max_retries=3, base_delay=0.001))
    assert calls == [1] and "gave up" not in str(caught.value) and "error_info" not in str(caught.value)


def test_azure_without_credentials_fails_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, token or login anywhere: DefaultAzureCredential finds none; one line, exit 3."""
    import time

    for name in [n for n in os.environ if n.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", str(tmp_path))  # no Azure CLI login to fall back on either
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    started = time.monotonic()
    code, _, err = run("--storage-option", "account_name=someaccount", "verify", "az://container/backups")
    assert code == 3 and len(err.strip().splitlines()) == 1 and "DefaultAzureCredential" in err, err
    assert time.monotonic() - started < 10


def test_incremental_chain_and_prune(store: Store, tmp_path: Path) -> None:
    """An incremental chain on gs:// and az://: the child reads through its parent on the store,
    restores to the source at its time, and prune leaves a complete chain alone."""
    from qdrant_client import QdrantClient, models

    from qdrant_ops.format.integrity import scan_digest

    src = str(tmp_path / "src")
    make_collection(src, "a", "uuid-named", n=150)  # dot and euclid: local mode keeps them as written
    made, digests = [], []
    for step in range(3):
        ep = open_endpoint(src)
        digests.append(scan_digest(ep, "a", ep.get_spec("a").vector_fields()))
        close_all()
        code, out, err = run("backup", "--source", src, "--backup-path", store.url, "--incremental",
                             "--config", _config(tmp_path), "--quiet")
        assert code == 0, out + err
        made.append(out.strip().splitlines()[-1])
        client = QdrantClient(path=src)
        ids = sorted(str(p.id) for p in client.scroll("a", limit=1000)[0])
        client.set_payload("a", payload={"step": step}, points=ids[step * 5 : step * 5 + 5])
        client.delete("a", points_selector=models.PointIdsList(points=[ids[-1]]))
        client.close()
    code, out, err = run("backups", "list", store.url, "--json")
    assert code == 0, out + err
    assert [r["parent"] for r in json.loads(out)["backups"]] == [None, *(m.rsplit("/", 1)[1] for m in made[:-1])]
    child = made[-1].rsplit("/", 1)[1]
    assert sum(k.endswith(".parquet") and "/index-" not in k for k in store.objects(child)) <= 2  # the changes only
    for k, url in enumerate(made):
        dst = str(tmp_path / f"dst{k}")
        code, out, err = run("restore", url, "--target", dst)
        assert code == 0, out + err
        ep = open_endpoint(dst)
        assert scan_digest(ep, "a", ep.get_spec("a").vector_fields()) == digests[k]
        close_all()
    code, out, err = run("prune", store.url, "--json")
    assert code == 0, out + err
    assert json.loads(out)["removed_count"] == 0
    code, out, err = run("verify", made[-1], "--read-data-subset", "1/1")
    assert code == 0, out + err
