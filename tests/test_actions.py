"""Actions over the generic HTTP back-end: the two-step protocol, exactly once, everywhere.

The business endpoint is ``liveuser.actions.example_endpoint``, served on
127.0.0.1; the model-side integrations are the real OpenAI, Anthropic and MCP
shapes (the MCP server runs in-process through the SDK's client). Every test
on a pipeline runs on both ledgers: a SQLite file and a PostgreSQL database
(a fresh schema of the server scripts/test starts); the action records follow
the ledger.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from starlette.applications import Starlette

import liveuser
from liveuser import (
    AWAITING,
    NOT_FOUND,
    ConfigError,
    Ledger,
    LedgerError,
    PendingConfirmation,
    Pipeline,
    Registry,
    Settings,
    TenantSettings,
    bind,
)
from liveuser.actions import ActionStore, State, binding_hash
from liveuser.actions.example_endpoint import PAUSE, create_action_endpoint, pause_action_settings
from liveuser.actions.model import Confirmation
from liveuser.mcp_server import stdio_server
from liveuser.metering import SCHEMA_VERSION
from liveuser.sandbox import ANN_EMAIL, serve
from liveuser.settings import load_settings

from .conftest import PipelineFactory, host_conversation, make_settings

ARGS = {"subscription": "SUB-1", "weeks": 2}
SUMMARY = (
    "Pause your subscription SUB-1 (Coffee monthly) for 2 weeks; no deliveries and no "
    "charges until it resumes."
)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where the pipelines' ledger, and so the action store, lives: each engine in turn."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema")
        return url
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
async def ledger(ledger_target: str | Path, ledger_key: bytes) -> AsyncIterator[Ledger]:
    led = Ledger(ledger_target, ledger_key)
    yield led
    await led.aclose()


def tamper(target: str | Path, sql: str, params: tuple[Any, ...]) -> None:
    """Change the stored records behind liveuser's back, as someone with database access."""
    if isinstance(target, str):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
        return
    with closing(sqlite3.connect(target)) as db, db:
        db.execute(sql, params)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, Starlette]]:
    app = create_action_endpoint()
    with serve(app) as url:
        yield url, app


@pytest.fixture(autouse=True)
def _fresh_endpoint(endpoint: tuple[str, Starlette]) -> Iterator[None]:
    yield
    fresh = create_action_endpoint()
    for name in ("subscriptions", "executions", "applied", "faults", "stages"):
        setattr(endpoint[1].state, name, getattr(fresh.state, name))


def with_actions(make_pipeline: PipelineFactory, url: str, **policy: Any) -> liveuser.Pipeline:
    policy.setdefault("enabled", [PAUSE])
    return make_pipeline(actions={"http": [pause_action_settings(url)], **policy})


async def propose(
    pipeline: liveuser.Pipeline, conversation: liveuser.Conversation, **args: Any
) -> tuple[str, PendingConfirmation | None]:
    result = await pipeline.call_tool_result(conversation, "m1", "call-1", PAUSE, args)
    return result.text, result.pending


# -- the binding -----------------------------------------------------------------

FIELDS = {
    "tenant": "default",
    "channel": "host",
    "conversation_id": "chat-1",
    "identity_hash": "a" * 64,
    "action": PAUSE,
    "arguments": ARGS,
    "summary_hash": "b" * 64,
    "expires_at": datetime(2026, 1, 1, tzinfo=UTC),
}
_changes = st.one_of(
    st.tuples(
        st.sampled_from(["tenant", "channel", "conversation_id", "identity_hash", "action"]),
        st.text(max_size=20),
    ),
    st.tuples(st.just("summary_hash"), st.text(alphabet="0123456789abcdef", max_size=64)),
    st.tuples(
        st.just("arguments"),
        st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
    ),
    st.tuples(
        st.just("expires_at"),
        st.integers(-(10**6), 10**6).map(lambda s: FIELDS["expires_at"] + timedelta(seconds=s)),
    ),
)


@given(_changes)
def test_any_change_to_a_bound_field_changes_the_binding(change: tuple[str, Any]) -> None:
    name, value = change
    changed = {**FIELDS, name: value}
    assert (binding_hash(**changed) == binding_hash(**FIELDS)) == (value == FIELDS[name])


# -- the protocol over the HTTP back-end --------------------------------------------


