"""Group commit: concurrent inserts into one table share one transaction.

Under a burst of submissions, one commit per job made every request queue behind the
others (SQLite has one writer; PostgreSQL pays a round trip per statement and per commit).
Here a caller adds its row to a pending list and takes the insert lock; whoever holds the
lock writes every pending row in one ``INSERT`` (executemany) and one commit, and the
callers whose rows it wrote find them done when they get the lock. A lone caller pays what
it paid before; 200 concurrent callers pay a handful of commits instead of 200.

Each caller still gets its own outcome: when a batch fails, its rows are retried one by
one, so a bad row (say, a duplicate id) fails only its own caller.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, insert


@dataclass
class _Pending:
    row: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


class GroupInsert:
    def __init__(self, engine: Engine, table: Table,
                 lock: threading.Lock | threading.RLock | None = None) -> None:
        """``lock``: the lock writers to this database already share (SQLite's per-process
        write lock), so a batch never waits on SQLite's busy handler; a new one if None."""
        self._engine = engine
        self._table = table
        self._lock = lock if lock is not None else threading.Lock()
        self._pending: list[_Pending] = []
        self._mu = threading.Lock()

    def insert(self, row: dict[str, Any]) -> None:
        """Insert ``row``; returns once it is committed, raises what its insert raised."""
        item = _Pending(row)
        with self._mu:
            self._pending.append(item)
        with self._lock:
            if not item.done:
                with self._mu:
                    batch, self._pending = self._pending, []
                self._write(batch)
        if item.error is not None:
            raise item.error

    def _write(self, batch: list[_Pending]) -> None:
        """Write ``batch``; every row in it ends done, with its own error or none."""
        try:
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(self._table), [p.row for p in batch])
            except Exception as exc:  # noqa: BLE001 - handed to the caller(s) it belongs to
                if len(batch) == 1:
                    batch[0].error = exc
                else:  # find the culprit(s): each row on its own
                    for p in batch:
                        self._write([p])
        except BaseException as exc:  # interrupted: rows not yet written fail, never pass
            for p in batch:
                if not p.done:
                    p.error = exc
            raise
        finally:
            for p in batch:
                p.done = True
