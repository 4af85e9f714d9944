"""The metering ledger: what was delivered to which conversation, and what it cost.

Contract
--------

* **Size.** The size of a delivered context or tool result is the number of
  characters (code points, ``len(text)``) of the exact text the model receives.
* **Charge.** A delivery larger than :attr:`Pricing.threshold` characters
  (default 1500; exactly 1500 is free) makes its *message* chargeable at
  :attr:`Pricing.price` (default ``Decimal("0.02")``); the ledger's pricing can
  be overridden per call (per tenant) in :meth:`Ledger.record`. A message, identified by
  ``(tenant, conversation_id, message_id)``, is charged **at most once**, however
  many of its deliveries are over the threshold: only the first chargeable
  delivery carries the amount, the rest are recorded with ``amount == 0``. A
  partial unique index in the database enforces this as well.
* **Idempotence.** Each delivery is recorded once, keyed on
  ``(tenant, conversation_id, message_id, tool_call_id)``; the context itself
  has ``tool_call_id == ""``. Recording the same key again (a retried turn)
  returns the *original* record unchanged and never charges again.
* **Money.** Amounts are :class:`~decimal.Decimal`, stored as TEXT and summed
  exactly in Python, never as floats.
* **Privacy.** The ledger records whose data went to which conversation, but
  only as ``identity_hash``: the hex HMAC-SHA256, under the ledger key, of the
  normalised email (:func:`liveuser.identity.normalize_email`). No plain email
  address is ever stored. :meth:`Ledger.forget` erases a person's hash and
  sources from every row while keeping the billing facts, so totals do not move.
  A ledger remembers a fingerprint of its key and refuses to open with another.
* **Time.** ``recorded_at`` is UTC; :meth:`Ledger.month_spend` and
  :meth:`Ledger.usage` use UTC calendar months and days.
* **Concurrency.** One SQLite connection (WAL, ``synchronous=NORMAL``) is used
  from one dedicated worker thread; the async methods hand their work to it,
  so they never block the event loop. ``record`` runs in a ``BEGIN IMMEDIATE``
  transaction, so several processes may share one ledger file.
* **Errors.** Every failure (SQLite, file system, bad argument, wrong key,
  closed ledger) is raised as :class:`~liveuser.errors.LedgerError` with a
  one-line message.
* **Schema.** Created on first open; its version is ``PRAGMA user_version``
  (currently :data:`SCHEMA_VERSION`). A ledger written by a newer liveuser is
  refused rather than misread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from .errors import LedgerError
from .identity import normalize_email
from .models import MeterRecord

__all__ = [
    "KEY_BYTES",
    "SCHEMA_VERSION",
    "AuditRow",
    "Ledger",
    "Pricing",
    "UsageRow",
    "load_or_create_key",
]

SCHEMA_VERSION = 1
"""The schema this module writes, kept in ``PRAGMA user_version``."""

KEY_BYTES = 32
"""Length of a ledger key file."""

_MIN_KEY_BYTES = 16
_KEY_CHECK_LABEL = b"liveuser-ledger-key-check-v1"
_T = TypeVar("_T")

_SCHEMA_V1 = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    tool_call_id    TEXT    NOT NULL DEFAULT '',
    channel         TEXT    NOT NULL,
    chars           INTEGER NOT NULL CHECK (chars >= 0),
    charged         INTEGER NOT NULL CHECK (charged IN (0, 1)),
    amount          TEXT    NOT NULL,
    sources         TEXT    NOT NULL DEFAULT '[]',
    identity_hash   TEXT,
    recorded_at     TEXT    NOT NULL,
    UNIQUE (tenant, conversation_id, message_id, tool_call_id)
);

CREATE UNIQUE INDEX deliveries_one_charge_per_message
    ON deliveries (tenant, conversation_id, message_id) WHERE charged = 1;
CREATE INDEX deliveries_by_identity
    ON deliveries (identity_hash) WHERE identity_hash IS NOT NULL;
CREATE INDEX deliveries_by_tenant_time
    ON deliveries (tenant, recorded_at);
"""

