"""The PostgreSQL engine of the action store (see :mod:`liveuser.actions.store`).

The tables live in the ledger's database, in the first schema of the
connection's ``search_path`` like the ledger's own, reached through the
ledger's pool (:meth:`liveuser.ledger_postgres.PostgresEngine.connection`).
They are created once, under an advisory lock, however many workers start
together. Each unit of work is one transaction; a ``lock`` is a
transaction-scoped advisory lock. A transition is one conditional
``UPDATE ... WHERE state = ...``: under PostgreSQL's row locks a second
worker's update waits, re-reads the row and finds it moved, so exactly one
wins. Failures are one-line LedgerErrors naming the URL without its password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ..errors import LedgerError
from ..ledger_postgres import PostgresEngine, pg_sql
from ..metering import one_line
from .store import ActionTx, schema

try:
    import psycopg
except ImportError:  # pragma: no cover - the extra is not installed (the ledger says so first)
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresActions"]

_T = TypeVar("_T")

_SCHEMA_LOCK = 0x6C75_6163_7469_6F6E  # "luaction": the action tables are created once

SCHEMA = schema("BIGSERIAL PRIMARY KEY").rstrip().rstrip(";")


class _Tx:
    """The shared logic's view of an open PostgreSQL transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self.conn.execute(pg_sql(sql), tuple(params))
        rows: list[tuple[Any, ...]] = await cursor.fetchall()
        return rows

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(pg_sql(sql), tuple(params))
        return int(cursor.rowcount)


class PostgresActions:
    """The action tables in a PostgreSQL ledger's database, through its pool."""

    def __init__(self, ledger: PostgresEngine) -> None:
        self.name = ledger.name
        self._ledger = ledger
        self._ready = False
        self._creating: asyncio.Lock | None = None

    def close(self) -> None:
        """Nothing of its own to release: the pool is the ledger's."""

    async def run(
        self, work: Callable[[ActionTx], Coroutine[Any, Any, _T]], *, lock: str | None = None
    ) -> _T:
        async with self._ledger.connection() as conn:
            try:
                if not self._ready:
                    await self._create(conn)
                async with conn.transaction():
                    if lock is not None:
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,)
                        )
                    return await work(_Tx(conn))
            except (psycopg.Error, OSError) as exc:
                raise LedgerError(f"action store {self.name}: {one_line(exc)}") from exc

    async def _create(self, conn: Any) -> None:
        if self._creating is None:
            self._creating = asyncio.Lock()
        async with self._creating:
            if self._ready:
                return
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in SCHEMA.split(";"):
                    await conn.execute(statement)
            self._ready = True
