"""The metering ledger: charges, idempotence, privacy, audit and durability."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveuser import ledger_sqlite
from liveuser.errors import LedgerError
from liveuser.ledger_sqlite import SqliteEngine
from liveuser.metering import (
    KEY_BYTES,
    SCHEMA_VERSION,
    Ledger,
    Pricing,
    load_or_create_key,
)
from liveuser.models import MeterRecord

KEY = bytes(range(32))
PRICE = Decimal("0.02")
CORE = Path(__file__).resolve().parents[1] / "core"


@dataclass
class Clock:
    """A controllable UTC clock that moves on a millisecond per reading."""

    now: datetime = field(default_factory=lambda: datetime(2024, 5, 10, 12, 0, tzinfo=UTC))
    step: timedelta = timedelta(milliseconds=1)

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, db: Path) -> str | Path:
    """Where a ledger lives: each engine in turn (PostgreSQL: a fresh schema)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema")
        return url
    return db


@pytest.fixture
async def ledger(target: str | Path, clock: Clock) -> AsyncIterator[Ledger]:
    async with Ledger(target, KEY, clock=clock) as led:
        yield led


@pytest.fixture
async def sqlite_ledger(db: Path, clock: Clock) -> AsyncIterator[Ledger]:
    async with Ledger(db, KEY, clock=clock) as led:
        yield led


def rows(path: Path, sql: str = "SELECT * FROM deliveries") -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


async def stored(led: Ledger, sql: str = "SELECT * FROM deliveries") -> list[tuple[Any, ...]]:
    """Rows as the ledger's own database holds them, whichever engine."""
    return await led.engine.fetchall(sql)


async def deliver(
    led: Ledger,
    *,
    chars: int,
    message_id: str = "m1",
    tool_call_id: str = "",
    tenant: str = "acme",
    conversation_id: str = "c1",
    identity: str | None = None,
    sources: tuple[str, ...] = (),
    channel: str = "intercom",
) -> MeterRecord:
    return await led.record(
        tenant=tenant,
        conversation_id=conversation_id,
        message_id=message_id,
        tool_call_id=tool_call_id,
        channel=channel,
        chars=chars,
        sources=sources,
        identity=identity,
    )


# -- charging -------------------------------------------------------------------


async def test_1500_chars_is_free_and_1501_is_charged(ledger: Ledger) -> None:
    free = await deliver(ledger, message_id="m1", chars=1500)
    paid = await deliver(ledger, message_id="m2", chars=1501)

    assert (free.charged, free.amount) == (False, Decimal("0"))
    assert (paid.charged, paid.amount) == (True, PRICE)
    assert await ledger.month_spend("acme") == PRICE


def test_pricing_threshold_is_exclusive_and_values_are_checked() -> None:
    assert not Pricing().charges(1500)
    assert Pricing().charges(1501)
    assert Pricing(threshold=0).charges(1)
    with pytest.raises(ValueError, match="Decimal"):
        Pricing(price=0.02)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Pricing(threshold=-1)


async def test_custom_pricing_sets_threshold_and_price(target: str | Path) -> None:
    async with Ledger(target, KEY, Pricing(threshold=10, price=Decimal("1.25"))) as led:
        assert (await deliver(led, message_id="a", chars=10)).amount == Decimal("0")
        assert (await deliver(led, message_id="b", chars=11)).amount == Decimal("1.25")
        assert await led.month_spend("acme") == Decimal("1.25")


async def test_pricing_given_per_delivery_overrides_the_ledgers(ledger: Ledger) -> None:
    tenant_pricing = Pricing(threshold=100, price=Decimal("0.05"))
    cheap = await ledger.record(
        tenant="acme",
        conversation_id="c1",
        message_id="m1",
        channel="intercom",
        chars=101,
        pricing=tenant_pricing,
    )
    again = await ledger.record(
        tenant="acme",
        conversation_id="c1",
        message_id="m1",
        tool_call_id="t",
        channel="intercom",
        chars=5000,
        pricing=tenant_pricing,
    )
    default = await deliver(ledger, chars=101, message_id="m2")

    assert (cheap.charged, cheap.amount) == (True, Decimal("0.05"))
    assert not again.charged
    assert not default.charged
    assert await ledger.month_spend("acme") == Decimal("0.05")


