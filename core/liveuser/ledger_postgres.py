"""The PostgreSQL engine of the metering ledger (see :mod:`liveuser.metering`).

Chosen by a ``postgresql://`` URL (``database_url`` in the settings); needs the
extra ``liveuser[postgres]`` (psycopg 3 and psycopg_pool). Several processes on
several machines share one database through a pool of connections each:

* every delivery of one message is recorded in its own transaction holding a
  transaction-scoped advisory lock on that message, so concurrent workers
  retrying one turn write one row and charge the message once (the unique
  index and the one-charge partial index stand behind it);
* the schema (the same tables and indexes as SQLite, amounts and times as the
  same exact text) is created once, under an advisory lock, in the first
  schema of the connection's ``search_path``; its version and the key's
  fingerprint are kept in ``meta``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from .errors import LedgerError
from .metering import SCHEMA_VERSION, RecordWork, deliveries_schema, one_line
from .redact import redact_url

try:
    import psycopg
    from psycopg_pool import AsyncConnectionPool
except ImportError:  # pragma: no cover - the extra is not installed
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresEngine", "pg_sql"]

_MIGRATION_LOCK = 0x6C69_7665_7573_6572  # "liveuser": one migration at a time

SCHEMA_V1 = deliveries_schema("BIGSERIAL PRIMARY KEY")


@functools.lru_cache(maxsize=64)
def pg_sql(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's ``%s`` (no literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


class _Tx:
    """The shared record logic's view of an open PostgreSQL transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = await self.conn.execute(pg_sql(sql), tuple(params))
        row: tuple[Any, ...] | None = await cursor.fetchone()
        return row

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(pg_sql(sql), tuple(params))
        return int(cursor.rowcount)


class PostgresEngine:
    """A ledger in a PostgreSQL database, through a pool of async connections."""

    def __init__(
        self, url: str, key_check: str, *, busy_timeout: float = 5.0, pool_size: int = 10
    ) -> None:
        self.name = redact_url(url)
        if psycopg is None:
            raise LedgerError(
                f"ledger {self.name}: PostgreSQL needs the extra: pip install 'liveuser[postgres]'"
            )
        self._url = url
        self._key_check = key_check
        self._timeout = busy_timeout
        self._pool_size = max(1, pool_size)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False
        self._inflight = 0
        self._idle: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        await self._ready()

    def close(self) -> None:
        if self._pool is not None and not self._closed:
            self._closed = True
            raise LedgerError(f"ledger {self.name}: close a PostgreSQL ledger with aclose()")
        self._closed = True

    async def aclose(self) -> None:
        self._closed = True
        if self._idle is not None and self._inflight:
            await self._idle.wait()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # -- the engine's work ---------------------------------------------------

    async def record(self, lock: str, work: RecordWork) -> tuple[Any, ...]:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            return await work(_Tx(conn))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cursor = await conn.execute(pg_sql(sql), tuple(params))
            rows: list[tuple[Any, ...]] = await cursor.fetchall()
            return rows

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._connection() as conn, conn.transaction():
            return await _Tx(conn).execute(sql, params)

    def connection(self) -> AbstractAsyncContextManager[Any]:
        """A pooled connection (autocommit) for the tables kept beside the ledger's,
        such as the action records; every database or network failure is a LedgerError."""
        return self._connection()

    # -- plumbing ------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; every database or network failure is a LedgerError."""
        if self._closed:
            raise LedgerError(f"ledger {self.name} is closed")
        if self._idle is None:
            self._idle = asyncio.Event()
        self._inflight += 1
        self._idle.clear()
        try:
            pool = await self._ready()
            async with pool.connection(timeout=self._timeout) as conn:
                yield conn
        except LedgerError:
            raise
        except (psycopg.Error, OSError) as exc:
            raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _ready(self) -> AsyncConnectionPool[Any]:
        if self._pool is not None:
            return self._pool
        if self._closed:
            raise LedgerError(f"ledger {self.name} is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is not None:
                return self._pool
            try:
                # One plain connection first: its failure says why ("connection refused",
                # "password authentication failed"), where a pool would only time out.
                first = await psycopg.AsyncConnection.connect(
                    self._url, connect_timeout=max(1, round(self._timeout)), autocommit=True
                )
                await first.close()
            except (psycopg.Error, OSError) as exc:
                raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self._url,
                min_size=1,
                max_size=self._pool_size,
                open=False,
                timeout=self._timeout,
                kwargs={"autocommit": True},
            )
            try:
                try:
                    await pool.open(wait=True, timeout=self._timeout)
                    await self._migrate(pool)
                except (psycopg.Error, OSError) as exc:
                    raise LedgerError(f"ledger {self.name}: {one_line(exc)}") from exc
            except BaseException:
                await pool.close()
                raise
            self._pool = pool
            return pool

    async def _migrate(self, pool: AsyncConnectionPool[Any]) -> None:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            cursor = await conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
            row = await cursor.fetchone()
            version = int(row[0]) if row is not None else 0
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.name} has schema version {version}; "
                    f"this liveuser reads up to {SCHEMA_VERSION}"
                )
            if version < 1:
                for statement in SCHEMA_V1.split(";"):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', %s)"
                    " ON CONFLICT (name) DO NOTHING",
                    (self._key_check,),
                )
                # Future versions: `if version < 2: ...` here, each step in this transaction.
                await conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                    (str(SCHEMA_VERSION),),
                )
            cursor = await conn.execute("SELECT value FROM meta WHERE name = 'key_check'")
            row = await cursor.fetchone()
            if row is None or not hmac.compare_digest(str(row[0]), self._key_check):
                raise LedgerError(
                    f"ledger {self.name} was created with a different key; refusing to open it"
                )
