"""Fuzzed input with hypothesis: config files (JSON, YAML, TOML), CLI arguments and manifests.

Every case must end with exit 0 or a clear refusal: exit 1-4 and ONE line on stderr starting
``error:``, never a traceback (exit 70 or an escaped exception). ``run_all`` counts them for
``benchmarks/trials.py``; ``test_fuzz.py`` runs it with a small budget and asserts zero.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.data.config import BackupConfig, RestoreConfig, VerifyConfig
from qdrant_ops.endpoints.archive import write_manifest_checksum

KEYS = sorted(
    set(BackupConfig.model_fields) | set(RestoreConfig.model_fields) | set(VerifyConfig.model_fields)
    | set(CleanupConfig.model_fields) | {"url", "host", "port", "path", "api_key", "timeout", "bogus", "ünï"}
)
UNSET = "${QDRANT_OPS_FUZZ_UNSET}"
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from([UNSET, "${QDRANT_OPS_FUZZ_UNSET:-x}", ":memory:", "1e400", "-1", "édge:/nø"]),
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(KEYS), c, max_size=3), max_leaves=8)
configs = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), values, max_size=6)
VERBS = ["backup", "restore", "verify", "cleanup-legacy"]


def toml_value(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if abs(v) < 2**63 else None
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        items = [toml_value(x) for x in v]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    return None


def to_toml(cfg: dict[str, Any]) -> str:
    lines = []
    for k, v in cfg.items():
        t = toml_value(v)
        if t is not None:
            lines.append(f"{json.dumps(k)} = {t}")
    return "\n".join(lines) + "\n"


class Tally:
    def __init__(self) -> None:
        self.cases = 0
        self.tracebacks = 0
        self.bad = 0
        self.examples: list[str] = []

    def judge(self, argv: list[str], result: Any, allowed: set[int]) -> None:
        self.cases += 1
        err = getattr(result, "stderr", "") or ""
        out = (result.output or "") + err
        escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
        # --debug logs the error's traceback on purpose; without it none may show.
        shown = "Traceback" in out and "--debug" not in argv
        if shown or result.exit_code == 70 or escaped:
            self.tracebacks += 1
            self.examples.append(f"traceback: {argv}: {out[-300:]} {result.exception!r}")
            return
        if result.exit_code not in allowed:
            self.bad += 1
            self.examples.append(f"exit {result.exit_code}: {argv}: {out[-300:]}")
            return
        ours = [line for line in err.split("\n") if line.strip()]  # a terminal breaks at \n only
        if result.exit_code != 0 and ours and ours[0].startswith("error:") and len(ours) != 1:
            self.bad += 1
            self.examples.append(f"{len(ours)} lines: {argv}: {err[-300:]}")


def _invoke(argv: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, argv, env=env, catch_exceptions=True)


def fuzz_configs(n: int, tmp: Path, fmt: str) -> Tally:
    tally = Tally()
    tmp.mkdir(parents=True, exist_ok=True)

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(cfg=configs, verb=st.sampled_from(VERBS), raw=st.one_of(st.none(), st.text(max_size=40)))
    def case(cfg: dict[str, Any], verb: str, raw: str | None) -> None:
        path = tmp / f"cfg.{fmt}"
        if raw is not None:
            text = raw
        elif fmt == "json":
            text = json.dumps(cfg, ensure_ascii=False)
        elif fmt == "yaml":
            text = yaml.safe_dump(cfg, allow_unicode=True)
        else:
            text = to_toml(cfg)
        path.write_text(text, encoding="utf-8")
        argv = ["config", "show", verb, "--config", str(path)]
        tally.judge(argv, _invoke(argv), {0, 2})

    case()
    return tally


OPTIONS = ["--source", "--target", "--backup-path", "--collections", "--batch-size", "--parallel",
           "--compression-level", "--rename", "--suffix", "--on-exists", "--api-key", "--config",
           "--report", "--against", "--full", "--tar", "--no-verify", "--continue-on-error", "--debug",
           "--log-format", "-q"]
arg_values = st.one_of(
    st.sampled_from(["0", "-1", "99999999999999999999", "a=b", "=", "nan", "json", "text", "append",
                     "/nonexistent/x", "../..", "", "💥", "http://127.0.0.1:9", ":memory:"]),
    st.text(max_size=12),
)


def fuzz_cli(n: int, tmp: Path) -> Tally:
    tally = Tally()
    tmp.mkdir(parents=True, exist_ok=True)

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(verb=st.sampled_from(["backup", "restore", "verify", "config", "bogus"]),
           rest=st.lists(st.one_of(st.sampled_from(OPTIONS), arg_values), max_size=6))
    def case(verb: str, rest: list[str]) -> None:
        cwd = os.getcwd()
        work = tmp / "cwd"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        os.chdir(work)  # anything a case creates stays in here
        try:
            argv = [verb, *rest]
            # click's own usage errors (exit 2) print a usage block, not one line: allowed
            tally.judge(argv, _invoke(argv), {0, 1, 2, 3, 4})
        finally:
            os.chdir(cwd)
            from qdrant_ops.endpoints.open import close_all

            close_all()

    case()
    return tally


def fuzz_manifests(n: int, tmp: Path, make_backup: Callable[[Path], Path]) -> Tally:
    """Replace one value anywhere in a real manifest with something else; verify must refuse cleanly."""
    tally = Tally()
    base = make_backup(tmp / "base")
    original = json.loads((base / "manifest.json").read_text())

    def paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [at]
        if isinstance(node, dict):
            for k, v in node.items():
                out += paths(v, at + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out += paths(v, at + (i,))
        return out

    all_paths = paths(original)[1:]

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(where=st.sampled_from(all_paths), value=values, drop=st.booleans(), rehash=st.booleans())
    def case(where: tuple[Any, ...], value: Any, drop: bool, rehash: bool) -> None:
        data = json.loads(json.dumps(original))
        node = data
        for k in where[:-1]:
            node = node[k]
        if drop and isinstance(node, dict):
            del node[where[-1]]
        else:
            node[where[-1]] = value
        copy = tmp / "copy" / base.name
        shutil.rmtree(copy.parent, ignore_errors=True)
        shutil.copytree(base, copy)
        (copy / "manifest.json").write_text(json.dumps(data))
        if rehash:  # half the cases get past the manifest's own sha256 to the checks behind it
            write_manifest_checksum(copy)
        for argv in (["verify", str(copy)], ["restore", str(copy), "--target", ":memory:"]):
            tally.judge(argv, _invoke(argv), {0, 1, 2, 3, 4})
            from qdrant_ops.endpoints.open import close_all

            close_all()

    case()
    return tally


def _small_backup(where: Path) -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from datagen import make_collection
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.open import close_all
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    close_all()
    make_collection(":memory:", "c", "sparse", 50)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(where), rows_per_file=20)
    out = Path(backup(cfg).backup_dir)
    close_all()
    return out


def run_all(n: int, tmp: Path) -> list[tuple[str, int, int, int]]:
    rows = []
    for fmt in ("json", "yaml", "toml"):
        t = fuzz_configs(n, tmp / fmt, fmt)
        rows.append((f"config ({fmt})", t.cases, t.tracebacks, t.bad))
        _show(t)
    t = fuzz_cli(n, tmp / "cli")
    rows.append(("CLI arguments", t.cases, t.tracebacks, t.bad))
    _show(t)
    t = fuzz_manifests(n, tmp / "manifest", _small_backup)
    rows.append(("manifests (verify + restore)", t.cases, t.tracebacks, t.bad))
    _show(t)
    return rows


def _show(t: Tally) -> None:
    import logging

    for e in t.examples[:5]:
        logging.getLogger("qdrant_ops.trials").warning("%s", e)
