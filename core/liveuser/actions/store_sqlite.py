"""The SQLite engine of the action store (see :mod:`liveuser.actions.store`).

The tables live in the ledger's file, opened with connections of their own
(WAL, ``synchronous=NORMAL``), one per unit of work, in a worker thread: each
unit is one ``BEGIN IMMEDIATE`` transaction, which takes the file's write lock
(so it covers every ``lock``). Several processes on one machine may share the
file. A ``":memory:"`` target gets a private in-memory database instead.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ..errors import LedgerError
from ..metering import one_line, run_sync
from .store import ActionTx, schema

__all__ = ["SqliteActions"]

_T = TypeVar("_T")

SCHEMA = schema("INTEGER PRIMARY KEY")


class _Tx:
    """The shared logic's view of an open SQLite transaction (never suspends)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount


class SqliteActions:
    """The action tables in the SQLite file at ``path`` (or a private ``":memory:"``)."""

    def __init__(self, path: str, *, busy_timeout: float = 5.0) -> None:
        self.name = path
        self._busy_timeout = busy_timeout
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one writer per process at a time, many processes by SQLite
        self._ready = False
        if path == ":memory:":
            self._uri = f"file:liveuser-actions-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._memory = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        else:
            self._uri = ""

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    async def run(
        self, work: Callable[[ActionTx], Coroutine[Any, Any, _T]], *, lock: str | None = None
    ) -> _T:
        return await asyncio.to_thread(self._in_thread, work)

    def _connect(self) -> sqlite3.Connection:
        if self._uri:
            return sqlite3.connect(
                self._uri, uri=True, timeout=self._busy_timeout, isolation_level=None
            )
        if not os.path.exists(self.name):
            # Private to its owner, as the ledger creates it: the file may be opened here first.
            os.close(os.open(self.name, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.name, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _in_thread(self, work: Callable[[ActionTx], Coroutine[Any, Any, _T]]) -> _T:
        with self._lock:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise LedgerError(f"action store {self.name}: {one_line(exc)}") from exc
            try:
                if not self._ready:
                    conn.executescript(SCHEMA)
                    self._ready = True
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = run_sync(work(_Tx(conn)))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as exc:
                raise LedgerError(f"action store {self.name}: {one_line(exc)}") from exc
            finally:
                conn.close()
