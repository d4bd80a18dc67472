"""Checkpoints: a small SQLite file next to the job, so a rerun resumes where the last one stopped.

A checkpoint stores the plan it belongs to; a resume under a different plan is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from qdrant_ops.errors import PlanChangedError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slices (
    collection TEXT NOT NULL, slice INTEGER NOT NULL, next_offset TEXT, done INTEGER NOT NULL,
    next_seq INTEGER NOT NULL DEFAULT 0, rows INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (collection, slice));
CREATE TABLE IF NOT EXISTS items (
    collection TEXT NOT NULL, slice INTEGER NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (collection, slice, seq));
CREATE TABLE IF NOT EXISTS done_units (unit TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


class Checkpoint:
    """Thread-safe access to one job's state file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        if fresh:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plan --------------------------------------------------------------------------------

    def bind_plan(self, plan: dict[str, Any], *, restart: bool = False, what: str = "job") -> bool:
        """Store ``plan``, or check it against the stored one. Returns True when resuming."""
        text = json.dumps(plan, sort_keys=True)
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='plan'").fetchone()
            if row is not None and row[0] != text and not restart:
                old = json.loads(row[0])
                changed = sorted(k for k in set(old) | set(plan) if old.get(k) != plan.get(k))
                raise PlanChangedError(
                    f"the saved {what} state at {self.path} belongs to a different plan "
                    f"(changed: {', '.join(changed)}); rerun with --restart to start over"
                )
            resuming = row is not None and row[0] == text and not restart
            if not resuming:
                self._db.executescript(
                    "DELETE FROM meta; DELETE FROM slices; DELETE FROM items; DELETE FROM done_units;"
                )
                self._db.execute("INSERT INTO meta VALUES ('plan', ?)", (text,))
            return resuming

    def get_meta(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
            )

    # -- slices ------------------------------------------------------------------------------

    def slice_state(self, collection: str, index: int) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute(
                "SELECT next_offset, done, next_seq, rows, extra FROM slices "
                "WHERE collection=? AND slice=?",
                (collection, index),
            ).fetchone()
        if row is None:
            return {"offset": None, "done": False, "next_seq": 0, "rows": 0, "extra": {}, "new": True}
        return {
            "offset": json.loads(row[0])["v"] if row[0] else None,
            "done": bool(row[1]),
            "next_seq": int(row[2]),
            "rows": int(row[3]),
            "extra": json.loads(row[4]),
            "new": False,
        }

    def save_slice(
        self,
        collection: str,
        index: int,
        *,
        offset: Any,
        done: bool,
        next_seq: int,
        rows: int,
        extra: dict[str, Any] | None = None,
        item: dict[str, Any] | None = None,
    ) -> None:
        """Record a slice's progress (and the item it completed) in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if item is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
                        (collection, index, next_seq - 1, json.dumps(item, sort_keys=True)),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO slices VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        collection,
                        index,
                        json.dumps({"v": offset}),
                        int(done),
                        next_seq,
                        rows,
                        json.dumps(extra or {}, sort_keys=True),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def items(self, collection: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM items WHERE collection=? ORDER BY slice, seq", (collection,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- units (restore: file/row-group granularity) ----------------------------------------

    def unit_done(self, unit: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM done_units WHERE unit=?", (unit,)).fetchone()
        return None if row is None else json.loads(row[0])

    def mark_unit(self, unit: str, data: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO done_units VALUES (?, ?)", (unit, json.dumps(data or {}))
            )