async def test_proposed_confirmed_executed_and_read_back(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL)
    text, pending = await propose(pipeline, ann, **ARGS)
    assert text == AWAITING and pending is not None and pending.summary == SUMMARY
    assert app.state.applied == []
    result = await liveuser.confirm(ann, pending.confirmation_id, pipeline=pipeline)
    assert result.executed and result.message == "Subscription SUB-1 is paused for 2 weeks."
    assert app.state.applied == [("SUB-1", 2)]
    record = await pipeline.action_store.get(pending.confirmation_id)
    assert record is not None and record.state is State.executed
    # The outcome is linked to the metering audit by tenant, conversation and identity hash.
    audit = await pipeline.ledger.audit(ANN_EMAIL)
    assert (record.tenant, record.conversation_id) in {(a.tenant, a.conversation_id) for a in audit}
    assert record.identity_hash == pipeline.ledger.identity_hash(ANN_EMAIL)


async def test_someone_elses_record_reads_as_not_found(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    ann = host_conversation(ANN_EMAIL)
    theirs, p1 = await propose(pipeline, ann, subscription="SUB-2", weeks=1)
    missing, p2 = await propose(pipeline, ann, subscription="SUB-999", weeks=1)
    assert theirs == missing == NOT_FOUND and p1 is None and p2 is None


async def test_a_refused_state_says_why(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    text, pending = await propose(
        pipeline, host_conversation(ANN_EMAIL), subscription="SUB-3", weeks=1
    )
    assert pending is None
    assert text == f"The action {PAUSE} is not possible: the subscription is cancelled."


async def test_arguments_are_checked_against_the_configured_schema(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    ann = host_conversation(ANN_EMAIL)
    for args in ({"subscription": "SUB-1", "weeks": 9}, {**ARGS, "confirm": True}):
        text, pending = await propose(pipeline, ann, **args)
        assert pending is None and text.startswith(f"Invalid arguments for {PAUSE}")


async def test_concurrent_confirmations_execute_once(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL)
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    results = await asyncio.gather(
        *(liveuser.confirm(ann, pending.confirmation_id, pipeline=pipeline) for _ in range(4))
    )
    assert sorted(r.status for r in results) == ["executed", "refused", "refused", "refused"]
    assert app.state.applied == [("SUB-1", 2)] and app.state.stages.count("execute") == 1


async def test_a_5xx_on_execution_leaves_nothing_changed(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL)
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    app.state.faults = ["500"]
    result = await liveuser.confirm(ann, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "failed"
    assert result.message == "Nothing was changed (the business has no record of it)."
    assert app.state.applied == []


async def test_an_unverified_conversation_cannot_confirm(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    ann = host_conversation(ANN_EMAIL, "chat-x")
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    forged = ann.model_copy(update={"claims": {"token": "not-a-token"}})
    result = await liveuser.confirm(forged, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "refused" and result.message.startswith("The customer is not verified")
    assert endpoint[1].state.applied == []


# -- the integrations ------------------------------------------------------------------


async def test_bind_needs_a_host_hook_when_actions_are_on(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    with pytest.raises(ConfigError, match="on_confirmation"):
        await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")


async def test_openai_and_anthropic_see_only_that_confirmation_is_awaited(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    shown: list[PendingConfirmation] = []
    ann = host_conversation(ANN_EMAIL)
    binding = await bind(ann, pipeline=pipeline, message_id="m1", on_confirmation=shown.append)
    assert PAUSE in [t["function"]["name"] for t in binding.openai_chat_tools()]
    assert PAUSE in [t["name"] for t in binding.anthropic_tools()]
    openai = await binding.handle_openai_chat(
        {
            "id": "call_1",
            "function": {"name": PAUSE, "arguments": '{"subscription": "SUB-1", "weeks": 2}'},
        }
    )
    anthropic = await binding.handle_anthropic(
        {"type": "tool_use", "id": "toolu_1", "name": PAUSE, "input": ARGS}
    )
    assert openai["content"] == anthropic["content"] == AWAITING
    assert [p.summary for p in shown] == [SUMMARY, SUMMARY] and binding.pending == shown
    for p in shown:
        assert p.confirmation_id not in openai["content"] + anthropic["content"]
    # The second proposal replaced the first: only it can be confirmed.
    first = await liveuser.confirm(ann, shown[0].confirmation_id, pipeline=pipeline)
    assert first.status == "refused"
    assert (await liveuser.confirm(ann, shown[1].confirmation_id, pipeline=pipeline)).executed


async def test_mcp_offers_the_action_with_the_same_two_steps(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    ann = host_conversation(ANN_EMAIL, "chat-mcp")
    shown: list[PendingConfirmation] = []
    server = stdio_server(pipeline, ann, "mcp-1", on_confirmation=shown.append)
    async with Client(server) as client:
        tools = await client.list_tools()
        assert PAUSE in [t.name for t in tools.tools]
        result = await client.call_tool(PAUSE, ARGS)
    assert [c.text for c in result.content] == [AWAITING]  # type: ignore[union-attr]
    waiting = await liveuser.pending_confirmations(ann, pipeline=pipeline)
    assert waiting == shown and waiting[0].summary == SUMMARY
    assert (await liveuser.confirm(ann, waiting[0].confirmation_id, pipeline=pipeline)).executed


# -- settings and the store --------------------------------------------------------------


def test_policy_is_read_from_liveuser_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "liveuser.toml"
    config.write_text(
        """
[tenants.default.actions]
enabled = ["shopify_cancel_order"]
refund_limit = "75.50"
[tenants.default.actions.accepted_states]
shopify_cancel_order = ["UNFULFILLED", "ON_HOLD"]
[[tenants.default.actions.http]]
name = "pause_subscription"
description = "Pause a subscription."
url = "https://api.example.com/actions"
api_key = "k"
[tenants.default.actions.http.parameters]
type = "object"
properties = { weeks = { type = "integer" } }
"""
    )
    monkeypatch.setenv("LIVEUSER_CONFIG", str(config))
    policy = load_settings().tenants["default"].actions
    assert policy.enabled == ["shopify_cancel_order"] and str(policy.refund_limit) == "75.50"
    assert policy.states_for("shopify_cancel_order", ()) == ("UNFULFILLED", "ON_HOLD")
    assert policy.http[0].name == "pause_subscription"


def test_an_http_action_naming_an_identity_parameter_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "liveuser.toml"
    config.write_text(
        """
[[tenants.default.actions.http]]
name = "x"
description = "x"
url = "https://api.example.com/actions"
api_key = "k"
[tenants.default.actions.http.parameters]
type = "object"
properties = { customer_email = { type = "string" } }
"""
    )
    monkeypatch.setenv("LIVEUSER_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "looks like an identity" in str(caught.value) and "\n" not in str(caught.value)


async def test_the_store_lives_beside_the_ledger_without_touching_its_schema(
    tmp_path: Path, ledger_key: bytes
) -> None:
    path = tmp_path / "shared.sqlite3"
    async with Ledger(path, ledger_key) as ledger:
        await ledger.record(
            tenant="default", conversation_id="c", message_id="m", channel="host", chars=1
        )
    store = ActionStore(path)
    assert await store.in_flight() == []
    async with Ledger(path, ledger_key) as reopened:  # the ledger still opens and reads
        assert (await reopened.usage())[0].deliveries == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert {"deliveries", "action_confirmations", "action_events"} <= tables


async def test_a_crash_before_the_vendor_call_is_recovered_as_not_done(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL)
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    cid = pending.confirmation_id
    assert await pipeline.action_store.move(cid, State.proposed, State.confirmed)
    results = await liveuser.recover(pipeline, older_than=0)  # no other process runs
    assert [(r.status, r.confirmation_id) for r in results] == [("failed", cid)]
    assert app.state.applied == []


async def test_forget_erases_a_persons_action_records(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    pipeline = with_actions(make_pipeline, endpoint[0])
    ann = host_conversation(ANN_EMAIL)
    later = host_conversation(ANN_EMAIL, "chat-later")
    _, done = await propose(pipeline, ann, **ARGS)
    _, waiting = await propose(pipeline, later, subscription="SUB-1", weeks=3)
    assert done is not None and waiting is not None
    assert (await liveuser.confirm(ann, done.confirmation_id, pipeline=pipeline)).executed
    identity = pipeline.ledger.identity_hash(ANN_EMAIL)
    assert len(await pipeline.action_store.for_identity(identity)) == 2
    await pipeline.forget(ANN_EMAIL)
    assert await pipeline.action_store.for_identity(identity) == []
    erased = await pipeline.action_store.get(done.confirmation_id)
    assert erased is not None and erased.summary == "" and erased.arguments == {}
    assert erased.state is State.executed  # the fact stays, the person goes
    refused = await liveuser.confirm(later, waiting.confirmation_id, pipeline=pipeline)
    assert refused.status == "refused"


async def test_a_ledger_file_the_store_creates_first_is_private(
    tmp_path: Path, ledger_key: bytes
) -> None:
    path = tmp_path / "fresh.sqlite3"
    assert await ActionStore(path).in_flight() == []
    assert path.stat().st_mode & 0o777 == 0o600
    async with Ledger(path, ledger_key) as ledger:  # the ledger then opens it as its own
        assert await ledger.usage() == []


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("arguments", '{"subscription": "SUB-1", "weeks": 8}', "does not match"),
        ("summary", "Pause nothing at all.", "does not match"),
        ("summary_hash", "0" * 64, "does not match"),
        ("expires_at", "2999-01-01T00:00:00.000000+00:00", "does not match"),
        ("action", "pause_everything", "does not match"),
        ("conversation_id", "chat-elsewhere", "another conversation"),
        ("identity_hash", "f" * 64, "another customer"),
    ],
)
async def test_a_stored_confirmation_altered_in_any_bound_field_is_refused(
    make_pipeline: PipelineFactory,
    endpoint: tuple[str, Starlette],
    ledger_target: str | Path,
    column: str,
    value: str,
    reason: str,
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL, "chat-bound")
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    tamper(
        ledger_target,
        f"UPDATE action_confirmations SET {column} = ? WHERE confirmation_id = ?",
        (value, pending.confirmation_id),
    )
    result = await liveuser.confirm(ann, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "refused" and reason in result.message
    assert app.state.applied == [] and "execute" not in app.state.stages


async def test_a_crash_after_the_vendor_call_is_settled_by_reading_back(
    make_pipeline: PipelineFactory,
    endpoint: tuple[str, Starlette],
    ledger_target: str | Path,
    ledger_key: bytes,
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    ann = host_conversation(ANN_EMAIL)
    _, pending = await propose(pipeline, ann, **ARGS)
    assert pending is not None
    cid = pending.confirmation_id
    store = pipeline.action_store
    record = await store.get(cid)
    assert record is not None
    assert await store.move(cid, State.proposed, State.confirmed)
    assert await store.move(cid, State.confirmed, State.executing)
    # The vendor made the change under the record's key; then the process died.
    done = "Subscription SUB-1 is paused for 2 weeks."
    app.state.executions[record.idempotency_key] = {"status": "done", "detail": done}
    restarted = Ledger(ledger_target, ledger_key)
    try:
        results = await liveuser.recover(Pipeline(pipeline.registry, restarted), older_than=0)
    finally:
        await restarted.aclose()
    assert [(r.status, r.confirmation_id, r.message) for r in results] == [("executed", cid, done)]
    settled = await store.get(cid)
    assert settled is not None and settled.state is State.executed and settled.outcome == done
    assert await store.in_flight() == []
    assert "execute" not in app.state.stages  # read back, never executed again


def pause_workers(ledgers: list[Ledger], tmp_path: Path, url: str) -> list[Pipeline]:
    """One pipeline per ledger, as separate workers would be, each offering the pause action."""
    settings = {"http": [pause_action_settings(url)], "enabled": [PAUSE]}
    return [
        Pipeline(Registry(make_settings(tmp_path, actions=settings), discover=False), led)
        for led in ledgers
    ]


async def test_two_workers_on_one_postgres_database_execute_a_confirmation_once(
    postgres_schema: str, ledger_key: bytes, tmp_path: Path, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    ledgers = [Ledger(postgres_schema, ledger_key, pool_size=2) for _ in range(2)]
    workers = pause_workers(ledgers, tmp_path, url)
    try:
        ann = host_conversation(ANN_EMAIL)
        _, pending = await propose(workers[0], ann, **ARGS)
        assert pending is not None
        cid = pending.confirmation_id
        results = await asyncio.gather(
            *(liveuser.confirm(ann, cid, pipeline=w) for w in workers for _ in range(2))
        )
        assert sorted(r.status for r in results) == ["executed", "refused", "refused", "refused"]
        assert app.state.applied == [("SUB-1", 2)] and app.state.stages.count("execute") == 1
        for worker in workers:
            record = await worker.action_store.get(cid)
            assert record is not None and record.state is State.executed
        assert [s for s, _ in await workers[1].action_store.events(cid)] == [
            "proposed",
            "confirmed",
            "executing",
            "executed",
        ]
    finally:
        for worker in workers:
            await worker.registry.aclose()
            await worker.ledger.aclose()


async def test_an_unreachable_postgres_action_store_is_one_line_without_the_password() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql://liveuser:hunter2-secret@127.0.0.1:{port}/ledger?connect_timeout=1"
    led = Ledger(url, b"k" * 32, busy_timeout=1.0)
    try:
        with pytest.raises(LedgerError) as caught:
            await ActionStore.beside(led).get("any")
        message = str(caught.value)
        assert "\n" not in message and "hunter2" not in message and f"127.0.0.1:{port}" in message
    finally:
        await led.aclose()


# -- recovery is safe beside live workers -------------------------------------------------


class Clock:
    """The store's clock, set by hand: when records were last written, and now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def left_in_flight(
    pipeline: liveuser.Pipeline, conversation: liveuser.Conversation, state: State
) -> str:
    """A confirmation moved to ``state`` (``confirmed`` or ``executing``) now, as a
    worker does just before calling the vendor; its id."""
    _, pending = await propose(pipeline, conversation, **ARGS)
    assert pending is not None
    store = pipeline.action_store
    assert await store.move(pending.confirmation_id, State.proposed, State.confirmed)
    if state is State.executing:
        assert await store.move(pending.confirmation_id, State.confirmed, State.executing)
    return pending.confirmation_id


async def test_recovery_leaves_a_record_in_flight_to_the_worker_holding_it(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    clock = Clock()
    pipeline.action_store.clock = clock
    ann = host_conversation(ANN_EMAIL)
    confirmed = await left_in_flight(pipeline, host_conversation(ANN_EMAIL), State.confirmed)
    executing = await left_in_flight(pipeline, ann, State.executing)
    age = liveuser.actions.stale_after(pipeline.registry.tenant().settings)
    assert age == 2 * 10 + 30  # the default deadline of 10 seconds
    clock.now += timedelta(seconds=age - 0.001)
    assert await liveuser.recover(pipeline) == []  # a live worker could still settle them
    for cid, state in ((confirmed, State.confirmed), (executing, State.executing)):
        record = await pipeline.action_store.get(cid)
        assert record is not None and record.state is state
    events = [s for s, _ in await pipeline.action_store.events(executing)]
    assert events == ["proposed", "confirmed", "executing"]
    clock.now += timedelta(seconds=0.001)  # now as old as any live worker could hold it
    assert {r.confirmation_id for r in await liveuser.recover(pipeline)} == {confirmed, executing}
    assert app.state.applied == []


@pytest.mark.parametrize("done", [True, False], ids=["vendor-made-it", "vendor-never-did"])
async def test_a_stale_record_is_settled_by_reading_back(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette], done: bool
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    clock = Clock()
    pipeline.action_store.clock = clock
    confirmed = await left_in_flight(pipeline, host_conversation(ANN_EMAIL), State.confirmed)
    executing = await left_in_flight(pipeline, host_conversation(ANN_EMAIL), State.executing)
    record = await pipeline.action_store.get(executing)
    assert record is not None
    if done:  # the vendor made the change; the worker died before writing it down
        app.state.executions[record.idempotency_key] = {"status": "done", "detail": "paused"}
    clock.now += timedelta(seconds=liveuser.actions.stale_after(None))
    results = {r.confirmation_id: r for r in await liveuser.recover(pipeline)}
    assert results[confirmed].status == "failed"
    assert results[executing].status == ("executed" if done else "failed")
    assert set(results) == {confirmed, executing}
    for cid, state in ((confirmed, State.failed), (executing, results[executing].status)):
        settled = await pipeline.action_store.get(cid)
        assert settled is not None and settled.state == state
    assert await pipeline.action_store.in_flight() == []
    assert "execute" not in app.state.stages  # read back, never executed
    assert await liveuser.recover(pipeline, older_than=0) == []  # nothing left to settle


async def test_a_record_that_cannot_be_read_back_waits_for_a_later_recovery(
    make_pipeline: PipelineFactory, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    pipeline = with_actions(make_pipeline, url)
    clock = Clock()
    pipeline.action_store.clock = clock
    cid = await left_in_flight(pipeline, host_conversation(ANN_EMAIL), State.executing)
    record = await pipeline.action_store.get(cid)
    assert record is not None
    app.state.executions[record.idempotency_key] = {"status": "pending"}  # not finished yet
    age = liveuser.actions.stale_after(None)
    clock.now += timedelta(seconds=age)
    assert await liveuser.recover(pipeline) == []
    still = await pipeline.action_store.get(cid)
    assert still is not None and still.state is State.executing
    # Claimed by that attempt: it looks fresh to every recovery until it is stale again.
    app.state.executions[record.idempotency_key] = {"status": "done", "detail": "paused"}
    assert await liveuser.recover(pipeline) == []
    clock.now += timedelta(seconds=age)
    assert [r.status for r in await liveuser.recover(pipeline)] == ["executed"]
    assert "execute" not in app.state.stages


async def test_concurrent_recoveries_of_several_workers_settle_each_record_once(
    ledger_target: str | Path,
    ledger_key: bytes,
    tmp_path: Path,
    endpoint: tuple[str, Starlette],
) -> None:
    url, app = endpoint
    clock = Clock()
    ledgers = [Ledger(ledger_target, ledger_key) for _ in range(3)]
    workers = pause_workers(ledgers, tmp_path, url)
    try:
        for worker in workers:
            worker.action_store.clock = clock
        ids = [
            await left_in_flight(workers[0], host_conversation(ANN_EMAIL), state)
            for state in (State.confirmed, State.executing, State.executing, State.confirmed)
        ]
        for cid in ids[1:3]:
            record = await workers[0].action_store.get(cid)
            assert record is not None
            app.state.executions[record.idempotency_key] = {"status": "done", "detail": "ok"}
        clock.now += timedelta(seconds=liveuser.actions.stale_after(None))
        runs = await asyncio.gather(
            *(liveuser.recover(w) for w in workers for _ in range(2))  # two tasks per worker
        )
        settled = sorted((r.confirmation_id, r.status) for run in runs for r in run)
        assert settled == sorted(
            [(ids[0], "failed"), (ids[1], "executed"), (ids[2], "executed"), (ids[3], "failed")]
        )
        for cid in ids:
            events = [s for s, _ in await workers[1].action_store.events(cid)]
            assert events[-1] in ("executed", "failed") and len(events) == len(set(events))
    finally:
        for worker in workers:
            await worker.registry.aclose()
            await worker.ledger.aclose()


@settings(max_examples=40, deadline=None)
@given(deadline_ms=st.integers(1, 10_000), offset_ms=st.integers(0, 60_000))
def test_a_record_is_stale_exactly_after_twice_the_deadline_and_the_margin(
    deadline_ms: int, offset_ms: int
) -> None:
    """Whatever the tenant's deadline, recovery leaves a record alone for 2 x deadline
    + 30 s after its last write and settles it from then on."""

    async def check() -> bool:
        tenant = TenantSettings(deadline_seconds=deadline_ms / 1000)
        registry = Registry(Settings(tenants={"default": tenant}), discover=False)
        async with Ledger(":memory:", b"k" * 32) as ledger:
            pipeline = Pipeline(registry, ledger)
            clock = Clock()
            pipeline.action_store.clock = clock
            record = Confirmation(
                confirmation_id="c-1",
                tenant="default",
                channel="host",
                conversation_id="chat-1",
                identity_hash="a" * 64,
                action=PAUSE,
                arguments=ARGS,
                target={},
                summary=SUMMARY,
                summary_hash="b" * 64,
                expires_at=clock.now,
                binding="",
                idempotency_key="k-1",
                state=State.proposed,
            )
            await pipeline.action_store.propose(record)
            assert await pipeline.action_store.move("c-1", State.proposed, State.confirmed)
            clock.now += timedelta(milliseconds=offset_ms)
            settled = [r.confirmation_id for r in await liveuser.recover(pipeline)]
            pipeline.action_store.close()
        await registry.aclose()
        return settled == ["c-1"]

    stale = offset_ms >= 2 * deadline_ms + 30_000
    assert asyncio.run(check()) is stale
    assert liveuser.actions.stale_after(TenantSettings(deadline_seconds=deadline_ms / 1000)) == (
        2 * deadline_ms / 1000 + 30
    )
