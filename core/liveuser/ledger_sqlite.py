"""The SQLite engine of the metering ledger (the default; see :mod:`liveuser.metering`).

The database is in WAL mode with ``synchronous=NORMAL``, so a commit appends
to the write-ahead log and never waits for the disk. Records are written in
``BEGIN IMMEDIATE`` transactions, so several processes on one machine may
share one ledger file, and concurrent records of one process share a
transaction (group commit). The schema version is ``PRAGMA user_version``.

**Where the work runs.** A batch of records is written on the event loop's
own thread when the file's write lock is free at that instant (a second
connection, which never waits for the lock: busy timeout 0): a few tens of
microseconds, without the thread hop and the contention for the GIL that
handing it to a thread would cost. Everything that may wait runs on one
dedicated worker thread with its own connection: a batch that found the lock
taken (another process is writing), the queries, the schema, and the WAL
checkpoints, which write the database file and are the only step that syncs
to disk. A ``":memory:"`` ledger uses the worker alone.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
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

CHECKPOINT_EVERY = 200
"""Commits on the event loop's connection between two WAL checkpoints (in the worker)."""

log = logging.getLogger("liveuser")


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
        self._here: sqlite3.Connection | None = None  # the event loop thread's connection
        self._here_commits = 0
        self._checkpoint: asyncio.Future[Any] | None = None

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        await self._run(lambda conn: None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._close_here()
            self._executor.submit(self._close_in_worker).result()
        finally:
            self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        if self._draining is not None and not self._draining.done():
            await self._draining
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
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
                outcomes = self._commit_here(batch)
                if outcomes is None:  # the lock is taken: wait for it in the worker
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

    def _commit_here(self, batch: list[_Pending]) -> list[tuple[Any, ...] | LedgerError] | None:
        """Commit ``batch`` on this (the event loop's) thread; None if the lock is taken.

        Never waits: the connection's busy timeout is 0, so ``BEGIN IMMEDIATE``
        either takes the write lock at once or fails, and the batch goes to
        the worker. Its commits do not checkpoint (``wal_autocheckpoint=0``);
        every ``CHECKPOINT_EVERY`` of them, the worker does.
        """
        conn = self._here_connection()
        if conn is None:
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # SQLITE_BUSY: another connection is writing
            return None
        try:
            outcomes = self._commit_batch(conn, batch, begun=True)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc
        self._here_commits += 1
        if self._here_commits % CHECKPOINT_EVERY == 0 and (
            self._checkpoint is None or self._checkpoint.done()
        ):
            self._checkpoint = asyncio.ensure_future(self._run(_checkpoint))
            self._checkpoint.add_done_callback(self._checkpointed)
        return outcomes

    def _checkpointed(self, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is not None and not self._closed:
            log.warning("ledger %s: WAL checkpoint failed: %s", self.name, done.exception())

    def _here_connection(self) -> sqlite3.Connection | None:
        """The event loop thread's connection, once the worker has made the schema."""
        if self._here is not None:
            return self._here
        if self.name == ":memory:" or self._conn is None or self._closed:
            return None  # another connection would open another database / not migrated yet
        conn = sqlite3.connect(self.name, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            conn.close()
            log.warning("ledger %s: writing from the worker thread only", self.name, exc_info=True)
            return None
        self._here = conn
        return conn

    def _close_here(self) -> None:
        conn, self._here = self._here, None
        self._close_connection(conn)

    def _close_connection(self, conn: sqlite3.Connection | None) -> None:
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc

    def _commit_batch(
        self, conn: sqlite3.Connection, batch: list[_Pending], *, begun: bool = False
    ) -> list[tuple[Any, ...] | LedgerError]:
        """Run each record of ``batch`` and commit them together (``begun``: the
        transaction is already open)."""
        outcomes: list[tuple[Any, ...] | LedgerError] = []
        alone = len(batch) == 1  # nothing to isolate it from: no savepoint
        tx = _Tx(conn)
        if not begun:
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
        self._close_connection(conn)

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


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL's committed pages into the database file, not waiting for readers."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
