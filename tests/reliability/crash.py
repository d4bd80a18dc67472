"""Crash trials: run the real ``qdrant-ops`` command, SIGKILL it at a random moment, rerun it to
completion, and check that nothing was lost, duplicated, or passed off as complete.

Shared by ``tests/reliability/test_crash.py`` (a few trials) and ``benchmarks/trials.py`` (many).
Every figure a trial returns is measured from the stores and backups it left behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.archive import PARTIAL_PREFIX, is_complete_backup, load_manifest
from qdrant_ops.errors import QdrantOpsError
from qdrant_ops.format.integrity import Digest, scan_digest

# The real command, with ``--parallel N`` slicing the embedded store as it slices a server's
# collection (qdrant-ops scans local mode in one stream: see ``pipeline/scope.py``), so a kill
# lands between slices that each checkpoint on their own.
SLICED_CLI = (
    "import qdrant_ops.pipeline.scope as scope; scope.ONE_STREAM_KINDS = frozenset(); "
    "from qdrant_ops.cli import main; main()"
)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", SLICED_CLI, "--quiet", *args]


def run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def run_and_kill(args: list[str], after_s: float) -> bool:
    """Start ``args``, SIGKILL it after ``after_s`` seconds; True when it finished first."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=after_s)
        return True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return False


@dataclass
class Content:
    """What a collection holds: its ids (with multiplicity) and its digest."""

    ids: Counter[Any]
    digest: Digest

    def compare(self, expected: Content) -> tuple[int, int]:
        """(lost, duplicated) ids relative to ``expected``."""
        lost = sum(1 for i in expected.ids if i not in self.ids)
        dup = sum(n - 1 for n in self.ids.values() if n > 1)
        return lost, dup


def store_content(store: str, name: str) -> Content:
    """Ids and digest of a collection in a local-mode store (opened, read, closed).

    A private client, not the shared registry: trials run in threads, and ``close_all`` in one
    would close the store another is reading."""
    from qdrant_client import QdrantClient

    from qdrant_ops.endpoints.qdrant import QdrantEndpoint

    client = QdrantClient(path=store)
    try:
        ep = QdrantEndpoint(client, store, "local")
        fields = ep.get_spec(name).vector_fields()
        ids: Counter[Any] = Counter()
        for page in ep.scan(name, batch_size=2000, with_vectors=False):
            ids.update(p.id for p in page.points)
        return Content(ids, scan_digest(ep, name, fields, 2000))
    finally:
        client.close()


def backup_content(backup_dir: Path, name: str) -> Content:
    """Ids read from a backup's Parquet files, and the digest its manifest records."""
    import pyarrow.parquet as pq

    entry = load_manifest(backup_dir).collections[name]
    ids: Counter[Any] = Counter()
    for fe in entry.files:
        t = pq.read_table(backup_dir / fe.path, columns=["id_int", "id_uuid"])
        for i, u in zip(t.column("id_int").to_pylist(), t.column("id_uuid").to_pylist()):
            ids[u if u is not None else i] += 1
    return Content(ids, entry.digest)


@dataclass
class TrialResult:
    verb: str
    killed: bool  # False: the run had finished before the kill
    kill_at_s: float
    lost: int = 0
    duplicated: int = 0
    digest_ok: bool = False
    partial_left: bool = False  # the kill left unfinished work behind
    partial_refused: bool = False  # ... and it was refused / detected as incomplete
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.lost == 0
            and self.duplicated == 0
            and self.digest_ok
            and (self.partial_refused or not self.partial_left)
        )


def _refuses(args: list[str]) -> tuple[bool, str]:
    res = run(args)
    return res.returncode != 0 and "Traceback" not in res.stderr, res.stderr.strip()


def backup_config(path: Path, rows_per_file: int, batch_size: int) -> Path:
    path.write_text(json.dumps({"rows_per_file": rows_per_file, "batch_size": batch_size}))
    return path


def backup_trial(
    source: str, expected: Content, work: Path, rng: random.Random, window_s: float, parallel: int,
    config: Path,
) -> TrialResult:
    """Kill a backup of ``source`` at a random moment, check what it left, rerun, check the result."""
    root = work / "backups"
    args = cli("backup", "--source", source, "--backup-path", str(root), "--parallel", str(parallel),
               "--no-verify", "--config", str(config))
    at = rng.uniform(0.0, window_s)
    finished = run_and_kill(args, at)
    res = TrialResult("backup", killed=not finished, kill_at_s=at)
    complete = [d for d in root.iterdir() if is_complete_backup(d)] if root.exists() else []
    partial = [d for d in root.iterdir() if d.name.startswith(PARTIAL_PREFIX)] if root.exists() else []
    if not complete and partial:
        res.partial_left = True
        target = str(work / "refused-target")
        refused_root, why_root = _refuses(cli("restore", str(root), "--target", target))
        refused_dir, why_dir = _refuses(cli("restore", str(partial[0]), "--target", target))
        refused_verify, _ = _refuses(cli("verify", str(partial[0])))
        res.partial_refused = refused_root and refused_dir and refused_verify
        if not res.partial_refused:
            res.problems.append(f"partial backup not refused: {why_root!r} {why_dir!r}")
        if Path(target).exists():
            res.problems.append("a refused restore opened its target")
    for d in complete:  # a backup that looks complete must be complete
        try:
            got = backup_content(d, "c")
        except QdrantOpsError as exc:
            res.problems.append(f"complete-looking backup {d.name} unreadable: {exc}")
            continue
        lost, dup = got.compare(expected)
        if lost or dup or got.digest != expected.digest:
            res.problems.append(f"backup {d.name} looked complete but lost {lost}, duplicated {dup}")
    done = run(args)
    if done.returncode != 0:
        res.problems.append(f"rerun exited {done.returncode}: {done.stderr.strip()[-300:]}")
        return res
    newest = sorted(d for d in root.iterdir() if is_complete_backup(d))[-1]
    verify = run(cli("verify", str(newest)))
    if verify.returncode != 0:
        res.problems.append(f"verify of the finished backup exited {verify.returncode}")
    got = backup_content(newest, "c")
    res.lost, res.duplicated = got.compare(expected)
    res.digest_ok = got.digest == expected.digest and sum(got.ids.values()) == sum(expected.ids.values())
    if any(d.name.startswith(PARTIAL_PREFIX) for d in root.iterdir()):
        res.problems.append("a partial directory was left after the rerun")
    return res