async def test_retried_turn_is_not_charged_twice(ledger: Ledger) -> None:
    first = await deliver(ledger, chars=2000, sources=("crm",), identity="ann@example.com")
    same = await deliver(ledger, chars=2000, sources=("crm",), identity="ann@example.com")
    assert same == first
    # The retry re-renders differently: the row follows what was delivered last.
    retry = await deliver(ledger, chars=1400, sources=("crm", "billing"))
    assert (retry.chars, retry.sources) == (1400, ("crm", "billing"))
    assert retry.charged and retry.amount == PRICE
    assert retry.identity_hash == first.identity_hash
    assert await ledger.month_spend("acme") == PRICE
    assert len(await stored(ledger)) == 1


async def test_retry_after_a_refusal_records_the_person_and_the_charge(ledger: Ledger) -> None:
    refused = await deliver(ledger, chars=200)
    assert refused.identity_hash is None and not refused.charged
    delivered = await deliver(ledger, chars=3000, sources=("crm",), identity="ann@example.com")
    assert delivered.charged and delivered.amount == PRICE and delivered.chars == 3000
    assert [r.conversation_id for r in await ledger.audit("ann@example.com")] == ["c1"]
    again = await deliver(ledger, chars=3100, sources=("crm",), identity="ann@example.com")
    assert again.amount == PRICE and await ledger.month_spend("acme") == PRICE


async def test_retry_that_delivered_another_person_keeps_both_in_the_audit(
    ledger: Ledger,
) -> None:
    await deliver(ledger, chars=100, identity="ann@example.com")
    await deliver(ledger, chars=100, identity="bob@example.com")
    await deliver(ledger, chars=100, identity="bob@example.com")
    assert len(await ledger.audit("ann@example.com")) == 1
    assert len(await ledger.audit("bob@example.com")) == 1
    assert len(await stored(ledger)) == 2


async def test_message_is_charged_at_most_once_across_tool_calls(ledger: Ledger) -> None:
    context = await deliver(ledger, chars=1800)
    tool_a = await deliver(ledger, chars=5000, tool_call_id="call-a")
    tool_b = await deliver(ledger, chars=1600, tool_call_id="call-b")
    other_message = await deliver(ledger, chars=1600, message_id="m2", tool_call_id="call-a")

    assert [r.charged for r in (context, tool_a, tool_b)] == [True, False, False]
    assert tool_a.amount == tool_b.amount == Decimal("0")
    assert other_message.charged
    assert await ledger.month_spend("acme") == 2 * PRICE


async def test_a_tool_call_can_make_a_free_context_message_charged(ledger: Ledger) -> None:
    context = await deliver(ledger, chars=300)
    tool = await deliver(ledger, chars=1501, tool_call_id="call-1")

    assert not context.charged
    assert tool.charged and tool.amount == PRICE


async def test_same_message_id_in_another_conversation_or_tenant_is_another_message(
    ledger: Ledger,
) -> None:
    assert (await deliver(ledger, chars=2000)).charged
    assert (await deliver(ledger, chars=2000, conversation_id="c2")).charged
    assert (await deliver(ledger, chars=2000, tenant="globex")).charged
    assert await ledger.month_spend("acme") == 2 * PRICE
    assert await ledger.month_spend("globex") == PRICE


async def test_amount_is_stored_as_exact_decimal_text(ledger: Ledger) -> None:
    await deliver(ledger, chars=2000)
    await deliver(ledger, chars=10, message_id="m2")

    amounts = await stored(ledger, "SELECT amount FROM deliveries ORDER BY id")
    assert amounts == [("0.02",), ("0",)]


