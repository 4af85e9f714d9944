"""The action records: proposals, confirmations, idempotency keys and outcomes.

They live in the ledger's database (``action_confirmations`` and
``action_events``), beside the ledger's own tables, whose schema version they
leave untouched. The logic here is the same for both engines; each engine
runs one unit of work as one write transaction:

* SQLite (:mod:`liveuser.actions.store_sqlite`): connections of its own to the
  ledger's file (WAL, ``BEGIN IMMEDIATE``); a ``":memory:"`` ledger gets a
  private in-memory database instead;
* PostgreSQL (:mod:`liveuser.actions.store_postgres`): the ledger's pool; the
  tables are created once, under an advisory lock, when several workers start
  together.

:meth:`ActionStore.beside` picks the engine of a ledger.

State machine (each step one conditional ``UPDATE ... WHERE state = ...``, so
of two processes, two workers or two concurrent confirmations exactly one
takes it)::

    proposed ──► confirmed ──► executing ──► executed | failed
       ├──► superseded (a newer proposal of the same action, same conversation)
       └──► expired

``executing`` is written, with the idempotency key, *before* the vendor is
called; a record found in ``executing`` after a crash is settled by reading
the vendor's record back, never by executing again (:func:`~liveuser.actions.recover`,
which first claims it with :meth:`ActionStore.take_over`, so that of several
recovering workers one reads it back).
Each record carries (tenant, conversation, identity hash) like the metering
ledger's rows, so the audit of a person links to their actions; only the
keyed hash of the email is stored (the ledger's own
:meth:`~liveuser.metering.Ledger.identity_hash`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .model import Confirmation, State


def schema(event_id: str) -> str:
    """The action tables' DDL; ``event_id`` is the engine's auto-increment key column."""
    return f"""
CREATE TABLE IF NOT EXISTS action_confirmations (
    confirmation_id TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    identity_hash   TEXT NOT NULL,
    action          TEXT NOT NULL,
    arguments       TEXT NOT NULL,
    target          TEXT NOT NULL,
    summary         TEXT NOT NULL,
    summary_hash    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    binding         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('proposed', 'superseded', 'expired',
                        'confirmed', 'executing', 'executed', 'failed')),
    outcome         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS action_confirmations_by_conversation
    ON action_confirmations (tenant, channel, conversation_id, state);
CREATE INDEX IF NOT EXISTS action_confirmations_by_identity
    ON action_confirmations (identity_hash);
CREATE INDEX IF NOT EXISTS action_confirmations_in_flight
    ON action_confirmations (state) WHERE state IN ('confirmed', 'executing');
CREATE TABLE IF NOT EXISTS action_events (
    id              {event_id},
    confirmation_id TEXT NOT NULL REFERENCES action_confirmations (confirmation_id),
    state           TEXT NOT NULL,
    detail          TEXT,
    at              TEXT NOT NULL
);
"""


if TYPE_CHECKING:
    from ..metering import Ledger

__all__ = ["ActionEngine", "ActionStore", "ActionTx"]

_T = TypeVar("_T")

COLUMNS = (
    "confirmation_id, tenant, channel, conversation_id, identity_hash, action, arguments, "
    "target, summary, summary_hash, expires_at, binding, idempotency_key, state, outcome"
)
READ = f"{COLUMNS}, created_at, updated_at"
"""What every query reads: the stored columns and the two timestamps."""


class ActionTx(Protocol):
    """One open write transaction of an engine, in the shared SQL (``?`` placeholders)."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...


class ActionEngine(Protocol):
    """What a database gives the action store. Every failure is a one-line LedgerError."""

    name: str
    """How errors name the database (a path, or a URL without its password)."""

    async def run(
        self, work: Callable[[ActionTx], Coroutine[Any, Any, _T]], *, lock: str | None = None
    ) -> _T:
        """Run ``work`` in one write transaction (creating the tables first if needed),
        excluding every other transaction holding ``lock``; commit if it returns."""
        ...

    def close(self) -> None:
        """Release what the engine holds of its own (idempotent)."""
        ...


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def _record(row: tuple[Any, ...]) -> Confirmation:
    return Confirmation(
        confirmation_id=row[0],
        tenant=row[1],
        channel=row[2],
        conversation_id=row[3],
        identity_hash=row[4],
        action=row[5],
        arguments=json.loads(row[6]),
        target=json.loads(row[7]),
        summary=row[8],
        summary_hash=row[9],
        expires_at=datetime.fromisoformat(row[10]),
        binding=row[11],
        idempotency_key=row[12],
        state=State(row[13]),
        outcome=row[14],
        created_at=datetime.fromisoformat(row[15]),
        updated_at=datetime.fromisoformat(row[16]),
    )


