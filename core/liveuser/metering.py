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
* **Engines.** The ledger's target picks its database: a file path (or
  ``":memory:"``) is SQLite (:mod:`liveuser.ledger_sqlite`), the default; a
  ``postgresql://`` URL is PostgreSQL (:mod:`liveuser.ledger_postgres`, extra
  ``liveuser[postgres]``), which several processes on several machines share.
  This module holds everything both share: the rules above, the validation,
  the one piece of record logic and the questions, in SQL both engines run.
* **Concurrency.** Every delivery of one message is recorded in a write
  transaction that excludes the others of that message (SQLite: ``BEGIN
  IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock on the message),
  so concurrent workers charge a message once. No method waits on the event
  loop: not for a lock, a network or a disk sync (SQLite writes a batch on
  the loop's thread only when its lock is free at once; see its module).
* **Errors.** Every failure (database, file system, network, bad argument,
  wrong key, closed ledger) is raised as :class:`~liveuser.errors.LedgerError`
  with a one-line message.
* **Schema.** Created on first open, with its version (currently
  :data:`SCHEMA_VERSION`). A ledger written by a newer liveuser is refused
  rather than misread.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from .errors import LedgerError
from .identity import normalize_email
from .models import MeterRecord

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "KEY_BYTES",
    "SCHEMA_VERSION",
    "AuditRow",
    "Ledger",
    "LedgerEngine",
    "LedgerTx",
    "Pricing",
    "UsageRow",
    "load_or_create_key",
]

SCHEMA_VERSION = 1
"""The schema the engines write (SQLite: ``PRAGMA user_version``; PostgreSQL: ``meta``)."""

KEY_BYTES = 32
"""Length of a ledger key file."""

_MIN_KEY_BYTES = 16
_KEY_CHECK_LABEL = b"liveuser-ledger-key-check-v1"
_T = TypeVar("_T")