async def test_bad_record_arguments_are_ledger_errors(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="chars"):
        await deliver(ledger, chars=-1)
    with pytest.raises(LedgerError, match="message_id"):
        await deliver(ledger, chars=1, message_id="")
    with pytest.raises(LedgerError, match="not an email"):
        await deliver(ledger, chars=1, identity="nobody")


# -- concurrency ----------------------------------------------------------------


async def test_concurrent_retries_of_one_delivery_make_one_row_and_one_charge(
    ledger: Ledger,
) -> None:
    results = await asyncio.gather(*(deliver(ledger, chars=1501 + i) for i in range(50)))

    assert all(r.charged and r.amount == PRICE for r in results)
    assert len(await stored(ledger)) == 1
    assert await ledger.month_spend("acme") == PRICE


async def test_concurrent_tool_calls_over_two_connections_charge_the_message_once(
    target: str | Path,
) -> None:
    async with Ledger(target, KEY) as one, Ledger(target, KEY) as two:
        results = await asyncio.gather(
            *(
                deliver(led, chars=3000, tool_call_id=f"call-{i}")
                for i in range(20)
                for led in (one, two)
            )
        )
        distinct = set(results)  # each key was recorded through both connections
        assert len(distinct) == 20
        assert sum(r.charged for r in distinct) == 1
        assert sum(r.amount for r in distinct) == PRICE
        assert len(await stored(one)) == 20
        assert await one.month_spend("acme") == await two.month_spend("acme") == PRICE


async def test_a_locked_ledger_does_not_block_the_event_loop(
    sqlite_ledger: Ledger, db: Path
) -> None:
    ledger = sqlite_ledger
    await deliver(ledger, chars=1)  # schema exists before another process takes the lock
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.create_task(deliver(ledger, chars=2000, message_id="m2"))
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.02)
            ticks += 1
        assert ticks == 10
        assert not pending.done()  # waiting for the lock, in the worker thread
        other.execute("COMMIT")
    assert (await pending).charged


# -- durability -----------------------------------------------------------------


async def test_ledger_survives_a_process_restart(tmp_path: Path, db: Path) -> None:
    key_file = tmp_path / "ledger.key"
    key = load_or_create_key(key_file)
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from liveuser.metering import Ledger, load_or_create_key

        async def main() -> None:
            key = load_or_create_key(Path(sys.argv[2]))
            async with Ledger(sys.argv[1], key) as led:
                for tool_call_id, chars in (("", 1700), ("call-1", 2500), ("call-2", 20)):
                    await led.record(
                        tenant="acme", conversation_id="c1", message_id="m1",
                        tool_call_id=tool_call_id, channel="intercom", chars=chars,
                        sources=["crm"], identity="Ann@Example.com",
                    )

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(CORE)}
    subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(db), str(key_file)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )

    async with Ledger(db, key) as led:
        assert await led.month_spend("acme") == PRICE
        audit = await led.audit("ann@example.com")
        assert [(a.tool_call_id, a.chars) for a in audit] == [
            ("", 1700),
            ("call-1", 2500),
            ("call-2", 20),
        ]
        again = await deliver(  # the same retried turn, now in another process
            led, chars=1700, sources=("crm",), identity="ann@example.com"
        )
        assert again.recorded_at == audit[0].recorded_at  # the original row, unchanged
        assert again.chars == 1700 and again.charged and again.amount == PRICE
        await deliver(led, chars=1501, message_id="m2")

    async with Ledger(db, key) as reopened:
        assert await reopened.month_spend("acme") == 2 * PRICE
        [day] = await reopened.usage("acme")
        assert (day.deliveries, day.messages, day.charged_messages) == (4, 2, 2)


