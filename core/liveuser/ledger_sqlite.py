"""The SQLite engine of the metering ledger (the default; see :mod:`liveuser.metering`).

One connection (WAL, ``synchronous=NORMAL``) is used from one dedicated worker
thread; the async methods hand their work to it, so they never block the event
loop. Records are written in ``BEGIN IMMEDIATE`` transactions, so several
processes on one machine may share one ledger file, and concurrent records of
one process share a transaction (group commit). The schema version is
``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .errors import LedgerError
from .metering import SCHEMA_VERSION, RecordWork, deliveries_schema, one_line, run_sync

__all__ = ["SqliteEngine"]

_T = TypeVar("_T")

SCHEMA_V1 = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
""" + deliveries_schema("INTEGER PRIMARY KEY")

_Pending = tuple[RecordWork, "asyncio.Future[tuple[Any, ...]]"]


class _Tx:
    """The shared record logic's view of an open SQLite transaction (never suspends)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount


class SqliteEngine:
    """A ledger in one SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str, key_check: str, *, busy_timeout: float = 5.0) -> None:
        self.name = path
        self._key_check = key_check
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liveuser-ledger")
        self._pending: list[_Pending] = []
        self._draining: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        await self._run(lambda conn: None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._executor.submit(self._close_in_worker).result()
        finally:
            self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        if self._draining is not None and not self._draining.done():
            await self._draining
        await asyncio.to_thread(self.close)

    # -- the engine's work ---------------------------------------------------

    async def record(self, lock: str, work: RecordWork) -> tuple[Any, ...]:
        """Run ``work`` in the next write transaction, shared with concurrent recorders.

        Group commit: while one transaction is in the worker thread, records
        that arrive queue up and go together in the next one, so a busy process
        pays one thread hop and one commit per batch, not per record. Each
        record runs under its own savepoint: one failing does not undo another.
        ``BEGIN IMMEDIATE`` takes the file's write lock, which covers ``lock``.
        """
        if self._closed:
            raise LedgerError(f"ledger {self.name} is closed")
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda conn: conn.execute(sql, params).fetchall())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.execute(sql, params).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return count

        return await self._run(work)

    # -- worker-thread plumbing ---------------------------------------------

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                outcomes = await self._run(functools.partial(self._commit_batch, batch=batch))
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _commit_batch(
        self, conn: sqlite3.Connection, batch: list[_Pending]
    ) -> list[tuple[Any, ...] | LedgerError]:
        outcomes: list[tuple[Any, ...] | LedgerError] = []
        alone = len(batch) == 1  # nothing to isolate it from: no savepoint
        tx = _Tx(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for work, _ in batch:
                if not alone:
                    conn.execute("SAVEPOINT record")
                try:
                    outcomes.append(run_sync(work(tx)))
                except (sqlite3.Error, LedgerError, ValueError) as exc:
                    conn.execute("ROLLBACK" if alone else "ROLLBACK TO record")
                    outcomes.append(
                        exc
                        if isinstance(exc, LedgerError)
                        else LedgerError(f"ledger {self.name}: {one_line(exc)}")
                    )
                    if alone:
                        return outcomes
                if not alone:
                    conn.execute("RELEASE record")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcomes

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise LedgerError(f"ledger {self.name} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._in_worker, fn)
        except RuntimeError as exc:  # executor shut down between the check and submit
            if self._closed:
                raise LedgerError(f"ledger {self.name} is closed") from exc
            raise

    def _in_worker(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return fn(self._connection())
        except LedgerError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc

    def _close_in_worker(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if self._closed:
            raise LedgerError(f"ledger {self.name} is closed")
        if self.name != ":memory:" and not os.path.exists(self.name):
            # Create the file private to its owner; SQLite gives -wal/-shm the same mode.
            fd = os.open(self.name, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        conn = sqlite3.connect(self.name, timeout=self._busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.name} has schema version {version}; "
                    f"this liveuser reads up to {SCHEMA_VERSION}"
                )
            if version < 1:
                for statement in SCHEMA_V1.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?)", (self._key_check,)
                )
                # Future versions: `if version < 2: ...` here, each step in this transaction.
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = conn.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
            if row is None or not hmac.compare_digest(str(row[0]), self._key_check):
                raise LedgerError(
                    f"ledger {self.name} was created with a different key; refusing to open it"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
