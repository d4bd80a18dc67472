"""The repository lock that holds across machines: lock objects in the repository's ``locks/``.

A flock only excludes processes that share a kernel (and may not hold on NFS), and an object store
has no locks at all, so ``backup``, ``forget`` and ``prune`` each also write a lock object
``locks/<uuid>.json`` into the repository itself (as restic does), through the same store code as
the backups: host, pid, user, operation, whether it is exclusive, when it was taken and last
refreshed. After writing its own, a run lists ``locks/``; when another live lock conflicts it
removes its own and refuses, naming the holder. Two runs that write at the same moment both see
each other: both back off, and each tries once more after a random pause, so at most one goes on.
This needs a store whose listing shows a finished write at once (S3, GCS and Azure all do).

``backup``, ``forget`` and ``prune`` all take it exclusive: two backups at once could choose the
same name (a start time to the second) or resume the same partial directory. Readers (restore,
verify, list) take none, so read-only credentials serve them; prune never removes what a complete
backup lists.

A lock is stale, and ignored with a note, when it was not refreshed for ``STALE_AFTER_S`` or when
it names this host (and pid namespace) and a process that no longer runs; the latter is certainly
gone, so it is removed too. ``unlock`` removes stale locks (every lock
with ``remove_all``). A live run refreshes its lock every ``REFRESH_EVERY_S`` from a daemon thread
and removes it when it ends, also on an error or Ctrl-C; a run whose lock was removed under it
writes it again at its next refresh, since it cannot be stopped safely midway.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pydantic import Field

from qdrant_ops import __version__
from qdrant_ops.errors import LockedError, NotFoundError, QdrantOpsError
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.reports import Report
from qdrant_ops.repository.location import (
    LOCKS_DIR,
    Location,
    is_remote,
    local_path,
    open_location,
    repository_lock_path,
)
from qdrant_ops.repository.store import list_files, read_text, storage_call

log = logging.getLogger(__name__)
LOCKS = LOCKS_DIR
# restic's figures: a refresh every 5 minutes keeps a live lock far from the 30-minute stale age,
# which leaves room for a slow store, a long GC pause or clocks a few minutes apart.
REFRESH_EVERY_S = 5 * 60
STALE_AFTER_S = 30 * 60
# A conflicting lock younger than this may be a run that started at the same moment and is backing
# off too: worth one more try after a random pause rather than a refusal.
RACE_WINDOW_S = 30.0


def repository_location(repository: str | Path) -> Location:
    """The repository as a store location: an object-store prefix, or a local directory through
    pyarrow's local filesystem (so one lock code serves both, a shared NFS directory included)."""
    if is_remote(repository):
        return open_location(str(repository))
    import pyarrow.fs as pafs

    path = local_path(repository)
    return Location("file", pafs.LocalFileSystem(), str(path.absolute()), str(path))


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(t: datetime) -> str:
    """What a lock object records: UTC to the millisecond, so a refresh always shows."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LockInfo:
    """One lock object as read back: its name in ``locks/`` and what it says."""

    name: str
    host: str
    pid: int
    user: str
    operation: str
    exclusive: bool
    time: datetime
    refreshed: datetime
    space: str = ""

    @classmethod
    def parse(cls, name: str, text: str) -> LockInfo | None:
        try:
            d = json.loads(text)
            t = datetime.fromisoformat(str(d["time"]))
            r = datetime.fromisoformat(str(d.get("refreshed") or d["time"]))
            return cls(name, str(d["host"]), int(d["pid"]), str(d.get("user", "")), str(d.get("operation", "")),
                       bool(d.get("exclusive", True)), t, r, str(d.get("process_space", "")))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def stale_reason(self, stale_after_s: float, now: datetime | None = None) -> str | None:
        """Why this lock no longer holds, or None while it does."""
        age = ((now or _now()) - self.refreshed).total_seconds()
        if age > stale_after_s:
            return f"not refreshed for {int(age // 60)} min"
        if self.dead_here():
            return f"its process {self.pid} on this host no longer runs"
        return None

    def dead_here(self) -> bool:
        """Written on this host, in this pid namespace, by a process that no longer runs."""
        return self.host == socket.gethostname() and self.space == process_space() and not _pid_alive(self.pid)

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        return (f"{self.operation or 'a run'} on {self.host} (pid {self.pid}, user {self.user or '?'}, "
                f"{kind}) since {_iso(self.time)}, refreshed {_iso(self.refreshed)}")

    def to_json(self) -> dict[str, Any]:
        return {"lock": self.name, "host": self.host, "pid": self.pid, "user": self.user,
                "operation": self.operation, "exclusive": self.exclusive, "time": _iso(self.time),
                "refreshed": _iso(self.refreshed)}


def process_space() -> str:
    """Which pids this process can see: the kernel's boot id and its pid namespace. Containers on
    one host may share a hostname but not their pids, so "its process no longer runs" is only
    concluded where this matches (on a system without /proc, the hostname alone)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        return f"{boot}:{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except (OverflowError, ValueError):
        return False
    return True


