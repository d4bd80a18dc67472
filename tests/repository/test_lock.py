"""The repository lock across machines: lock objects in ``locks/`` on S3 (moto) and in a directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import EXIT_USAGE, LockedError, NotFoundError
from qdrant_ops.repository import lock as lock_module
from qdrant_ops.repository.forget import backups_list
from qdrant_ops.repository.lock import LOCKS, RepositoryHold, RepositoryLock, repository_location, unlock
from qdrant_ops.repository.prune import prune
from qdrant_ops.repository.store import find_backup, list_files, read_text

runner = CliRunner()
MEM = ":memory:"
SRC = Path(__file__).resolve().parents[2] / "src"


def _cfg(repo: str) -> BackupConfig:
    return BackupConfig(backup_path=repo, source=endpoint_from_uri(MEM), collections=["a"],
                        verify_integrity=False, rows_per_file=20)


def _stamp(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plant(repo: str, *, host: str = "machine-a", pid: int = 4242, operation: str = "backup",
           age_s: float = 0.0, held_s: float = 120.0, exclusive: bool = True, space: str | None = None) -> str:
    """Write another run's lock object into ``repo``, taken ``held_s`` before its last refresh
    ``age_s`` ago; its name."""
    name = f"{uuid.uuid4().hex}.json"
    when = datetime.now(UTC) - timedelta(seconds=age_s)
    body = {"host": host, "pid": pid, "user": "ops", "operation": operation, "exclusive": exclusive,
            "time": _stamp(when - timedelta(seconds=held_s)), "refreshed": _stamp(when),
            "process_space": lock_module.process_space() if space is None else space}
    lock_module._write(repository_location(repo), f"{LOCKS}/{name}", json.dumps(body))
    return name


def _locks(repo: str) -> list[str]:
    return sorted(r.rsplit("/", 1)[-1] for r in list_files(repository_location(repo), LOCKS) if r.endswith(".json"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(params=["local", "s3"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A repository holding one complete backup: a directory (as on NFS) or an S3 prefix."""
    where = str(tmp_path / "repo") if request.param == "local" else str(request.getfixturevalue("s3_url"))
    make_collection(MEM, "a", "int-unnamed", n=30)
    assert backup(_cfg(where)).status == "ok"
    return where


def test_live_lock_of_another_machine_refuses_prune_forget_and_backup(repo: str) -> None:
    held = _plant(repo, operation="backup")
    stale = _plant(repo, operation="prune", age_s=31 * 60)  # ignored, and no second stderr line for it
    for argv in (["prune", repo], ["forget", repo, "--keep-last", "1", "--prune"], ["prune", repo, "--dry-run"]):
        res = runner.invoke(app, argv)
        lines = res.stderr.strip().splitlines()
        assert res.exit_code == EXIT_USAGE and len(lines) == 1, res.stderr
        assert lines[0].startswith("error:") and "in use by another qdrant-ops run" in lines[0]
        assert "backup on machine-a (pid 4242, user ops, exclusive) since " in lines[0], lines[0]
    with pytest.raises(LockedError, match="machine-a"):
        backup(_cfg(repo))
    assert _locks(repo) == sorted([held, stale])  # every refused run removed its own lock
    assert len(backups_list(repo).backups) == 1  # nothing removed, nothing added
    lock_module._delete(repository_location(repo), f"{LOCKS}/{held}")
    res = runner.invoke(app, ["prune", repo])
    assert res.exit_code == 0 and "ignored a stale lock" in res.stderr, res.stderr
    assert _locks(repo) == [stale]


def test_stale_locks_are_ignored_with_a_note(repo: str) -> None:
    old = _plant(repo, operation="prune", age_s=31 * 60)
    dead = _plant(repo, host=socket.gethostname(), pid=_dead_pid(), operation="forget")
    res = prune(repo)
    assert res.status == "ok" and len(res.notes) == 2, res.notes
    assert any("not refreshed for 31 min" in n and "prune on machine-a" in n for n in res.notes)
    assert any(n.startswith("removed a stale lock") and "no longer runs" in n for n in res.notes)
    assert not any(LOCKS in g["location"] for g in res.removed)  # not garbage: prune leaves it to unlock
    assert _locks(repo) == [old] and dead not in _locks(repo)  # a dead process's lock goes at once
    other = _plant(repo, host=socket.gethostname(), pid=_dead_pid(), operation="forget", space="another-container")
    with pytest.raises(LockedError, match="forget on"):  # its pids are not ours to look at: it holds
        prune(repo)
    lock_module._delete(repository_location(repo), f"{LOCKS}/{other}")
    out = backup(_cfg(repo))
    assert out.status == "ok" and sum("ignored a stale lock" in n for n in out.notes) == 1