async def test_reopening_with_another_key_is_refused(target: str | Path) -> None:
    async with Ledger(target, KEY) as led:
        await deliver(led, chars=1)
    with pytest.raises(LedgerError, match="different key"):
        await Ledger.open(target, bytes(32))


async def test_schema_is_versioned_in_wal_mode(sqlite_ledger: Ledger, db: Path) -> None:
    await deliver(sqlite_ledger, chars=1)
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]


async def test_ledger_from_a_newer_schema_is_refused(db: Path) -> None:
    async with Ledger(db, KEY) as led:
        await deliver(led, chars=1)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerError, match="schema version"):
        await Ledger.open(db, KEY)


async def test_sqlite_failure_is_a_one_line_ledger_error(tmp_path: Path) -> None:
    led = Ledger(tmp_path, KEY)  # a directory is not a database
    try:
        with pytest.raises(LedgerError) as caught:
            await deliver(led, chars=1)
        assert "\n" not in str(caught.value)
        assert str(tmp_path) in str(caught.value)
    finally:
        await led.aclose()


async def test_a_closed_ledger_refuses_work(target: str | Path) -> None:
    led = await Ledger.open(target, KEY)
    await led.aclose()
    await led.aclose()  # idempotent
    assert led.closed
    with pytest.raises(LedgerError, match="closed"):
        await deliver(led, chars=1)


async def test_ledger_file_is_private_to_its_owner(sqlite_ledger: Ledger, db: Path) -> None:
    await deliver(sqlite_ledger, chars=1)
    assert stat.S_IMODE(db.stat().st_mode) & 0o077 == 0


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    key = load_or_create_key(path)

    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert load_or_create_key(tmp_path / "other.key") != key
    assert [p.name for p in path.parent.iterdir()] == ["ledger.key"]  # no temp file left


def test_a_key_file_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    path.write_bytes(b"short")
    with pytest.raises(LedgerError, match="32 bytes"):
        load_or_create_key(path)


# -- privacy, audit, forget ----------------------------------------------------


def test_identity_hash_is_a_keyed_hash_of_the_normalised_email() -> None:
    led, other = Ledger(":memory:", KEY), Ledger(":memory:", bytes(32))
    try:
        expected = hmac.new(KEY, b"ann@example.com", hashlib.sha256).hexdigest()
        assert led.identity_hash(" Ann@EXAMPLE.com ") == expected
        assert led.identity_hash("ann@example.com") == expected
        assert other.identity_hash("ann@example.com") != expected
        assert expected != hashlib.sha256(b"ann@example.com").hexdigest()
        assert led.identity_hash("ann+shop@example.com") != expected
    finally:
        led.close()
        other.close()


async def test_ledger_holds_no_plain_email(sqlite_ledger: Ledger, db: Path) -> None:
    ledger = sqlite_ledger
    email = "Ann.Person@Example.com"
    for i in range(3):
        await deliver(ledger, chars=2000, message_id=f"m{i}", identity=email, sources=("crm",))
    digest = ledger.identity_hash(email)

    def stored_bytes() -> bytes:
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        return b"".join(p.read_bytes() for p in files if p.exists()).lower()

    everything = stored_bytes()
    with closing(sqlite3.connect(db)) as conn:
        dump = "\n".join(conn.iterdump()).lower()
    await ledger.aclose()
    everything += stored_bytes()

    assert digest.encode() in everything  # the person is recorded, as a hash
    for text in (email.lower(), "ann.person", "ann.person@example.com"):
        assert text.encode() not in everything
        assert text not in dump
    assert digest in dump


