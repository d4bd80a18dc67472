"""A Milvus server as a read-only source (``milvus+http://``), against Milvus Lite's gRPC server.

The server runs in its own process and, like a Milvus server with ``authorizationEnabled``,
refuses any call without the right token (tests/milvus_grpc_server.py). It holds a database ``prod``
whose collection has a VARCHAR key, dense + sparse fields, JSON and dynamic fields and a partition
of its own, a two-vector collection in the default database, and a released one in ``archive``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from endpoints.sources.test_milvus import create_docs
from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point, SparseValue
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.errors import UnsupportedError
from qdrant_ops.secrets import MASK

runner = CliRunner()
USER, PASSWORD = "root", "s3cret-pw"
N = 100
SERVER = Path(__file__).resolve().parents[2] / "milvus_grpc_server.py"  # Milvus Lite behind a token check


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Milvus-protocol server holding the test data."""
    from pymilvus import DataType, MilvusClient

    data = tmp_path_factory.mktemp("milvus-server") / "data"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(data), "--token", f"{USER}:{PASSWORD}"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening "), line
        address = f"127.0.0.1:{int(line.split()[1])}"
        client = MilvusClient(uri=f"http://{address}", token=f"{USER}:{PASSWORD}")
        client.create_database("prod")
        client.use_database("prod")
        rng = np.random.default_rng(8)
        create_docs(client)
        client.create_partition("docs", "recent")
        rows = [
            {"pk": f"k{i:03d}", "dense": rng.random(8).tolist(), "terms": {i + 1: 0.5, 300 + i: 1.25},
             "title": f"t {i} é", "info": {"n": i, "l": [1, None]}, "extra": i * 2}
            for i in range(N)
        ]
        client.insert("docs", rows[:70])
        client.insert("docs", rows[70:], partition_name="recent")
        client.use_database("default")
        multi = MilvusClient.create_schema(auto_id=False)
        multi.add_field("id", DataType.INT64, is_primary=True)
        multi.add_field("a", DataType.FLOAT_VECTOR, dim=4)
        multi.add_field("b", DataType.FLOAT_VECTOR, dim=3)
        p2 = client.prepare_index_params()
        p2.add_index("a", index_type="FLAT", metric_type="IP")
        p2.add_index("b", index_type="FLAT", metric_type="L2")
        client.create_collection("multi", schema=multi, index_params=p2)
        client.insert("multi", [{"id": i, "a": rng.random(4).tolist(), "b": rng.random(3).tolist()} for i in range(40)])
        # a collection the server holds released (as a cluster keeps cold ones)
        client.create_database("archive")
        client.use_database("archive")
        client.create_collection("cold", schema=multi, index_params=p2)
        client.insert("cold", [{"id": i, "a": rng.random(4).tolist(), "b": rng.random(3).tolist()} for i in range(12)])
        client.release_collection("cold")
        client.close()
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _leaks(where: Path) -> list[str]:
    """Files under ``where`` that hold the password, or the mask a message would show in its place."""
    return [str(f) for f in where.rglob("*") if f.is_file() and (
        PASSWORD.encode() in f.read_bytes() or MASK.encode() in f.read_bytes())]


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_migrate_verify_validate_and_tamper(
    milvus_server: str, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = f"milvus+http://{USER}:{PASSWORD}@{milvus_server}?database=prod"
    dst = f"edge:{tmp_path / 'edge'}" if kind == "edge" else str(tmp_path / "local")
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "field 'dense': metric COSINE -> Cosine" in res.output
    assert f"milvus+http://{milvus_server}?database=prod" in res.output
    assert PASSWORD not in res.output and MASK not in res.output
    report = json.loads((tmp_path / "rep.json").read_text())
    assert all(c["passed"] for c in report["checks"])
    assert _leaks(tmp_path) == []
    close_all()
    ep = open_endpoint(dst)
    assert ep.collection_exists("docs") and not ep.collection_exists("multi")  # only the prod database
    assert ep.count("docs") == N
    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, "k075"))
    (p,) = ep.retrieve("docs", [pid])
    assert p.payload == {"title": "t 75 é", "info": {"n": 75, "l": [1, None]}, "extra": 150,
                         "_partition": "recent", "_source_id": "k075"}
    assert isinstance(p.vectors["terms"], SparseValue) and p.vectors["terms"].indices == [76, 375]
    close_all()
    # the token from MILVUS_TOKEN instead of the URI
    monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    plain = f"milvus+http://{milvus_server}?database=prod"
    res = runner.invoke(app, ["verify", "--source", plain, "--target", dst, "--full"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", "-s", plain, "-t", dst, "--json"])
    assert res.exit_code == 0, res.output
    ep = open_endpoint(dst)
    if kind == "local":
        from qdrant_client import models

        ep.client.delete("docs", points_selector=models.PointIdsList(points=[pid]))  # type: ignore[attr-defined]
    else:
        ep.write("docs", [Point(pid, {**p.vectors, "": [1.0] + [0.0] * 7}, p.payload)])
        ep.flush("docs")  # type: ignore[attr-defined]
    close_all()
    assert runner.invoke(app, ["validate", "-s", plain, "-t", dst]).exit_code == 1


def test_backup_from_a_server_and_two_vectors(milvus_server: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    src = f"milvus+http://{milvus_server}"  # the default database
    res = runner.invoke(app, ["backup", "--source", src, "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    (bdir,) = [d for d in (tmp_path / "bk").iterdir() if (d / "manifest.json").exists()]
    manifest = json.loads((bdir / "manifest.json").read_text())
    assert list(manifest["collections"]) == ["multi"]
    assert runner.invoke(app, ["verify", str(bdir)]).exit_code == 0
    assert _leaks(tmp_path) == []
    ep = open_endpoint(src)
    spec = ep.get_spec("multi")
    assert {f.name: (f.distance, f.size) for f in spec.vector_fields()} == {"a": ("Dot", 4), "b": ("Euclid", 3)}
    # the engine's own search and exact search agree (IP scores are similarities, L2 are distances)
    v = next(ep.scan("multi", batch_size=8)).points[3].vectors["b"]
    ann = ep.query("multi", v, using="b", limit=5)  # type: ignore[attr-defined]
    exact = ep.query("multi", v, using="b", limit=5, exact=True)  # type: ignore[attr-defined]
    assert [i for i, _ in ann] == [i for i, _ in exact] and ann[0] == (3, pytest.approx(0.0, abs=1e-4))
    assert np.allclose([s for _, s in ann], [s for _, s in exact], atol=1e-4)
    close_all()


def test_partitions_option_reads_only_those(milvus_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    # a lone user part is the token (an API key; here user:password percent-encoded)
    ep = open_endpoint(f"milvus+http://{USER}%3A{PASSWORD}@{milvus_server}?database=prod&partitions=recent")
    assert ep.info().display == f"milvus+http://{milvus_server}?database=prod"
    assert ep.count("docs") == N - 70
    points = [p for page in ep.scan("docs", batch_size=7) for p in page.points]
    assert sorted(p.payload["_source_id"] for p in points) == [f"k{i:03d}" for i in range(70, N)]
    assert {p.payload["_partition"] for p in points} == {"recent"}
    assert "docs: only partitions recent are read (?partitions=)" in ep.describe_mapping("docs")  # type: ignore[attr-defined]
    hits = ep.query("docs", points[0].vectors[""], limit=10)  # type: ignore[attr-defined]
    assert {str(i) for i, _ in hits} <= {str(p.id) for p in points}  # the engine searched that partition only
    close_all()
    monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    res = runner.invoke(app, ["backup", "--source", f"milvus+http://{milvus_server}?database=prod&partitions=old",
                              "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "no partition old" in res.output, res.output


@pytest.mark.parametrize(("uri", "env", "code", "says"), [
    ("milvus+http://{a}?database=prod", None, 3, "user:password@ in the URI or MILVUS_TOKEN"),
    ("milvus+http://root:wrong-pw@{a}", None, 3, "cannot reach milvus+http://{a}:"),
    ("milvus+http://{a}?database=nope", "ok", 2, "database 'nope' does not exist"),
    ("milvus+http://root:{pw}@{a}?colour=red", None, 2, "unknown option(s) colour"),
    ("milvus+http://root:{pw}@{a}/prod", None, 2, "?database="),
    ("milvus+http://{a}?timeout=soon", "ok", 2, "timeout= takes seconds"),
    ("milvus+http://127.0.0.1:1?timeout=2", "ok", 3, "cannot reach milvus+http://127.0.0.1:1"),
])
def test_refusals_are_one_line_and_never_show_the_password(
    milvus_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str, env: str | None, code: int,
    says: str,
) -> None:
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    if env:
        monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    res = runner.invoke(app, ["backup", "--source", uri.format(a=milvus_server, pw=PASSWORD),
                              "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == code, res.output
    assert says.format(a=milvus_server) in res.output
    assert PASSWORD not in res.output and "wrong-pw" not in res.output
    assert "Traceback" not in res.output and not (tmp_path / "b").exists()


def test_a_vector_type_not_mapped_is_refused_by_name(milvus_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Milvus Lite cannot store binary, float16, bfloat16 or int8 vectors, so the field a Milvus
    # server would describe is added at the client boundary.
    from pymilvus import DataType

    monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    ep = open_endpoint(f"milvus+http://{milvus_server}")
    real = ep.client  # type: ignore[attr-defined]

    class WithBinary:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def describe_collection(self, name: str) -> dict[str, object]:
            desc = dict(real.describe_collection(name))
            desc["fields"] = [*desc["fields"], {"name": "bits", "type": DataType.BINARY_VECTOR, "params": {"dim": 16}}]
            return desc

    ep.client = WithBinary()  # type: ignore[attr-defined]
    try:
        with pytest.raises(UnsupportedError, match=r"vector field 'bits' is BINARY_VECTOR .*not mapped"):
            ep.get_spec("multi")
    finally:
        ep.client = real  # type: ignore[attr-defined]
        close_all()


def test_the_qdrant_api_key_is_never_sent_to_milvus(
    milvus_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    # the right token given as Qdrant's key: Milvus must not see it, so the server refuses
    res = runner.invoke(app, ["migrate", "-s", f"milvus+http://{milvus_server}", "-t", str(tmp_path / "t"),
                              "--api-key", f"{USER}:{PASSWORD}", "--backup-path", str(tmp_path / "bk"), "--dry-run"])
    assert res.exit_code == 3, res.output
    assert PASSWORD not in res.output


def test_a_released_collection_is_loaded_only_when_asked_and_released_after(
    milvus_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymilvus import MilvusClient

    monkeypatch.setenv("MILVUS_TOKEN", f"{USER}:{PASSWORD}")
    probe = MilvusClient(uri=f"http://{milvus_server}", token=f"{USER}:{PASSWORD}", db_name="archive")
    src = f"milvus+http://{milvus_server}?database=archive"
    res = runner.invoke(app, ["backup", "--source", src, "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "not loaded on the server" in res.output and "?load=true" in res.output, res.output
    assert probe.get_load_state("cold")["state"].name == "NotLoad"  # the server was left as it was
    res = runner.invoke(app, ["migrate", "-s", src + "&load=true", "-t", str(tmp_path / "t"),
                              "--backup-path", str(tmp_path / "bk"), "--dry-run"])
    assert res.exit_code == 0 and "loaded for this read, released after (?load=true)" in res.output, res.output
    assert probe.get_load_state("cold")["state"].name == "NotLoad"
    res = runner.invoke(app, ["backup", "--source", src + "&load=true", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert probe.get_load_state("cold")["state"].name == "NotLoad"  # loaded for the read, released after
    probe.close()


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "server.pem", where / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def test_milvus_over_tls_trusts_the_given_certificate_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pymilvus import DataType, MilvusClient

    cert, key = _self_signed(tmp_path)
    proc = subprocess.Popen([sys.executable, str(SERVER), str(tmp_path / "data"), "--tls", str(cert), str(key)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        address = f"127.0.0.1:{int(proc.stdout.readline().split()[1])}"
        client = MilvusClient(uri=f"https://{address}", server_pem_path=str(cert))
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        params = client.prepare_index_params()
        params.add_index("v", index_type="FLAT", metric_type="L2")
        client.create_collection("tiny", schema=schema, index_params=params)
        client.insert("tiny", [{"id": i, "v": [float(i), 1.0]} for i in range(5)])
        client.close()
        monkeypatch.delenv("MILVUS_TOKEN", raising=False)
        ok = runner.invoke(app, ["backup", "--source", f"milvus+https://{address}?ca={cert}",
                                 "--backup-path", str(tmp_path / "bk")])
        assert ok.exit_code == 0, ok.output
        for uri in (f"milvus+https://{address}?timeout=2", f"milvus+http://{address}?timeout=2"):
            res = runner.invoke(app, ["backup", "--source", uri, "--backup-path", str(tmp_path / "no")])
            assert res.exit_code == 3 and "cannot reach" in res.output, (uri, res.output)  # untrusted; not TLS
        res = runner.invoke(app, ["backup", "--source", f"milvus+https://{address}?ca={tmp_path / 'none.pem'}",
                                  "--backup-path", str(tmp_path / "no")])
        assert res.exit_code == 2 and "no such file" in res.output, res.output
    finally:
        close_all()
        proc.terminate()
        proc.wait(timeout=30)