def _write(loc: Location, rel: str, text: str) -> None:
    """Write one small object whole: a PUT on a store; on a directory a write aside and a rename,
    so a reader never sees half a lock."""

    def run() -> None:
        data = text.encode("utf-8")
        if loc.scheme == "file":
            for attempt in range(3):  # another run's release may remove the empty folder between the two
                Path(loc.key(LOCKS)).mkdir(parents=True, exist_ok=True)
                tmp = loc.key(LOCKS, f".{uuid.uuid4().hex}.tmp")
                try:
                    with loc.fs.open_output_stream(tmp) as fh:
                        fh.write(data)
                    loc.fs.move(tmp, loc.key(rel))
                    return
                except FileNotFoundError:
                    if attempt == 2:
                        raise
        else:
            with loc.fs.open_output_stream(loc.key(rel), metadata={}) as fh:
                fh.write(data)

    storage_call(run, f"write lock {loc.url(rel)}")


def _delete(loc: Location, rel: str) -> None:
    def run() -> None:
        try:
            loc.fs.delete_file(loc.key(rel))
        except FileNotFoundError:
            pass
        if loc.scheme == "file":  # a directory repository keeps no empty locks/ once nothing holds it
            try:
                os.rmdir(loc.key(LOCKS))
            except OSError:
                pass  # another run's lock is in it (or it is gone already)

    storage_call(run, f"delete lock {loc.url(rel)}")


def read_locks(loc: Location) -> list[LockInfo | str]:
    """Every lock object in ``loc``'s ``locks/``: parsed, or its name when it cannot be read
    (held as live until it is stale by its store time; see ``_unreadable_stale``)."""
    out: list[LockInfo | str] = []
    for rel in sorted(list_files(loc, LOCKS)):
        name = rel.rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            continue
        text = read_text(loc, rel)
        if text is None:  # removed between the listing and the read: released
            continue
        info = LockInfo.parse(name, text)
        out.append(info if info is not None else name)
    return out