def restore_trial(
    backup_dir: Path, expected: Content, work: Path, rng: random.Random, window_s: float, parallel: int
) -> TrialResult:
    """Kill a restore at a random moment, check the target is not taken as complete, rerun, check."""
    target = str(work / "target")
    args = cli("restore", str(backup_dir), "--target", target, "--parallel", str(parallel), "--batch-size", "1000")
    at = rng.uniform(0.0, window_s)
    finished = run_and_kill(args, at)
    res = TrialResult("restore", killed=not finished, kill_at_s=at)
    if not finished:
        try:
            got = store_content(target, "c") if Path(target).exists() else None
        except QdrantOpsError:
            got = None  # the collection was not created yet
        if got is None or got.digest != expected.digest:
            res.partial_left = True
            # verify against the half-restored target must not pass
            refused, why = _refuses(cli("verify", str(backup_dir), "--against", target))
            res.partial_refused = refused
            if not refused:
                res.problems.append(f"verify passed a half-restored target: {why!r}")
    if not finished:
        done = run(args)
        if done.returncode != 0:
            res.problems.append(f"rerun exited {done.returncode}: {done.stderr.strip()[-300:]}")
            return res
    got = store_content(target, "c")
    res.lost, res.duplicated = got.compare(expected)
    res.digest_ok = got.digest == expected.digest and sum(got.ids.values()) == sum(expected.ids.values())
    return res


def timed(args: list[str]) -> float:
    started = time.monotonic()
    res = run(args)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {res.returncode}: {res.stderr[-500:]}")
    return time.monotonic() - started


def fresh_copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def clear(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.chmod(path, 0o700)


def migrate_args(source: str, target: str, work: Path, parallel: int, batch_size: int = 100) -> list[str]:
    return cli("migrate", "--source", source, "--target", target, "--parallel", str(parallel),
               "--backup-path", str(work / "migrate-backups"), "--batch-size", str(batch_size))


def migrate_trial(
    source: str, expected: Content, work: Path, rng: random.Random, window_s: float, parallel: int,
    batch_size: int = 100,
) -> TrialResult:
    """Kill ``migrate`` between two local-mode stores at a random moment, rerun it, check the target.

    A kill that leaves the state file behind left unfinished work: the target must then not pass
    ``verify`` against the source (it is not passed off as complete) and the rerun must resume it.
    """
    from qdrant_ops.migration.run import STATE_FILE

    target = str(work / "target")
    args = migrate_args(source, target, work, parallel, batch_size)
    state_file = work / "migrate-backups" / STATE_FILE
    at = rng.uniform(0.0, window_s)
    finished = run_and_kill(args, at)
    res = TrialResult("migrate", killed=not finished, kill_at_s=at)
    if not finished and state_file.exists():
        try:
            got = store_content(target, "c") if Path(target).exists() else None
        except QdrantOpsError:
            got = None  # the target collection was not created yet
        if got is None or got.digest != expected.digest:
            res.partial_left = True
            refused, why = _refuses(cli("verify", "--source", source, "--target", target))
            res.partial_refused = refused
            if not refused:
                res.problems.append(f"verify passed a half-migrated target: {why!r}")
    if not finished:
        done = run(args)
        if done.returncode != 0:
            # The kill may land after the run removed its state (the migration was complete): the
            # rerun then refuses the existing target, which is right; the content check decides.
            if state_file.exists() or "already exist" not in done.stderr:
                res.problems.append(f"rerun exited {done.returncode}: {done.stderr.strip()[-300:]}")
                return res
    if state_file.exists():
        res.problems.append("the migration state was left behind after a finished run")
    got = store_content(target, "c")
    res.lost, res.duplicated = got.compare(expected)
    res.digest_ok = got.digest == expected.digest and sum(got.ids.values()) == sum(expected.ids.values())
    live = run(cli("verify", "--source", source, "--target", target))
    if live.returncode != 0:
        res.problems.append(f"verify source vs target exited {live.returncode}: {live.stderr.strip()[-300:]}")
    return res