async def _event(tx: ActionTx, cid: str, state: State, detail: str | None, at: str) -> None:
    await tx.execute(
        "INSERT INTO action_events (confirmation_id, state, detail, at) VALUES (?, ?, ?, ?)",
        (cid, state.value, detail, at),
    )


class ActionStore:
    """The action tables beside a ledger; every method is async and atomic.

    ``ActionStore(path)`` keeps them in a SQLite file (``":memory:"``: a private
    database); ``ActionStore(engine)`` in any :class:`ActionEngine`;
    :meth:`beside` next to a ledger, whichever its engine.
    """

    def __init__(
        self,
        target: str | Path | ActionEngine,
        *,
        clock: Callable[[], datetime] = _now,
        busy_timeout: float = 5.0,
    ) -> None:
        if isinstance(target, str | Path):
            from .store_sqlite import SqliteActions

            self._engine: ActionEngine = SqliteActions(str(target), busy_timeout=busy_timeout)
        else:
            self._engine = target
        self.path = self._engine.name
        self.clock = clock

    @classmethod
    def beside(cls, ledger: Ledger) -> ActionStore:
        """The action store in ``ledger``'s database: its SQLite file, or its
        PostgreSQL database through its pool of connections."""
        from ..ledger_postgres import PostgresEngine

        if isinstance(ledger.engine, PostgresEngine):
            from .store_postgres import PostgresActions

            return cls(PostgresActions(ledger.engine))
        return cls(ledger.path)

    def close(self) -> None:
        """Release the engine's own resources (a private in-memory database). Idempotent."""
        self._engine.close()

    # -- transitions -----------------------------------------------------------

    async def propose(self, record: Confirmation) -> None:
        """Store a new proposal; older open proposals of the same action and
        conversation are superseded (only the latest can be confirmed)."""
        at = _stamp(self.clock())
        scope = (record.tenant, record.channel, record.conversation_id, record.action)

        async def work(tx: ActionTx) -> None:
            stale = await tx.fetchall(
                "SELECT confirmation_id FROM action_confirmations WHERE tenant = ? AND channel = ?"
                " AND conversation_id = ? AND action = ? AND state = 'proposed'",
                scope,
            )
            for (cid,) in stale:
                moved = await tx.execute(
                    "UPDATE action_confirmations SET state = 'superseded', updated_at = ?"
                    " WHERE confirmation_id = ? AND state = 'proposed'",
                    (at, cid),
                )
                if moved:
                    await _event(tx, cid, State.superseded, record.confirmation_id, at)
            await tx.execute(
                f"INSERT INTO action_confirmations ({COLUMNS}, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.confirmation_id,
                    record.tenant,
                    record.channel,
                    record.conversation_id,
                    record.identity_hash,
                    record.action,
                    json.dumps(record.arguments, sort_keys=True),
                    json.dumps(record.target, sort_keys=True),
                    record.summary,
                    record.summary_hash,
                    _stamp(record.expires_at),
                    record.binding,
                    record.idempotency_key,
                    record.state.value,
                    record.outcome,
                    at,
                    at,
                ),
            )
            await _event(tx, record.confirmation_id, record.state, None, at)

        await self._engine.run(work, lock="\x1f".join(("action-proposal", *scope)))

    async def get(self, confirmation_id: str) -> Confirmation | None:
        async def work(tx: ActionTx) -> Confirmation | None:
            rows = await tx.fetchall(
                f"SELECT {READ} FROM action_confirmations WHERE confirmation_id = ?",
                (confirmation_id,),
            )
            return _record(rows[0]) if rows else None

        return await self._engine.run(work)

    async def move(
        self, confirmation_id: str, old: State, new: State, detail: str | None = None
    ) -> bool:
        """``old`` → ``new`` if the record is still in ``old``; whether this call moved it.

        One conditional UPDATE: of concurrent callers, on any engine and from
        any process, exactly one moves it."""
        at = _stamp(self.clock())

        async def work(tx: ActionTx) -> bool:
            changed = await tx.execute(
                "UPDATE action_confirmations SET state = ?, updated_at = ?,"
                " outcome = COALESCE(?, outcome) WHERE confirmation_id = ? AND state = ?",
                (new.value, at, detail, confirmation_id, old.value),
            )
            if changed != 1:
                return False
            await _event(tx, confirmation_id, new, detail, at)
            return True

        return await self._engine.run(work)

    async def take_over(self, confirmation_id: str, state: State, seen_at: datetime) -> bool:
        """Claim a record still in ``state`` and last written at ``seen_at`` (as the
        caller read it); whether this call claimed it.

        The claim moves ``updated_at`` forward (to now, or just past ``seen_at``)
        and leaves the state as it is, so the record looks freshly written to
        every other caller. One conditional UPDATE on the exact stamp read: of
        concurrent callers, on any engine and from any process, exactly one
        claims it (a second PostgreSQL update waits on the row lock, re-reads
        the row and finds another stamp; SQLite runs one writer at a time)."""
        stamp = max(self.clock(), seen_at + timedelta(microseconds=1))

        async def work(tx: ActionTx) -> bool:
            changed = await tx.execute(
                "UPDATE action_confirmations SET updated_at = ?"
                " WHERE confirmation_id = ? AND state = ? AND updated_at = ?",
                (_stamp(stamp), confirmation_id, state.value, _stamp(seen_at)),
            )
            return changed == 1

        return await self._engine.run(work)

    async def pending(self, tenant: str, channel: str, conversation_id: str) -> list[Confirmation]:
        """The conversation's proposals still waiting for the customer, oldest first."""
        now = _stamp(self.clock())

        async def work(tx: ActionTx) -> list[Confirmation]:
            rows = await tx.fetchall(
                f"SELECT {READ} FROM action_confirmations WHERE tenant = ? AND channel = ?"
                " AND conversation_id = ? AND state = 'proposed' AND expires_at > ?"
                " ORDER BY created_at",
                (tenant, channel, conversation_id, now),
            )
            return [_record(r) for r in rows]

        return await self._engine.run(work)

    async def in_flight(self) -> list[Confirmation]:
        """Records ``confirmed`` or ``executing``: in flight now, or left so by a crash
        (:func:`~liveuser.actions.recover` tells them apart by ``updated_at``)."""

        async def work(tx: ActionTx) -> list[Confirmation]:
            rows = await tx.fetchall(
                f"SELECT {READ} FROM action_confirmations"
                " WHERE state IN ('confirmed', 'executing') ORDER BY created_at"
            )
            return [_record(r) for r in rows]

        return await self._engine.run(work)

    async def events(self, confirmation_id: str) -> list[tuple[str, str | None]]:
        """The record's transitions, oldest first: (state, detail)."""

        async def work(tx: ActionTx) -> list[tuple[str, str | None]]:
            rows = await tx.fetchall(
                "SELECT state, detail FROM action_events WHERE confirmation_id = ? ORDER BY id",
                (confirmation_id,),
            )
            return [(str(s), d) for s, d in rows]

        return await self._engine.run(work)

    async def for_identity(self, identity_hash: str) -> list[Confirmation]:
        """Every action record of one person (by the ledger's identity hash), oldest first."""

        async def work(tx: ActionTx) -> list[Confirmation]:
            rows = await tx.fetchall(
                f"SELECT {READ} FROM action_confirmations WHERE identity_hash = ?"
                " ORDER BY created_at",
                (identity_hash,),
            )
            return [_record(r) for r in rows]

        return await self._engine.run(work)

    async def forget(self, identity_hash: str) -> int:
        """Erase one person's action records: identity hash, arguments, summary and
        outcome (which name their records and address). Records still in flight are
        left for :func:`~liveuser.actions.recover`; open proposals can no longer be
        confirmed. Returns how many records were erased."""
        at = _stamp(self.clock())

        async def work(tx: ActionTx) -> int:
            rows = await tx.fetchall(
                "SELECT confirmation_id FROM action_confirmations WHERE identity_hash = ?"
                " AND state NOT IN ('confirmed', 'executing')",
                (identity_hash,),
            )
            erased = 0
            for (cid,) in rows:
                # Conditional again: a confirmation another worker just took stays whole.
                changed = await tx.execute(
                    "UPDATE action_confirmations SET identity_hash = '', arguments = '{}',"
                    " target = '{}', summary = '', outcome = NULL, updated_at = ?,"
                    " state = CASE state WHEN 'proposed' THEN 'expired' ELSE state END"
                    " WHERE confirmation_id = ? AND state NOT IN ('confirmed', 'executing')",
                    (at, cid),
                )
                if changed:
                    await tx.execute(
                        "UPDATE action_events SET detail = NULL WHERE confirmation_id = ?", (cid,)
                    )
                    erased += 1
            return erased

        return await self._engine.run(work)
