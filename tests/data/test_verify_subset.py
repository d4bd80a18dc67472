"""``verify --read-data-subset``: the spec, the partition, what a sample catches, and the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.data.verify_subset import Subset, domain, parse_subset, part_of
from qdrant_ops.endpoints.archive import load_manifest, write_tar
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import EXIT_USAGE, UsageError

runner = CliRunner()
MEM = ":memory:"


@pytest.mark.parametrize(("spec", "want"), [
    ("1/5", Subset("1/5", n=1, t=5)),
    ("5/5", Subset("5/5", n=5, t=5)),
    (" 2 / 3 ", Subset("2 / 3", n=2, t=3)),
    ("1/1", Subset("1/1", n=1, t=1)),
    ("10%", Subset("10%", percent=10.0)),
    ("0.5%", Subset("0.5%", percent=0.5)),
    ("100%", Subset("100%", percent=100.0)),
    ("7", Subset("7", count=7)),
])
def test_parse_subset(spec: str, want: Subset) -> None:
    assert parse_subset(spec) == want


@pytest.mark.parametrize("spec", ["0/5", "6/5", "1/0", "0%", "101%", "0", "", "abc", "1/2/3", "-1", "1.5", "%",
                                  "10%%", "1/5x"])
def test_parse_subset_refuses(spec: str) -> None:
    with pytest.raises(UsageError, match="n/t"):
        parse_subset(spec)


def test_choose_sizes() -> None:
    keys = [f"b/a/part-{i:05d}.parquet" for i in range(40)]
    rng = random.Random(3)
    assert len(Subset("10%", percent=10).choose(keys, rng)) == 4
    assert len(Subset("1%", percent=1).choose(keys, rng)) == 1  # at least one
    assert len(Subset("0.1%", percent=0.1).choose([str(i) for i in range(3000)], rng)) == 3  # not 4 (float)
    assert len(Subset("7", count=7).choose(keys, rng)) == 7
    assert Subset("99", count=99).choose(keys, rng) == set(keys)
    parts = [Subset(f"{n}/4", n=n, t=4).choose(keys) for n in range(1, 5)]
    assert sorted(k for p in parts for k in p) == sorted(keys) and all(parts)
    assert parts[0] == Subset("1/4", n=1, t=4).choose(list(reversed(keys)))  # a stable partition


def _collections(n: int = 150, seed: int = 7) -> None:
    client = open_endpoint(MEM).client  # type: ignore[attr-defined]
    for name in ("a", "b"):
        if client.collection_exists(name):
            client.delete_collection(name)
    make_collection(MEM, "a", "int-unnamed", n=n, seed=seed)
    make_collection(MEM, "b", "sparse", n=60)


def _backup(repo: Path, **kw: Any) -> Path:
    cfg = BackupConfig(backup_path=str(repo), source=endpoint_from_uri(MEM), collections=["a", "b"],
                       batch_size=10, rows_per_file=20, verify_integrity=False, **kw)
    return Path(backup(cfg).backup_dir)


def _keys(root: Path) -> list[str]:
    m = load_manifest(root)
    return [i.key for e in m.collections.values() for i in domain(root, e)]


def _flip(path: Path) -> None:
    """Change one byte in the middle of the file: same size, another sha256."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_parts_cover_every_file_once_and_a_corrupt_file_fails_only_its_part(tmp_path: Path) -> None:
    _collections()
    root = _backup(tmp_path / "repo")
    keys = _keys(root)
    t = 4
    reads = [verify_backup(str(root), subset=parse_subset(f"{n}/{t}")) for n in range(1, t + 1)]
    assert all(r.status == "ok" and r.files_total == len(keys) for r in reads)
    assert sum(r.files_read for r in reads) == len(keys) > t
    assert [r.files_read for r in reads] == [sum(part_of(k, t) == n for k in keys) for n in range(1, t + 1)]

    victim = next(k for k in keys if k.endswith(".parquet") and "/a/" in k)
    _flip(root.parent / victim)
    reads = [verify_backup(str(root), subset=parse_subset(f"{n}/{t}")) for n in range(1, t + 1)]
    bad = [n for n, r in enumerate(reads, 1) if r.status != "ok"]
    assert bad == [part_of(victim, t)]
    failed = reads[bad[0] - 1].failed_checks
    assert len(failed) == 1 and failed[0].collection == "a" and victim.split("/", 1)[1] in failed[0].detail
    assert verify_backup(str(root)).status == "failed"  # and a full read agrees


def test_missing_or_truncated_files_fail_every_part(tmp_path: Path) -> None:
    _collections()
    root = _backup(tmp_path / "repo")
    keys = sorted(k for k in _keys(root) if k.endswith(".parquet"))
    (root.parent / keys[0]).unlink()
    cut = root.parent / keys[-1]
    cut.write_bytes(cut.read_bytes()[:-1])
    for n in (1, 2, 3):
        rep = verify_backup(str(root), subset=parse_subset(f"{n}/3"))
        assert rep.status == "failed"
        detail = " ".join(c.detail for c in rep.failed_checks)
        assert keys[0].split("/", 1)[1] in detail and keys[-1].split("/", 1)[1] in detail


def test_incremental_sample_covers_the_chain(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _collections()
    parent = _backup(repo, incremental=True)
    _collections(170, seed=8)  # every point of a changes, and 20 are new
    child = _backup(repo, incremental=True)
    keys = _keys(child)
    assert {k.split("/")[0] for k in keys} == {parent.name, child.name}
    victim = next(k for k in keys if k.startswith(parent.name) and "/a/part-" in k)
    _flip(repo / victim)
    fails = [n for n in range(1, 4) if verify_backup(str(child), subset=parse_subset(f"{n}/3")).status != "ok"]
    assert fails == [part_of(victim, 3)]
    assert sum(verify_backup(str(child), subset=parse_subset(f"{n}/3")).files_read for n in range(1, 4)) == len(keys)


def test_cli_text_json_and_tar(tmp_path: Path) -> None:
    _collections()
    root = _backup(tmp_path / "repo")
    total = len(_keys(root))
    res = runner.invoke(app, ["verify", str(root), "--read-data-subset", "1"])
    assert res.exit_code == 0, res.stderr
    assert f"partial read (--read-data-subset 1): read 1 of {total} data files in full; the other {total - 1} " \
           "checked for presence and size. Not a full verification" in res.stdout
    tar = write_tar(root)
    res = runner.invoke(app, ["verify", str(tar), "--read-data-subset", "50%", "--json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["read_data_subset"] == "50%" and data["files_read"] == -(-total // 2) and data["files_total"] == total
    assert {(c["name"], c["passed"], c["inconclusive"]) for c in data["checks"] if c["name"] == "digest"} == {
        ("digest", False, True)}
    assert not [p for p in tar.parent.iterdir() if p.name.startswith(".qdrant-ops-read")]  # scratch removed


def test_cli_refuses_bad_specs_and_combinations(tmp_path: Path) -> None:
    _collections(30)
    root = _backup(tmp_path / "repo")
    for args in (["--read-data-subset", "0/5"], ["--read-data-subset", "x"], ["--read-data-subset", "1/2", "--full"],
                 ["--read-data-subset", "1/2", "--against", MEM]):
        res = runner.invoke(app, ["verify", str(root), *args])
        assert res.exit_code == EXIT_USAGE and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
        assert res.stderr.startswith("error:")
    res = runner.invoke(app, ["verify", "--source", MEM, "--target", MEM, "--read-data-subset", "1/2"])
    assert res.exit_code == EXIT_USAGE and len(res.stderr.strip().splitlines()) == 1, res.stderr