_COLUMNS = (
    "tenant, conversation_id, message_id, tool_call_id, channel, chars, charged, amount, "
    "sources, identity_hash, recorded_at"
)
_INSERT_NEW = (
    f"INSERT INTO deliveries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)


def deliveries_schema(id_column: str) -> str:
    """The ledger's table and indexes; ``id_column`` is the engine's auto-increment key."""
    return f"""
CREATE TABLE IF NOT EXISTS deliveries (
    id              {id_column},
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
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_one_charge_per_message
    ON deliveries (tenant, conversation_id, message_id) WHERE charged = 1;
CREATE INDEX IF NOT EXISTS deliveries_by_identity
    ON deliveries (identity_hash) WHERE identity_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_by_tenant_time
    ON deliveries (tenant, recorded_at)
"""


def one_line(exc: BaseException) -> str:
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
        raise LedgerError(f"ledger key {path}: {one_line(exc)}") from exc
    if len(key) != KEY_BYTES:
        raise LedgerError(f"ledger key {path}: expected {KEY_BYTES} bytes, found {len(key)}")
    return key


class LedgerTx(Protocol):
    """One write transaction of an engine, in the shared SQL (``?`` placeholders)."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        ...


RecordWork = Callable[[LedgerTx], Coroutine[Any, Any, tuple[Any, ...]]]
"""One delivery's record logic: runs in a write transaction, returns the row."""


class LedgerEngine(Protocol):
    """What a database gives the ledger. Every failure is a one-line LedgerError."""

    name: str
    """How errors name the database (a path, or a URL without its password)."""

    async def open(self) -> None:
        """Connect and create or check the schema and the key's fingerprint."""
        ...

    async def record(self, lock: str, work: RecordWork) -> tuple[Any, ...]:
        """Run ``work`` in a write transaction excluding every other holding ``lock``."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a read-only query."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own write transaction; rows changed."""
        ...

    def close(self) -> None:
        """Close without an event loop (idempotent)."""
        ...

    async def aclose(self) -> None:
        """Finish queued work and close (idempotent)."""
        ...


def is_database_url(target: str | Path) -> bool:
    """Whether a ledger target names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine that never suspends (the record logic over a synchronous
    transaction) to its end, here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("the ledger's record logic suspended inside a synchronous transaction")


class Ledger:
    """The metering ledger. See the module docstring for the contract.

    ``Ledger(target, key)`` is cheap; the database is opened (and its schema
    created) on first use, or eagerly by :meth:`open` or ``async with``.
    ``target`` is a SQLite file path (``":memory:"`` for a throwaway ledger)
    or a ``postgresql://`` URL. ``clock`` returns the timezone-aware time a
    delivery is recorded at; ``busy_timeout`` is how long a write waits for
    another's lock; ``pool_size`` bounds a PostgreSQL ledger's connections.
    """

    def __init__(
        self,
        path: str | Path,
        key: bytes,
        pricing: Pricing = Pricing(),
        *,
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout: float = 5.0,
        pool_size: int = 10,
    ) -> None:
        if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
            raise LedgerError(f"ledger key must be at least {_MIN_KEY_BYTES} bytes")
        self._key = key
        self.pricing = pricing
        self._clock = clock
        self._closed = False
        key_check = hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()
        self._engine: LedgerEngine
        if is_database_url(path):
            from .ledger_postgres import PostgresEngine

            self._engine = PostgresEngine(
                str(path), key_check, busy_timeout=busy_timeout, pool_size=pool_size
            )
        else:
            from .ledger_sqlite import SqliteEngine

            self._engine = SqliteEngine(str(path), key_check, busy_timeout=busy_timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        """The ledger ``settings`` name, under its key: ``ledger_key`` when set, else
        the key file kept beside a SQLite ledger (``<ledger>.key``, created on first
        use). The ``liveuser`` CLI opens it so too, so its ``usage``, ``audit`` and
        ``forget`` read what an application recorded."""
        if settings.ledger_key is not None:
            key = settings.ledger_key.get_secret_value().encode()
        else:
            key = load_or_create_key(Path(f"{settings.ledger}.key"))
        return cls(settings.ledger_target, key)

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
        pool_size: int = 10,
    ) -> Self:
        """Create a ledger and open its database now, so errors surface here."""
        ledger = cls(
            path, key, pricing, clock=clock, busy_timeout=busy_timeout, pool_size=pool_size
        )
        try:
            await ledger._engine.open()
        except BaseException:
            await ledger.aclose()
            raise
        return ledger

    @property
    def path(self) -> str:
        """The database: a file path, or a URL without its password."""
        return self._engine.name

    @property
    def engine(self) -> LedgerEngine:
        return self._engine

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Finish pending work and close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._engine.close()

    async def aclose(self) -> None:
        """Record what is queued, then close, without blocking the event loop."""
        self._closed = True
        await self._engine.aclose()

    async def __aenter__(self) -> Self:
        self._check_open()
        await self._engine.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(f"ledger {self.path} is closed")

    # -- identity ------------------------------------------------------------

    def identity_hash(self, email: str) -> str:
        """Hex HMAC-SHA256, under the ledger key, of the normalised ``email``."""
        try:
            normal = normalize_email(email)
        except ValueError as exc:
            raise LedgerError(f"ledger: {one_line(exc)}") from exc
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

        async def select(tx: LedgerTx, key: tuple[str, ...]) -> tuple[Any, ...] | None:
            return await tx.fetchone(
                f"SELECT {_COLUMNS} FROM deliveries WHERE tenant = ? AND conversation_id = ?"
                " AND message_id = ? AND tool_call_id = ?",
                key,
            )

        async def chargeable(tx: LedgerTx) -> bool:
            if not pricing.charges(chars):
                return False
            already = await tx.fetchone(
                "SELECT 1 FROM deliveries WHERE tenant = ? AND conversation_id = ?"
                " AND message_id = ? AND charged = 1 LIMIT 1",
                key[:3],
            )
            return already is None

        async def insert(tx: LedgerTx, key: tuple[str, ...]) -> tuple[Any, ...]:
            charged = await chargeable(tx)
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
            await tx.execute(
                f"INSERT INTO deliveries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return row

        async def work(tx: LedgerTx) -> tuple[Any, ...]:
            # Runs inside a write transaction that excludes this message's other deliveries.
            # The common case, a message's first delivery, is one statement: the insert
            # does nothing if this key exists or if it would charge a message already
            # charged (the one-charge index), and the general path below decides then.
            first = (
                *key,
                channel,
                chars,
                int(pricing.charges(chars)),
                str(pricing.price if pricing.charges(chars) else Decimal("0")),
                json.dumps(source_list),
                id_hash,
                at,
            )
            if await tx.execute(_INSERT_NEW, first) == 1:
                return first
            row_key: tuple[str, ...] = key
            existing = await select(tx, row_key)
            if existing is None:
                return await insert(tx, row_key)
            if existing[9] is not None and id_hash not in (None, existing[9]):
                # A retried turn that delivered another person's data: its own row,
                # so the audit finds both people.
                row_key = (*key[:3], f"{tool_call_id}~{id_hash[:16]}")
                if await select(tx, row_key) is None:
                    await insert(tx, row_key)
            elif (existing[5], json.loads(existing[8]), existing[9]) != (
                chars,
                source_list,
                id_hash or existing[9],
            ):
                # A retried turn that delivered other text: the row follows what the
                # model received last; a message is still charged at most once.
                charge = not existing[6] and await chargeable(tx)
                await tx.execute(
                    "UPDATE deliveries SET chars = ?, sources = ?,"
                    " identity_hash = COALESCE(?, identity_hash),"
                    " charged = CASE WHEN ? = 1 THEN 1 ELSE charged END,"
                    " amount = CASE WHEN ? = 1 THEN ? ELSE amount END"
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
            found = await select(tx, row_key)
            if found is None:  # pragma: no cover - written in this very transaction
                raise LedgerError(f"ledger {self.path}: a delivery vanished while recorded")
            return found

        self._check_open()
        lock = "\x1f".join(key[:3])
        return self._to_record(await self._engine.record(lock, work))

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
            raise LedgerError(f"ledger {self.path}: unreadable record: {one_line(exc)}") from exc

    # -- questions -----------------------------------------------------------

    async def month_spend(self, tenant: str, at: datetime | None = None) -> Decimal:
        """Total charged to ``tenant`` in the UTC calendar month containing ``at`` (now)."""
        when = _as_utc(self._clock() if at is None else at, "at")
        start, end = _month_bounds(when)

        self._check_open()
        found = await self._engine.fetchall(
            "SELECT amount, COUNT(*) FROM deliveries WHERE tenant = ? AND charged = 1"
            " AND recorded_at >= ? AND recorded_at < ? GROUP BY amount",
            (tenant, start, end),
        )
        return sum((Decimal(amount) * n for amount, n in found), Decimal("0"))

    async def usage(self, tenant: str | None = None) -> list[UsageRow]:
        """Per tenant and UTC day: deliveries, messages, charged messages, chars, amount."""
        where = "" if tenant is None else "WHERE tenant = ?"
        params: tuple[str, ...] = () if tenant is None else (tenant,)

        self._check_open()
        counts = await self._engine.fetchall(
            "SELECT tenant, day, SUM(n), COUNT(*), SUM(c), SUM(chars) FROM ("
            "  SELECT tenant, substr(recorded_at, 1, 10) AS day, COUNT(*) AS n,"
            "         MAX(charged) AS c, SUM(chars) AS chars"
            f"  FROM deliveries {where}"
            "  GROUP BY tenant, day, conversation_id, message_id"
            ") AS per_message GROUP BY tenant, day ORDER BY tenant, day",
            params,
        )
        amounts = await self._engine.fetchall(
            "SELECT tenant, substr(recorded_at, 1, 10) AS day, amount, COUNT(*)"
            f" FROM deliveries {where} {'AND' if where else 'WHERE'} charged = 1"
            " GROUP BY tenant, day, amount",
            params,
        )
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

        self._check_open()
        found = await self._engine.fetchall(
            "SELECT tenant, channel, conversation_id, message_id, tool_call_id, sources,"
            " chars, recorded_at FROM deliveries WHERE identity_hash = ?"
            " ORDER BY recorded_at, id",
            (id_hash,),
        )

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
            for row in found
        ]

    async def forget(self, email: str) -> int:
        """Erase this person's hash and sources from every row; return how many rows.

        Tenant, conversation, message, chars, charge and amount stay, so
        :meth:`month_spend` and :meth:`usage` do not change.
        """
        id_hash = self.identity_hash(email)

        self._check_open()
        return await self._engine.execute(
            "UPDATE deliveries SET identity_hash = NULL, sources = '[]' WHERE identity_hash = ?",
            (id_hash,),
        )