_COLUMNS = (
    "tenant, conversation_id, message_id, tool_call_id, channel, chars, charged, amount, "
    "sources, identity_hash, recorded_at"
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise LedgerError(f"ledger: {what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    """A fixed-width UTC timestamp, so text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _month_bounds(at: datetime) -> tuple[str, str]:
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return _stamp(start), _stamp(end)


@dataclass(frozen=True)
class Pricing:
    """When a delivery is charged, and how much.

    A message is charged ``price`` once if any of its deliveries is longer than
    ``threshold`` characters.
    """

    threshold: int = 1500
    price: Decimal = Decimal("0.02")

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise ValueError(f"pricing threshold must be an int, got {self.threshold!r}")
        if self.threshold < 0:
            raise ValueError(f"pricing threshold must not be negative, got {self.threshold}")
        if not isinstance(self.price, Decimal):
            raise ValueError(f"pricing price must be a Decimal, got {self.price!r}")
        if not self.price.is_finite() or self.price < 0:
            raise ValueError(f"pricing price must be a finite, non-negative amount: {self.price}")

    def charges(self, chars: int) -> bool:
        """Whether a delivery of ``chars`` characters is over the threshold."""
        return chars > self.threshold


@dataclass(frozen=True)
class UsageRow:
    """One tenant's metering for one UTC day.

    ``messages`` counts distinct messages with a delivery that day and
    ``charged_messages`` those charged that day; ``amount`` is their total.
    """

    tenant: str
    day: date
    deliveries: int
    messages: int
    charged_messages: int
    chars: int
    amount: Decimal


@dataclass(frozen=True)
class AuditRow:
    """One delivery that carried a given person's data."""

    tenant: str
    channel: str
    conversation_id: str
    message_id: str
    tool_call_id: str
    sources: tuple[str, ...]
    chars: int
    recorded_at: datetime


def load_or_create_key(path: Path) -> bytes:
    """Return the ledger key in ``path``, creating it (random, mode 0600) if absent.

    The file holds exactly :data:`KEY_BYTES` raw bytes. Creation is atomic: a
    concurrent caller either creates the file or reads the one that won.
    """
    path = Path(path)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".ledger-key-", dir=path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(KEY_BYTES))
                    fh.flush()
                    os.fsync(fh.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        key = path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"ledger key {path}: {_one_line(exc)}") from exc
    if len(key) != KEY_BYTES:
        raise LedgerError(f"ledger key {path}: expected {KEY_BYTES} bytes, found {len(key)}")
    return key


class Ledger:
    """The SQLite metering ledger. See the module docstring for the contract.

    ``Ledger(path, key)`` is cheap; the database is opened (and its schema
    created) on first use in the worker thread, or eagerly by :meth:`open` or
    ``async with``. Use ``":memory:"`` as ``path`` for a throwaway ledger.
    ``clock`` returns the timezone-aware time a delivery is recorded at.
    """

    def __init__(
        self,
        path: str | Path,
        key: bytes,
        pricing: Pricing = Pricing(),
        *,
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout: float = 5.0,
    ) -> None:
        if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
            raise LedgerError(f"ledger key must be at least {_MIN_KEY_BYTES} bytes")
        self._path = str(path)
        self._key = key
        self.pricing = pricing
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liveuser-ledger")
        self._pending: list[
            tuple[Callable[[sqlite3.Connection], MeterRecord], asyncio.Future[MeterRecord]]
        ] = []
        self._draining: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | Path,
        key: bytes,
        pricing: Pricing = Pricing(),
        *,
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout: float = 5.0,
    ) -> Self:
        """Create a ledger and open its database now, so errors surface here."""
        ledger = cls(path, key, pricing, clock=clock, busy_timeout=busy_timeout)
        try:
            await ledger._run(lambda conn: None)
        except BaseException:
            await ledger.aclose()
            raise
        return ledger

    @property
    def path(self) -> str:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Finish pending work, close the connection and stop the worker. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._executor.submit(self._close_in_worker).result()
        finally:
            self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """Record what is queued, then :meth:`close`, without blocking the event loop."""
        if self._draining is not None and not self._draining.done():
            await self._draining
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> Self:
        await self._run(lambda conn: None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- worker-thread plumbing ---------------------------------------------

    async def _record_in_batch(
        self, work: Callable[[sqlite3.Connection], MeterRecord]
    ) -> MeterRecord:
        """Run ``work`` in the next write transaction, shared with concurrent recorders.

        Group commit: while one transaction is in the worker thread, records
        that arrive queue up and go together in the next one, so a busy process
        pays one thread hop and one commit per batch, not per record. Each
        record runs under its own savepoint: one failing does not undo another.
        """
        if self._closed:
            raise LedgerError(f"ledger {self._path} is closed")
        future: asyncio.Future[MeterRecord] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        return await future

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
        self,
        conn: sqlite3.Connection,
        batch: list[
            tuple[Callable[[sqlite3.Connection], MeterRecord], asyncio.Future[MeterRecord]]
        ],
    ) -> list[MeterRecord | LedgerError]:
        outcomes: list[MeterRecord | LedgerError] = []
        alone = len(batch) == 1  # nothing to isolate it from: no savepoint
        conn.execute("BEGIN IMMEDIATE")
        try:
            for work, _ in batch:
                if not alone:
                    conn.execute("SAVEPOINT record")
                try:
                    outcomes.append(work(conn))
                except (sqlite3.Error, LedgerError, ValueError) as exc:
                    conn.execute("ROLLBACK" if alone else "ROLLBACK TO record")
                    outcomes.append(
                        exc
                        if isinstance(exc, LedgerError)
                        else LedgerError(f"ledger {self._path}: {_one_line(exc)}")
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
            raise LedgerError(f"ledger {self._path} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._in_worker, fn)
        except RuntimeError as exc:  # executor shut down between the check and submit
            if self._closed:
                raise LedgerError(f"ledger {self._path} is closed") from exc
            raise

    def _in_worker(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return fn(self._connection())
        except LedgerError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"ledger {self._path}: {_one_line(exc)}") from exc

    def _close_in_worker(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger {self._path}: {_one_line(exc)}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if self._closed:
            raise LedgerError(f"ledger {self._path} is closed")
        if self._path != ":memory:" and not os.path.exists(self._path):
            # Create the file private to its owner; SQLite gives -wal/-shm the same mode.
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
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

    def _key_check(self) -> str:
        return hmac.new(self._key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self._path} has schema version {version}; "
                    f"this liveuser reads up to {SCHEMA_VERSION}"
                )
            if version < 1:
                for statement in _SCHEMA_V1.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?)", (self._key_check(),)
                )
                # Future versions: `if version < 2: ...` here, each step in this transaction.
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = conn.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
            if row is None or not hmac.compare_digest(str(row[0]), self._key_check()):
                raise LedgerError(
                    f"ledger {self._path} was created with a different key; refusing to open it"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- identity ------------------------------------------------------------

    def identity_hash(self, email: str) -> str:
        """Hex HMAC-SHA256, under the ledger key, of the normalised ``email``."""
        try:
            normal = normalize_email(email)
        except ValueError as exc:
            raise LedgerError(f"ledger: {_one_line(exc)}") from exc
        return hmac.new(self._key, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- recording -----------------------------------------------------------

    async def record(
        self,
        *,
        tenant: str,
        conversation_id: str,
        message_id: str,
        tool_call_id: str = "",
        channel: str,
        chars: int,
        sources: Sequence[str] = (),
        identity: str | None = None,
        pricing: Pricing | None = None,
    ) -> MeterRecord:
        """Record one delivery and return its row; a repeated key never adds a charge twice.

        A repeated key (a retried turn) that delivered the same text returns the
        original row unchanged. One that delivered other text updates the row to
        what the model received last (size, sources, identity where none was
        known), charging the message only if no delivery of it was charged yet;
        one that delivered another person's data gets a row of its own, so
        :meth:`audit` finds both people.

        ``identity`` is the verified user's email (``None`` for a refusal); only
        its :meth:`identity_hash` is stored. ``pricing`` overrides the ledger's
        own for this delivery (a tenant's threshold and price); the at-most-once
        rule per message holds whatever the pricing.
        """
        for name, value in (
            ("tenant", tenant),
            ("conversation_id", conversation_id),
            ("message_id", message_id),
            ("channel", channel),
        ):
            if not isinstance(value, str) or not value:
                raise LedgerError(f"ledger: {name} must be a non-empty string")
        if not isinstance(tool_call_id, str):
            raise LedgerError("ledger: tool_call_id must be a string")
        if isinstance(chars, bool) or not isinstance(chars, int) or chars < 0:
            raise LedgerError(f"ledger: chars must be a non-negative int, got {chars!r}")
        if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
            raise LedgerError("ledger: sources must be a sequence of strings")
        source_list = list(sources)
        id_hash = None if identity is None else self.identity_hash(identity)
        at = _stamp(_as_utc(self._clock(), "clock()"))
        key = (tenant, conversation_id, message_id, tool_call_id)
        pricing = self.pricing if pricing is None else pricing

        def select(conn: sqlite3.Connection, key: tuple[str, ...]) -> Any:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE tenant = ? AND conversation_id = ?"
                " AND message_id = ? AND tool_call_id = ?",
                key,
            ).fetchone()

        def chargeable(conn: sqlite3.Connection) -> bool:
            if not pricing.charges(chars):
                return False
            already = conn.execute(
                "SELECT 1 FROM deliveries WHERE tenant = ? AND conversation_id = ?"
                " AND message_id = ? AND charged = 1 LIMIT 1",
                key[:3],
            ).fetchone()
            return already is None

        def insert(conn: sqlite3.Connection, key: tuple[str, ...]) -> tuple[Any, ...]:
            charged = chargeable(conn)
            amount = pricing.price if charged else Decimal("0")
            row = (
                *key,
                channel,
                chars,
                int(charged),
                str(amount),
                json.dumps(source_list),
                id_hash,
                at,
            )
            conn.execute(
                f"INSERT INTO deliveries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return row

        def work(conn: sqlite3.Connection) -> MeterRecord:
            # Runs inside a batch's write transaction (see _commit_batch).
            row_key: tuple[str, ...] = key
            existing = select(conn, row_key)
            if existing is None:
                return self._to_record(insert(conn, row_key))
            if existing[9] is not None and id_hash not in (None, existing[9]):
                # A retried turn that delivered another person's data: its own row,
                # so the audit finds both people.
                row_key = (*key[:3], f"{tool_call_id}~{id_hash[:16]}")
                if select(conn, row_key) is None:
                    insert(conn, row_key)
            elif (existing[5], json.loads(existing[8]), existing[9]) != (
                chars,
                source_list,
                id_hash or existing[9],
            ):
                # A retried turn that delivered other text: the row follows what the
                # model received last; a message is still charged at most once.
                charge = not existing[6] and chargeable(conn)
                conn.execute(
                    "UPDATE deliveries SET chars = ?, sources = ?,"
                    " identity_hash = COALESCE(?, identity_hash),"
                    " charged = MAX(charged, ?), amount = CASE WHEN ? THEN ? ELSE amount END"
                    " WHERE tenant = ? AND conversation_id = ? AND message_id = ?"
                    " AND tool_call_id = ?",
                    (
                        chars,
                        json.dumps(source_list),
                        id_hash,
                        int(charge),
                        int(charge),
                        str(pricing.price),
                        *key,
                    ),
                )
            existing = select(conn, row_key)
            return self._to_record(existing)

        return await self._record_in_batch(work)

    def _to_record(self, row: tuple[Any, ...]) -> MeterRecord:
        try:
            return MeterRecord(
                tenant=row[0],
                conversation_id=row[1],
                message_id=row[2],
                tool_call_id=row[3],
                channel=row[4],
                chars=row[5],
                charged=bool(row[6]),
                amount=Decimal(row[7]),
                sources=tuple(json.loads(row[8])),
                identity_hash=row[9],
                recorded_at=datetime.fromisoformat(row[10]),
            )
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise LedgerError(f"ledger {self._path}: unreadable record: {_one_line(exc)}") from exc

    # -- questions -----------------------------------------------------------

    async def month_spend(self, tenant: str, at: datetime | None = None) -> Decimal:
        """Total charged to ``tenant`` in the UTC calendar month containing ``at`` (now)."""
        when = _as_utc(self._clock() if at is None else at, "at")
        start, end = _month_bounds(when)

        def work(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            return conn.execute(
                "SELECT amount, COUNT(*) FROM deliveries WHERE tenant = ? AND charged = 1"
                " AND recorded_at >= ? AND recorded_at < ? GROUP BY amount",
                (tenant, start, end),
            ).fetchall()

        return sum((Decimal(amount) * n for amount, n in await self._run(work)), Decimal("0"))

    async def usage(self, tenant: str | None = None) -> list[UsageRow]:
        """Per tenant and UTC day: deliveries, messages, charged messages, chars, amount."""
        where = "" if tenant is None else "WHERE tenant = ?"
        params: tuple[str, ...] = () if tenant is None else (tenant,)

        def work(
            conn: sqlite3.Connection,
        ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            counts = conn.execute(
                "SELECT tenant, day, SUM(n), COUNT(*), SUM(c), SUM(chars) FROM ("
                "  SELECT tenant, substr(recorded_at, 1, 10) AS day, COUNT(*) AS n,"
                "         MAX(charged) AS c, SUM(chars) AS chars"
                f"  FROM deliveries {where}"
                "  GROUP BY tenant, day, conversation_id, message_id"
                ") GROUP BY tenant, day ORDER BY tenant, day",
                params,
            ).fetchall()
            amounts = conn.execute(
                "SELECT tenant, substr(recorded_at, 1, 10) AS day, amount, COUNT(*)"
                f" FROM deliveries {where} {'AND' if where else 'WHERE'} charged = 1"
                " GROUP BY tenant, day, amount",
                params,
            ).fetchall()
            return counts, amounts

        counts, amounts = await self._run(work)
        totals: dict[tuple[str, str], Decimal] = {}
        for t, day, amount, n in amounts:
            totals[(t, day)] = totals.get((t, day), Decimal("0")) + Decimal(amount) * n
        return [
            UsageRow(
                tenant=t,
                day=date.fromisoformat(day),
                deliveries=int(deliveries),
                messages=int(messages),
                charged_messages=int(charged),
                chars=int(chars),
                amount=totals.get((t, day), Decimal("0")),
            )
            for t, day, deliveries, messages, charged, chars in counts
        ]

    async def audit(self, email: str) -> list[AuditRow]:
        """Every delivery that carried this person's data, oldest first."""
        id_hash = self.identity_hash(email)

        def work(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                "SELECT tenant, channel, conversation_id, message_id, tool_call_id, sources,"
                " chars, recorded_at FROM deliveries WHERE identity_hash = ?"
                " ORDER BY recorded_at, id",
                (id_hash,),
            ).fetchall()

        return [
            AuditRow(
                tenant=row[0],
                channel=row[1],
                conversation_id=row[2],
                message_id=row[3],
                tool_call_id=row[4],
                sources=tuple(json.loads(row[5])),
                chars=row[6],
                recorded_at=datetime.fromisoformat(row[7]),
            )
            for row in await self._run(work)
        ]

    async def forget(self, email: str) -> int:
        """Erase this person's hash and sources from every row; return how many rows.

        Tenant, conversation, message, chars, charge and amount stay, so
        :meth:`month_spend` and :meth:`usage` do not change.
        """
        id_hash = self.identity_hash(email)

        def work(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "UPDATE deliveries SET identity_hash = NULL, sources = '[]'"
                    " WHERE identity_hash = ?",
                    (id_hash,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return cursor.rowcount

        return await self._run(work)