def test_unlock_removes_stale_locks_and_keeps_live_ones(repo: str) -> None:
    live = _plant(repo, operation="backup", age_s=60)
    _plant(repo, operation="prune", age_s=45 * 60)
    _plant(repo, host=socket.gethostname(), pid=_dead_pid())
    res = runner.invoke(app, ["unlock", repo])
    assert res.exit_code == 0, res.stderr
    assert "unlock: 2 lock(s) removed, 1 live lock(s) kept" in res.stdout
    assert "not refreshed for 45 min" in res.stdout and "no longer runs" in res.stdout
    assert _locks(repo) == [live]
    res = runner.invoke(app, ["--json", "unlock", repo, "--remove-all"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert [r["lock"] for r in data["removed"]] == [live] and data["removed"][0]["reason"] == "--remove-all"
    assert data["kept"] == [] and _locks(repo) == []


def test_unlock_of_a_missing_directory_exits_2(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        unlock(str(tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()


class Failing:
    """A real endpoint whose scan raises ``exc`` once the backup holds its lock."""

    def __init__(self, inner: Any, exc: BaseException) -> None:
        self.inner, self.exc = inner, exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def scan(self, name: str, **kw: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize("exc", [RuntimeError("the source broke"), KeyboardInterrupt()])
def test_lock_object_is_gone_after_an_error_and_ctrl_c(exc: BaseException, s3_url: str) -> None:
    make_collection(MEM, "a", "int-unnamed", n=30)
    src = Failing(open_endpoint(MEM), exc)
    with pytest.raises(type(exc)):
        backup(_cfg(s3_url), source=src)  # type: ignore[arg-type]
    assert _locks(s3_url) == []
    with pytest.raises(type(exc)), RepositoryHold(s3_url, "backup", "test") as hold:
        assert hold.lock is not None and _locks(s3_url) == [hold.lock.name]
        raise exc
    assert _locks(s3_url) == []


def test_refresh_thread_rewrites_the_lock_and_restores_a_removed_one(s3_url: str) -> None:
    loc = repository_location(s3_url)
    with RepositoryLock(s3_url, "backup", refresh_every_s=0.1) as held:
        first = json.loads(read_text(loc, held.rel) or "{}")
        deadline = time.monotonic() + 20
        while held.refreshes < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        now = json.loads(read_text(loc, held.rel) or "{}")
        assert held.refreshes >= 2 and now["time"] == first["time"] and now["refreshed"] > first["refreshed"]
        assert now["host"] == socket.gethostname() and now["pid"] == os.getpid() and now["exclusive"] is True
        lock_module._delete(loc, held.rel)  # `unlock --remove-all` run elsewhere while this one lives
        while read_text(loc, held.rel) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_text(loc, held.rel) is not None
    time.sleep(0.3)  # a refresh after the release would bring it back
    assert _locks(s3_url) == []


def test_a_young_conflict_is_retried_once_after_a_pause(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    loc = repository_location(s3_url)
    racer = _plant(s3_url, operation="forget", held_s=0)
    pauses: list[float] = []

    def racer_backs_off(seconds: float) -> None:  # the other run saw this one too and withdrew
        pauses.append(seconds)
        lock_module._delete(loc, f"{LOCKS}/{racer}")

    monkeypatch.setattr(lock_module.time, "sleep", racer_backs_off)
    with RepositoryLock(s3_url, "prune") as held:
        assert _locks(s3_url) == [held.name]
    assert len(pauses) == 1 and 0.1 <= pauses[0] <= 1.0
    stays = _plant(s3_url, operation="forget", held_s=0)
    monkeypatch.setattr(lock_module.time, "sleep", pauses.append)
    with pytest.raises(LockedError, match="forget on machine-a"):
        RepositoryLock(s3_url, "prune").acquire()
    assert len(pauses) == 2 and _locks(s3_url) == [stays]  # one retry, then a refusal


def test_runs_racing_for_the_lock_never_hold_it_together(s3_url: str) -> None:
    holding, most, refused, won = [0], [0], [0], [0]
    guard = threading.Lock()

    def attempt(barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with RepositoryLock(s3_url, "backup"):
                with guard:
                    holding[0] += 1
                    most[0] = max(most[0], holding[0])
                    won[0] += 1
                time.sleep(0.3)
                with guard:
                    holding[0] -= 1
        except LockedError:
            with guard:
                refused[0] += 1

    for _ in range(3):
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=attempt, args=(barrier,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert most[0] == 1 and won[0] >= 1 and won[0] + refused[0] == 12, (most, won, refused)
    assert _locks(s3_url) == []


def test_a_backup_on_another_machine_stops_prune_here(s3_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Machine A backs up; machine B (its own cache, so its own flock) prunes the same bucket."""
    make_collection(MEM, "a", "int-unnamed", n=30)

    class Blocking:
        def __init__(self, inner: Any) -> None:
            self.inner, self.scanning, self.go = inner, threading.Event(), threading.Event()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def scan(self, name: str, **kw: Any) -> Any:
            self.scanning.set()
            self.go.wait(30)
            yield from self.inner.scan(name, **kw)

    src = Blocking(open_endpoint(MEM))
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(backup(_cfg(s3_url), source=src)))  # type: ignore[arg-type]
    t.start()
    try:
        assert src.scanning.wait(30)
        monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "machine-b"))
        res = runner.invoke(app, ["prune", s3_url])
        assert res.exit_code == EXIT_USAGE and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert f"backup on {socket.gethostname()} (pid {os.getpid()}" in res.stderr
        res = runner.invoke(app, ["unlock", s3_url])
        assert res.exit_code == 0 and "1 live lock(s) kept" in res.stdout, res.stdout
        monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "cache"))
    finally:
        src.go.set()
        t.join(60)
    assert out and out[0].status == "ok" and _locks(s3_url) == []
    monkeypatch.setenv("QDRANT_OPS_CACHE", str(tmp_path / "machine-b"))
    assert prune(s3_url).removed == []  # the finished backup is complete: nothing of it is garbage


def test_a_lock_held_by_a_second_process_then_killed(s3_url: str) -> None:
    code = textwrap.dedent(f"""
        import sys
        from qdrant_ops.repository.lock import RepositoryLock
        RepositoryLock({s3_url!r}, "backup").acquire()
        print("held", flush=True)
        sys.stdin.readline()
    """)
    env = os.environ | {"PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"backup on {socket.gethostname()} \\(pid {proc.pid},"):
            RepositoryLock(s3_url, "prune").acquire()
    finally:
        proc.kill()  # kill -9: the lock stays behind, its process gone
        proc.wait()
    assert len(_locks(s3_url)) == 1
    assert [r["pid"] for r in unlock(s3_url).removed] == [proc.pid] and _locks(s3_url) == []
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    with RepositoryLock(s3_url, "prune") as held:  # the next run removes it itself
        assert any(f"its process {proc.pid} on this host no longer runs" in n for n in held.notes)
        assert _locks(s3_url) == [held.name]
    assert _locks(s3_url) == []


def test_listing_verify_and_find_ignore_the_locks_folder(repo: str) -> None:
    _plant(repo, age_s=60)
    listed = backups_list(repo).backups
    assert len(listed) == 1 and LOCKS not in listed[0]["name"]
    assert verify_backup(repo).status == "ok"


def test_a_bucket_holding_only_locks_has_no_backup(s3_url: str) -> None:
    _plant(s3_url)
    with pytest.raises(NotFoundError) as err:
        find_backup(repository_location(s3_url))
    assert LOCKS not in str(err.value)


def test_shared_locks_coexist_and_exclude_an_exclusive_one(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    (tmp_path / "repo").mkdir()
    with RepositoryLock(repo, "restore", exclusive=False), RepositoryLock(repo, "verify", exclusive=False):
        assert len(_locks(repo)) == 2
        with pytest.raises(LockedError, match="shared"):
            RepositoryLock(repo, "prune").acquire()
    with RepositoryLock(repo, "prune"), pytest.raises(LockedError, match="prune on .* exclusive"):
        RepositoryLock(repo, "restore", exclusive=False).acquire()
    assert _locks(repo) == [] and not (tmp_path / "repo" / LOCKS).exists()


def test_an_unreadable_lock_holds_until_its_file_is_old(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / LOCKS).mkdir(parents=True)
    junk = repo / LOCKS / f"{uuid.uuid4().hex}.json"
    junk.write_text("{not json")
    with pytest.raises(LockedError, match="an unreadable lock"):
        prune(str(repo))
    assert unlock(str(repo)).kept == [{"lock": junk.name}] and junk.exists()
    res = runner.invoke(app, ["unlock", str(repo)])
    assert res.exit_code == 0 and f"kept unreadable lock {junk.name}: not yet stale" in res.stdout, res.output
    hour_ago = time.time() - 3600
    os.utime(junk, (hour_ago, hour_ago))
    assert prune(str(repo)).status == "ok"  # stale by the store's time: ignored
    removed = unlock(str(repo)).removed
    assert [r["lock"] for r in removed] == [junk.name] and "unreadable, written 60 min ago" in removed[0]["reason"]
    assert not junk.exists()


def test_ctrl_c_in_another_process_removes_its_lock(s3_url: str) -> None:
    code = textwrap.dedent(f"""
        import time
        from qdrant_ops.repository.lock import RepositoryHold
        with RepositoryHold({s3_url!r}, "backup", "backup path {s3_url}"):
            print("held", flush=True)
            time.sleep(60)
    """)
    env = os.environ | {"PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    assert len(_locks(s3_url)) == 1
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert _locks(s3_url) == []
