"""The action store itself, on both engines: a SQLite file and a PostgreSQL database.

Each test gets a fresh ledger (PostgreSQL: a fresh schema of the server
scripts/test starts) and the store beside it, as the pipeline builds it.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from liveuser import Ledger
from liveuser.actions import ActionStore, State
from liveuser.actions.model import Confirmation, binding_hash, summary_hash

KEY = b"k" * 32
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema")
        return url
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def ledger(target: str | Path) -> AsyncIterator[Ledger]:
    led = Ledger(target, KEY)
    yield led
    await led.aclose()


@pytest.fixture
def store(ledger: Ledger, clock: Clock) -> ActionStore:
    beside = ActionStore.beside(ledger)
    beside.clock = clock
    return beside


def proposal(
    conversation_id: str = "chat-1",
    *,
    identity: str = "a" * 64,
    summary: str = "Pause SUB-1 for 2 weeks.",
    arguments: dict[str, Any] | None = None,
    ttl: timedelta = timedelta(minutes=10),
) -> Confirmation:
    args = {"subscription": "SUB-1", "weeks": 2} if arguments is None else arguments
    expires_at = START + ttl
    digest = summary_hash(summary)
    return Confirmation(
        confirmation_id=secrets.token_urlsafe(12),
        tenant="default",
        channel="host",
        conversation_id=conversation_id,
        identity_hash=identity,
        action="pause_subscription",
        arguments=args,
        target={"id": "SUB-1"},
        summary=summary,
        summary_hash=digest,
        expires_at=expires_at,
        binding=binding_hash(
            tenant="default",
            channel="host",
            conversation_id=conversation_id,
            identity_hash=identity,
            action="pause_subscription",
            arguments=args,
            summary_hash=digest,
            expires_at=expires_at,
        ),
        idempotency_key=str(uuid.uuid4()),
        state=State.proposed,
    )


@pytest.mark.parametrize(
    "summary",
    ["Pause SUB-1?", "100% off; it's 'quoted' and \"double\" — ünïcödé ✓", "a ? b %s c %(x)s"],
)
async def test_a_proposal_reads_back_exactly_as_stored(store: ActionStore, summary: str) -> None:
    record = proposal(summary=summary, arguments={"note": summary, "n": [1, 2.5, None]})
    await store.propose(record)
    assert await store.get(record.confirmation_id) == record
    assert await store.get("no-such-id") is None


async def test_a_newer_proposal_supersedes_the_open_one(store: ActionStore) -> None:
    first, second, elsewhere = proposal(), proposal(), proposal("chat-2")
    for record in (first, second, elsewhere):
        await store.propose(record)
    waiting = await store.pending("default", "host", "chat-1")
    assert [r.confirmation_id for r in waiting] == [second.confirmation_id]
    assert await store.events(first.confirmation_id) == [
        ("proposed", None),
        ("superseded", second.confirmation_id),
    ]
    assert len(await store.pending("default", "host", "chat-2")) == 1


async def test_concurrent_proposals_in_one_conversation_leave_one_open(store: ActionStore) -> None:
    await asyncio.gather(*(store.propose(proposal()) for _ in range(6)))
    assert len(await store.pending("default", "host", "chat-1")) == 1


async def test_each_transition_is_taken_once(store: ActionStore) -> None:
    record = proposal()
    await store.propose(record)
    cid = record.confirmation_id
    moves = await asyncio.gather(
        *(store.move(cid, State.proposed, State.confirmed) for _ in range(5))
    )
    assert sorted(moves) == [False, False, False, False, True]
    assert not await store.move(cid, State.proposed, State.expired)
    assert await store.move(cid, State.confirmed, State.executing)
    assert [r.confirmation_id for r in await store.in_flight()] == [cid]
    assert await store.move(cid, State.executing, State.executed, "done")
    settled = await store.get(cid)
    assert settled is not None and settled.state is State.executed and settled.outcome == "done"
    assert await store.in_flight() == []


async def test_an_expired_proposal_is_no_longer_pending(store: ActionStore, clock: Clock) -> None:
    await store.propose(proposal(ttl=timedelta(seconds=30)))
    assert len(await store.pending("default", "host", "chat-1")) == 1
    clock.now = START + timedelta(seconds=30)
    assert await store.pending("default", "host", "chat-1") == []


async def test_forget_erases_a_person_but_leaves_records_in_flight(store: ActionStore) -> None:
    ann, bob = "a" * 64, "b" * 64
    done, open_, flying, other = (
        proposal("c1", identity=ann),
        proposal("c2", identity=ann),
        proposal("c3", identity=ann),
        proposal("c4", identity=bob),
    )
    for record in (done, open_, flying, other):
        await store.propose(record)
    for old, new in ((State.proposed, State.confirmed), (State.confirmed, State.executing)):
        assert await store.move(done.confirmation_id, old, new)
        assert await store.move(flying.confirmation_id, old, new)
    assert await store.move(done.confirmation_id, State.executing, State.executed, "SUB-1 paused")
    assert await store.forget(ann) == 2
    assert [r.confirmation_id for r in await store.for_identity(ann)] == [flying.confirmation_id]
    erased = await store.get(done.confirmation_id)
    assert erased is not None and erased.state is State.executed
    assert (erased.identity_hash, erased.summary, erased.arguments, erased.outcome) == (
        "",
        "",
        {},
        None,
    )
    assert all(d is None for _, d in await store.events(done.confirmation_id))
    closed = await store.get(open_.confirmation_id)
    assert closed is not None and closed.state is State.expired
    assert await store.get(other.confirmation_id) == other


async def test_stores_of_several_workers_opening_at_once_share_one_set_of_tables(
    postgres_schema: str,
) -> None:
    ledgers = [Ledger(postgres_schema, KEY, pool_size=2) for _ in range(4)]
    try:
        stores = [ActionStore.beside(led) for led in ledgers]
        record = proposal()
        await asyncio.gather(*(s.in_flight() for s in stores), stores[0].propose(record))
        for s in stores:
            assert await s.get(record.confirmation_id) == record
    finally:
        for led in ledgers:
            await led.aclose()


async def test_of_concurrent_take_overs_of_a_record_one_claims_it(
    store: ActionStore, clock: Clock
) -> None:
    record = proposal()
    await store.propose(record)
    cid = record.confirmation_id
    assert await store.move(cid, State.proposed, State.confirmed)
    assert await store.move(cid, State.confirmed, State.executing)
    seen = await store.get(cid)
    assert seen is not None and seen.updated_at == START
    claims = await asyncio.gather(
        *(store.take_over(cid, State.executing, START) for _ in range(5))
    )  # the clock stands still: the claim still moves the stamp forward
    assert sorted(claims) == [False, False, False, False, True]
    claimed = await store.get(cid)
    assert claimed is not None and claimed.state is State.executing
    assert claimed.updated_at is not None and claimed.updated_at > START
    assert not await store.take_over(cid, State.confirmed, claimed.updated_at)  # wrong state
    clock.now = START + timedelta(minutes=5)
    assert await store.take_over(cid, State.executing, claimed.updated_at)
    again = await store.get(cid)
    assert again is not None and again.updated_at == clock.now