class RepositoryLock:
    """A lock object in ``repository``'s ``locks/``, held while the context is open and
    refreshed from a daemon thread; ``notes`` says which stale locks it ignored."""

    def __init__(self, repository: str | Path, operation: str, *, exclusive: bool = True,
                 refresh_every_s: float = REFRESH_EVERY_S, stale_after_s: float = STALE_AFTER_S,
                 race_window_s: float = RACE_WINDOW_S, what: str | None = None) -> None:
        self.loc = repository_location(repository)
        self.operation = operation
        self.exclusive = exclusive
        self.refresh_every_s = refresh_every_s
        self.stale_after_s = stale_after_s
        self.race_window_s = race_window_s
        self.what = what or f"backup repository {self.loc.display}"
        self.name = f"{uuid.uuid4().hex}.json"
        self.notes: list[str] = []
        self.refreshes = 0
        self._since = _now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held = False

    @property
    def rel(self) -> str:
        return f"{LOCKS}/{self.name}"

    def _body(self, refreshed: datetime) -> str:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "user": _user(),
                           "operation": self.operation, "exclusive": self.exclusive, "time": _stamp(self._since),
                           "refreshed": _stamp(refreshed), "process_space": process_space(),
                           "tool_version": __version__}, sort_keys=True)

    def _conflicts(self) -> list[LockInfo | str]:
        out: list[LockInfo | str] = []
        for info in read_locks(self.loc):
            name = info if isinstance(info, str) else info.name
            if name == self.name:
                continue
            if isinstance(info, str):
                if _unreadable_stale(self.loc, info, self.stale_after_s) is None:
                    out.append(info)  # a lock it cannot read may be anyone's: it conflicts
                continue
            why = info.stale_reason(self.stale_after_s)
            if why is not None:
                verb = "ignored"
                if info.dead_here():  # certainly gone (kill -9, a crash): nothing to leave for `unlock`
                    _delete(self.loc, f"{LOCKS}/{info.name}")
                    verb = "removed"
                note = f"{verb} a stale lock {self.loc.url(LOCKS, info.name)} ({info.describe()}): {why}"
                if note not in self.notes:
                    self.notes.append(note)
                continue
            if self.exclusive or info.exclusive:
                out.append(info)
        return out

    def acquire(self) -> RepositoryLock:
        for attempt in range(2):
            self._since = _now()
            _write(self.loc, self.rel, self._body(self._since))
            try:
                conflicts = self._conflicts()
            except BaseException:
                _delete(self.loc, self.rel)
                raise
            if not conflicts:
                break
            _delete(self.loc, self.rel)
            young = all(isinstance(c, LockInfo) and (_now() - c.time).total_seconds() < self.race_window_s
                        for c in conflicts)
            if attempt == 0 and young:
                time.sleep(random.uniform(0.1, 1.0))  # both racers back off; the first to return wins
                continue
            holder = conflicts[0]
            raise LockedError(self._refusal(holder), holder=holder if isinstance(holder, str) else holder.to_json())
        for note in self.notes:  # said once the lock is held: a refusal stays one line
            log.warning("%s", note)
        self._held = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh_loop, name=f"lock-refresh-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _refusal(self, holder: LockInfo | str) -> str:
        if isinstance(holder, str):
            who = f"an unreadable lock {self.loc.url(LOCKS, holder)}"
        else:
            who = holder.describe()
        return (f"{self.what} is in use by another qdrant-ops run: {who}; if that run is gone, "
                f"`qdrant-ops unlock {self.loc.display}` removes its lock once stale "
                f"({int(self.stale_after_s // 60)} min without a refresh), --remove-all at once")

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_every_s):
            self.refresh()

    def refresh(self) -> None:
        """Write the lock again with a new refresh time (again whole if someone removed it)."""
        try:
            if read_text(self.loc, self.rel) is None:
                log.warning("the lock %s was removed while %s still runs: written again",
                            self.loc.url(self.rel), self.operation)
            _write(self.loc, self.rel, self._body(_now()))
            self.refreshes += 1
        except (QdrantOpsError, OSError) as exc:  # a failed refresh must not end the run; the next may work
            log.warning("could not refresh the lock %s: %s", self.loc.url(self.rel), exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._held:
            self._held = False
            _delete(self.loc, self.rel)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class RepositoryHold:
    """What ``backup``, ``forget`` and ``prune`` take: this machine's flock beside the repository
    (it also guards an object store's local staging directory), then the lock object in it."""

    def __init__(self, repository: str | Path, operation: str, what: str, *, exclusive: bool = True) -> None:
        self.repository = repository
        self.operation = operation
        self.what = what
        self.exclusive = exclusive
        self.lock: RepositoryLock | None = None
        self._stack = ExitStack()

    @property
    def notes(self) -> list[str]:
        return self.lock.notes if self.lock is not None else []

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            stack.enter_context(FileLock(repository_lock_path(self.repository), self.what))
            self.lock = stack.enter_context(
                RepositoryLock(self.repository, self.operation, exclusive=self.exclusive, what=self.what))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()


class UnlockReport(Report):
    """What ``unlock`` removed and which live locks it left."""

    verb: str = "unlock"
    repository: str = ""
    removed: list[dict[str, Any]] = Field(default_factory=list)
    kept: list[dict[str, Any]] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        out = [*super().summary_lines()]
        out += [f"removed lock {r['lock']}: {r.get('operation', '?')} on {r.get('host', '?')} "
                f"(pid {r.get('pid', '?')}): {r['reason']}" for r in self.removed]
        out += [f"kept live lock {k['lock']}: {k['operation']} on {k['host']} (pid {k['pid']}) "
                f"refreshed {k['refreshed']}" if "host" in k else f"kept unreadable lock {k['lock']}: not yet stale"
                for k in self.kept]
        out.append(f"unlock: {len(self.removed)} lock(s) removed, {len(self.kept)} live lock(s) kept")
        return out


def unlock(repository: str | Path, *, remove_all: bool = False, stale_after_s: float = STALE_AFTER_S) -> UnlockReport:
    """Remove the stale lock objects in ``repository`` (every one with ``remove_all``)."""
    loc = repository_location(repository)
    if loc.scheme == "file" and not local_path(repository).is_dir():
        raise NotFoundError(f"backup repository not found: {local_path(repository)}")
    report = UnlockReport(repository=loc.display)
    for info in read_locks(loc):
        if isinstance(info, str):
            why = _unreadable_stale(loc, info, stale_after_s)
            entry: dict[str, Any] = {"lock": info}
        else:
            why = info.stale_reason(stale_after_s)
            entry = info.to_json()
        if why is None and remove_all:
            why = "--remove-all"
        if why is None:
            report.kept.append(entry)
            continue
        _delete(loc, f"{LOCKS}/{entry['lock']}")
        report.removed.append(entry | {"reason": why})
    report.finish()
    return report


def _unreadable_stale(loc: Location, name: str, stale_after_s: float) -> str | None:
    """A lock that cannot be read is stale once the store says it is older than the stale age."""
    import pyarrow.fs as pafs

    info = storage_call(lambda: loc.fs.get_file_info(loc.key(LOCKS, name)), f"look at {loc.url(LOCKS, name)}")
    if info.type != pafs.FileType.File or info.mtime is None:
        return "unreadable and gone"
    mtime = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
    age = (_now() - mtime).total_seconds()
    return f"unreadable, written {int(age // 60)} min ago" if age > stale_after_s else None
