"""The action records: proposals, confirmations, idempotency keys and outcomes.

They live in the ledger's SQLite file (``action_confirmations`` and
``action_events``), opened with connections of their own (WAL, ``BEGIN
IMMEDIATE``), so the ledger's own tables and schema version are untouched. A
``":memory:"`` ledger gets a private in-memory database instead.

State machine (each step one conditional UPDATE, so two processes or two
concurrent confirmations can never both take it)::

    proposed ──► confirmed ──► executing ──► executed | failed
       ├──► superseded (a newer proposal of the same action, same conversation)
       └──► expired

``executing`` is written, with the idempotency key, *before* the vendor is
called; a record found in ``executing`` after a crash is settled by reading
the vendor's record back, never by executing again (:func:`~liveuser.actions.recover`).
Each record carries (tenant, conversation, identity hash) like the metering
ledger's rows, so the audit of a person links to their actions; only the
keyed hash of the email is stored (the ledger's own
:meth:`~liveuser.metering.Ledger.identity_hash`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..errors import LedgerError
from .model import Confirmation, State

_T = TypeVar("_T")

_SCHEMA = """
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
    id              INTEGER PRIMARY KEY,
    confirmation_id TEXT NOT NULL REFERENCES action_confirmations (confirmation_id),
    state           TEXT NOT NULL,
    detail          TEXT,
    at              TEXT NOT NULL
);
"""

_COLUMNS = (
    "confirmation_id, tenant, channel, conversation_id, identity_hash, action, arguments, "
    "target, summary, summary_hash, expires_at, binding, idempotency_key, state, outcome"
)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> datetime:
    return datetime.now(UTC)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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
    )


class ActionStore:
    """The action tables beside the ledger at ``path``; every method is async and atomic."""

    def __init__(
        self, path: str | Path, *, clock: Callable[[], datetime] = _now, busy_timeout: float = 5.0
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self._busy_timeout = busy_timeout
        self._memory: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one writer per process at a time, many processes by SQLite
        self._ready = False
        if self.path == ":memory:":
            self._uri = f"file:liveuser-actions-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._memory = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        else:
            self._uri = ""

    def close(self) -> None:
        """Release the private in-memory database, if any. Idempotent."""
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    # -- plumbing ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._uri:
            return sqlite3.connect(
                self._uri, uri=True, timeout=self._busy_timeout, isolation_level=None
            )
        if not os.path.exists(self.path):
            # Private to its owner, as the ledger creates it: the file may be opened here first.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _in_thread(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise LedgerError(f"action store {self.path}: {_one_line(exc)}") from exc
            try:
                if not self._ready:
                    conn.executescript(_SCHEMA)
                    self._ready = True
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as exc:
                raise LedgerError(f"action store {self.path}: {_one_line(exc)}") from exc
            finally:
                conn.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        return await asyncio.to_thread(self._in_thread, fn)

    @staticmethod
    def _event(
        conn: sqlite3.Connection, cid: str, state: State, detail: str | None, at: str
    ) -> None:
        conn.execute(
            "INSERT INTO action_events (confirmation_id, state, detail, at) VALUES (?, ?, ?, ?)",
            (cid, state.value, detail, at),
        )

    # -- transitions -----------------------------------------------------------

    async def propose(self, record: Confirmation) -> None:
        """Store a new proposal; older open proposals of the same action and
        conversation are superseded (only the latest can be confirmed)."""
        at = _stamp(self.clock())

        def work(conn: sqlite3.Connection) -> None:
            stale = conn.execute(
                "SELECT confirmation_id FROM action_confirmations WHERE tenant = ? AND channel = ?"
                " AND conversation_id = ? AND action = ? AND state = 'proposed'",
                (record.tenant, record.channel, record.conversation_id, record.action),
            ).fetchall()
            for (cid,) in stale:
                conn.execute(
                    "UPDATE action_confirmations SET state = 'superseded', updated_at = ?"
                    " WHERE confirmation_id = ?",
                    (at, cid),
                )
                self._event(conn, cid, State.superseded, record.confirmation_id, at)
            conn.execute(
                f"INSERT INTO action_confirmations ({_COLUMNS}, created_at, updated_at)"
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
            self._event(conn, record.confirmation_id, record.state, None, at)

        await self._run(work)

    async def get(self, confirmation_id: str) -> Confirmation | None:
        def work(conn: sqlite3.Connection) -> Confirmation | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM action_confirmations WHERE confirmation_id = ?",
                (confirmation_id,),
            ).fetchone()
            return None if row is None else _record(row)

        return await self._run(work)

    async def move(
        self, confirmation_id: str, old: State, new: State, detail: str | None = None
    ) -> bool:
        """``old`` → ``new`` if the record is still in ``old``; whether this call moved it."""
        at = _stamp(self.clock())

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE action_confirmations SET state = ?, updated_at = ?,"
                " outcome = COALESCE(?, outcome) WHERE confirmation_id = ? AND state = ?",
                (new.value, at, detail, confirmation_id, old.value),
            )
            if cursor.rowcount != 1:
                return False
            self._event(conn, confirmation_id, new, detail, at)
            return True

        return await self._run(work)

    async def pending(self, tenant: str, channel: str, conversation_id: str) -> list[Confirmation]:
        """The conversation's proposals still waiting for the customer, oldest first."""
        now = _stamp(self.clock())

        def work(conn: sqlite3.Connection) -> list[Confirmation]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM action_confirmations WHERE tenant = ? AND channel = ?"
                " AND conversation_id = ? AND state = 'proposed' AND expires_at > ?"
                " ORDER BY created_at",
                (tenant, channel, conversation_id, now),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._run(work)

    async def in_flight(self) -> list[Confirmation]:
        """Records a crash may have left ``confirmed`` or ``executing``."""

        def work(conn: sqlite3.Connection) -> list[Confirmation]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM action_confirmations"
                " WHERE state IN ('confirmed', 'executing') ORDER BY created_at"
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._run(work)

    async def events(self, confirmation_id: str) -> list[tuple[str, str | None]]:
        """The record's transitions, oldest first: (state, detail)."""

        def work(conn: sqlite3.Connection) -> list[tuple[str, str | None]]:
            rows = conn.execute(
                "SELECT state, detail FROM action_events WHERE confirmation_id = ? ORDER BY id",
                (confirmation_id,),
            ).fetchall()
            return [(str(s), d) for s, d in rows]

        return await self._run(work)

    async def for_identity(self, identity_hash: str) -> list[Confirmation]:
        """Every action record of one person (by the ledger's identity hash), oldest first."""

        def work(conn: sqlite3.Connection) -> list[Confirmation]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM action_confirmations WHERE identity_hash = ?"
                " ORDER BY created_at",
                (identity_hash,),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._run(work)

    async def forget(self, identity_hash: str) -> int:
        """Erase one person's action records: identity hash, arguments, summary and
        outcome (which name their records and address). Records still in flight are
        left for :func:`~liveuser.actions.recover`; open proposals can no longer be
        confirmed. Returns how many records were erased."""
        at = _stamp(self.clock())

        def work(conn: sqlite3.Connection) -> int:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT confirmation_id FROM action_confirmations WHERE identity_hash = ?"
                    " AND state NOT IN ('confirmed', 'executing')",
                    (identity_hash,),
                )
            ]
            for cid in ids:
                conn.execute(
                    "UPDATE action_confirmations SET identity_hash = '', arguments = '{}',"
                    " target = '{}', summary = '', outcome = NULL, updated_at = ?,"
                    " state = CASE state WHEN 'proposed' THEN 'expired' ELSE state END"
                    " WHERE confirmation_id = ?",
                    (at, cid),
                )
                conn.execute(
                    "UPDATE action_events SET detail = NULL WHERE confirmation_id = ?", (cid,)
                )
            return len(ids)

        return await self._run(work)