async def test_audit_finds_every_conversation_that_received_a_person(ledger: Ledger) -> None:
    ann = "ann@example.com"
    await deliver(ledger, chars=100, conversation_id="c1", identity=ann, sources=("crm",))
    await deliver(ledger, chars=100, conversation_id="c2", identity="bob@example.com")
    await deliver(
        ledger,
        chars=2000,
        conversation_id="c3",
        tool_call_id="call-1",
        identity=ann,
        sources=("billing", "orders"),
        channel="zendesk_ticket",
    )
    await deliver(ledger, chars=100, conversation_id="c4", tenant="globex", identity=ann)
    await deliver(ledger, chars=100, conversation_id="c5")  # a refusal: nobody's data

    audit = await ledger.audit("ANN@example.com")

    assert [(a.tenant, a.conversation_id) for a in audit] == [
        ("acme", "c1"),
        ("acme", "c3"),
        ("globex", "c4"),
    ]
    assert audit[1].channel == "zendesk_ticket"
    assert audit[1].tool_call_id == "call-1"
    assert audit[1].sources == ("billing", "orders")
    assert audit[1].chars == 2000
    assert audit[0].recorded_at < audit[1].recorded_at < audit[2].recorded_at
    assert [a.conversation_id for a in await ledger.audit("bob@example.com")] == ["c2"]
    assert await ledger.audit("carol@example.com") == []


async def test_forget_erases_audit_but_keeps_totals(ledger: Ledger) -> None:
    ann, bob = "ann@example.com", "bob@example.com"
    await deliver(ledger, chars=2000, message_id="m1", identity=ann, sources=("crm",))
    await deliver(ledger, chars=2000, message_id="m1", tool_call_id="t", identity=ann)
    await deliver(ledger, chars=1501, message_id="m2", identity=bob, sources=("crm",))
    spend, usage = await ledger.month_spend("acme"), await ledger.usage()

    assert await ledger.forget(ann) == 2

    assert await ledger.audit(ann) == []
    assert len(await ledger.audit(bob)) == 1
    assert await ledger.month_spend("acme") == spend == 2 * PRICE
    assert await ledger.usage() == usage
    digest = ledger.identity_hash(ann)
    assert await stored(
        ledger, f"SELECT COUNT(*) FROM deliveries WHERE identity_hash = '{digest}'"
    ) == [(0,)]
    assert await stored(ledger, "SELECT sources FROM deliveries WHERE identity_hash IS NULL") == [
        ("[]",),
        ("[]",),
    ]
    assert await ledger.forget(ann) == 0


# -- totals ---------------------------------------------------------------------


async def test_month_spend_counts_only_this_month(ledger: Ledger, clock: Clock) -> None:
    moments = [
        datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 1, 0, 0, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
    ]
    for i, moment in enumerate(moments):
        clock.now = moment
        await deliver(ledger, chars=2000, message_id=f"m{i}")
    clock.now = datetime(2024, 2, 10, tzinfo=UTC)
    await deliver(ledger, chars=2000, message_id="other-tenant", tenant="globex")
    await deliver(ledger, chars=100, message_id="free")

    feb = datetime(2024, 2, 15, tzinfo=UTC)
    assert await ledger.month_spend("acme", feb) == 2 * PRICE
    assert await ledger.month_spend("acme", datetime(2024, 1, 1, tzinfo=UTC)) == PRICE
    assert await ledger.month_spend("acme", datetime(2024, 12, 1, tzinfo=UTC)) == PRICE
    assert await ledger.month_spend("acme", datetime(2025, 1, 1, tzinfo=UTC)) == 0
    # 00:30 on 1 March in UTC+1 is still February in UTC.
    plus_one = timezone(timedelta(hours=1))
    assert await ledger.month_spend("acme", datetime(2024, 3, 1, 0, 30, tzinfo=plus_one)) == (
        2 * PRICE
    )
    clock.now = feb
    assert await ledger.month_spend("acme") == 2 * PRICE  # "now" is the ledger's clock
    with pytest.raises(LedgerError, match="timezone-aware"):
        await ledger.month_spend("acme", datetime(2024, 2, 15))


async def test_usage_reports_each_tenant_and_utc_day(ledger: Ledger, clock: Clock) -> None:
    clock.now = datetime(2024, 5, 1, 23, 59, tzinfo=UTC)
    await deliver(ledger, chars=2000)
    await deliver(ledger, chars=3000, tool_call_id="t1")
    await deliver(ledger, chars=10, message_id="m2")
    await deliver(ledger, chars=10, tenant="globex")
    clock.now = datetime(2024, 5, 2, 0, 1, tzinfo=UTC)
    await deliver(ledger, chars=1600, message_id="m3")

    usage = await ledger.usage()

    assert [(u.tenant, u.day) for u in usage] == [
        ("acme", date(2024, 5, 1)),
        ("acme", date(2024, 5, 2)),
        ("globex", date(2024, 5, 1)),
    ]
    first = usage[0]
    assert (first.deliveries, first.messages, first.charged_messages) == (3, 2, 1)
    assert (first.chars, first.amount) == (5010, PRICE)
    assert (usage[1].messages, usage[1].charged_messages, usage[1].amount) == (1, 1, PRICE)
    assert (usage[2].charged_messages, usage[2].amount) == (0, Decimal("0"))
    assert await ledger.usage("globex") == [usage[2]]


# -- the model: total == price x messages with any delivery over the threshold -----

_messages = st.tuples(
    st.sampled_from(["acme", "globex"]),
    st.sampled_from(["c1", "c2"]),
    st.sampled_from(["m1", "m2", "m3"]),
)
_deliveries = st.lists(
    st.tuples(
        _messages,
        st.sampled_from(["", "t1", "t2"]),
        st.one_of(st.integers(0, 3000), st.sampled_from([1499, 1500, 1501])),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(deliveries=_deliveries)
async def test_total_is_price_times_messages_with_any_delivery_over_threshold(
    deliveries: list[tuple[tuple[str, str, str], str, int]],
) -> None:
    over: set[tuple[str, str, str]] = set()
    last_record: dict[tuple[tuple[str, str, str], str], MeterRecord] = {}
    async with Ledger(":memory:", KEY) as led:
        for (tenant, conversation_id, message_id), tool_call_id, chars in deliveries:
            record = await deliver(
                led,
                tenant=tenant,
                conversation_id=conversation_id,
                message_id=message_id,
                tool_call_id=tool_call_id,
                chars=chars,
            )
            message = (tenant, conversation_id, message_id)
            if chars > 1500:
                over.add(message)
            assert record.chars == chars  # the row follows what was delivered last
            last_record[(message, tool_call_id)] = record
        spent = sum([await led.month_spend(t) for t in ("acme", "globex")], Decimal("0"))
        usage = await led.usage()

    charged = over  # any delivery of a message over the threshold, retries included
    per_message: dict[tuple[str, str, str], int] = {}
    for (message, _), record in last_record.items():
        per_message[message] = per_message.get(message, 0) + record.charged
    assert spent == PRICE * len(charged)
    assert sum(r.amount for r in last_record.values()) == PRICE * len(charged)
    assert sum(u.amount for u in usage) == PRICE * len(charged)
    assert sum(u.charged_messages for u in usage) == len(charged)
    assert all(n <= 1 for n in per_message.values())


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    """Every ledger a test opens is closed: no worker thread outlives its test."""
    before = {t.ident for t in threading.enumerate()}
    yield
    stray = [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith("liveuser-ledger")
    ]
    assert not stray


async def test_concurrent_records_share_transactions(sqlite_ledger: Ledger, db: Path) -> None:
    ledger = sqlite_ledger
    batches: list[int] = []
    engine = ledger.engine
    assert isinstance(engine, SqliteEngine)
    commit = engine._commit_batch

    def counting(conn: Any, batch: Any, **options: Any) -> Any:
        batches.append(len(batch))
        return commit(conn, batch, **options)

    engine._commit_batch = counting  # type: ignore[method-assign]
    records = await asyncio.gather(
        *(deliver(ledger, chars=10, message_id=f"m{i}") for i in range(40))
    )
    assert len(await stored(ledger)) == 40 and len({r.message_id for r in records}) == 40
    assert sum(batches) == 40 and len(batches) < 40


async def test_records_are_written_on_the_loop_thread_while_the_lock_is_free(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, db: Path
) -> None:
    ledger = sqlite_ledger
    engine = ledger.engine
    assert isinstance(engine, SqliteEngine)
    monkeypatch.setattr(ledger_sqlite, "CHECKPOINT_EVERY", 10)
    threads: list[int] = []
    commit = engine._commit_batch

    def noting(conn: Any, batch: Any, **options: Any) -> Any:
        threads.append(threading.get_ident())
        return commit(conn, batch, **options)

    engine._commit_batch = noting  # type: ignore[method-assign]
    await deliver(ledger, chars=10, message_id="m0")  # opened: the worker made the schema
    before = db.stat().st_size
    for i in range(1, 31):
        await deliver(ledger, chars=10, message_id=f"m{i}", sources=("crm" * 200,))
    here = threading.get_ident()
    assert threads == [here] * 31
    # Those commits only appended to the WAL; the worker's checkpoints copied them over.
    assert engine._checkpoint is not None
    await engine._checkpoint
    assert db.stat().st_size > before
    assert len(await stored(ledger)) == 31


async def test_a_failing_record_does_not_undo_its_batch(ledger: Ledger) -> None:
    good = deliver(ledger, chars=10, message_id="m1")
    bad = deliver(ledger, chars=10, message_id="m2", channel="")
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert isinstance(results[0], MeterRecord) and isinstance(results[1], LedgerError)
    assert len(await stored(ledger)) == 1


# -- PostgreSQL ------------------------------------------------------------------


async def test_a_postgres_ledger_from_a_newer_schema_is_refused(postgres_schema: str) -> None:
    async with Ledger(postgres_schema, KEY) as led:
        await deliver(led, chars=1)
        await led.engine.execute(
            "UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    with pytest.raises(LedgerError, match="schema version"):
        await Ledger.open(postgres_schema, KEY)


async def test_workers_opening_one_postgres_ledger_at_once_create_it_once(
    postgres_schema: str,
) -> None:
    ledgers = [Ledger(postgres_schema, KEY) for _ in range(4)]
    try:
        await asyncio.gather(*(led.engine.open() for led in ledgers))
        records = await asyncio.gather(*(deliver(led, chars=2000) for led in ledgers))
        assert len(set(records)) == 1 and records[0].charged
    finally:
        await asyncio.gather(*(led.aclose() for led in ledgers))


async def test_an_unreachable_postgres_is_a_one_line_error_without_the_password() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql://liveuser:hunter2-secret@127.0.0.1:{port}/ledger?connect_timeout=1"
    led = Ledger(url, KEY, busy_timeout=1.0)
    try:
        with pytest.raises(LedgerError) as caught:
            await deliver(led, chars=1)
        message = str(caught.value)
        assert "\n" not in message and "hunter2" not in message
        assert f"127.0.0.1:{port}" in message and led.path in message
    finally:
        await led.aclose()


async def test_a_pipeline_on_a_postgres_ledger_forgets_and_keeps_actions_beside_it(
    postgres_schema: str, tmp_path: Path
) -> None:
    from liveuser import Pipeline, Registry, Settings

    ledger = Ledger(postgres_schema, KEY)
    pipeline = Pipeline(
        Registry(Settings(ledger=tmp_path / "unused.sqlite3"), discover=False), ledger
    )
    try:
        await deliver(ledger, chars=10, identity="ann@example.com")
        assert await pipeline.forget("ann@example.com") == 1
        assert pipeline.action_store.path == ledger.path
        assert await pipeline.action_store.in_flight() == []
    finally:
        await pipeline.registry.aclose()
        await ledger.aclose()
    assert not (tmp_path / "unused.sqlite3").exists()
