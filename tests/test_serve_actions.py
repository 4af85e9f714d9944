"""`liveuser serve` for agent loops outside Python: /v1/tool proposes, /v1/confirm executes.

A real `liveuser serve` process with the example HTTP action endpoint
(``pause_subscription``) turned on for the default tenant.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from liveuser import Ledger, Registry, Settings, TenantSettings
from liveuser.actions import ActionStore, State
from liveuser.actions.example_endpoint import PAUSE, create_action_endpoint, pause_action_settings
from liveuser.actions.model import AWAITING, Confirmation, binding_hash, summary_hash
from liveuser.sandbox import serve
from liveuser.serve import create_app
from liveuser.tools import NOT_FOUND

from .conftest import host_token
from .test_serve import API_KEY, start_service, stop_service, write_config


def toml(value: Any) -> str:
    """``value`` as a TOML inline value (enough for a JSON schema)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, Starlette]]:
    app = create_action_endpoint()
    with serve(app) as url:
        yield url, app


@pytest.fixture(autouse=True)
def fresh_subscriptions(endpoint: tuple[str, Starlette]) -> None:
    """Each test starts with every subscription as the example seeds it (SUB-1 active)."""
    endpoint[1].state.subscriptions = create_action_endpoint().state.subscriptions


def write_actions_config(directory: Path, sandbox_url: str, endpoint_url: str) -> Path:
    """test_serve's liveuser.toml with the example's action on for the default tenant."""
    config = write_config(directory, sandbox_url)
    action = pause_action_settings(endpoint_url)
    text = config.read_text().replace(
        "[tenants.acme.host_keys]",
        f'[tenants.default.actions]\nenabled = ["{PAUSE}"]\n\n'
        "[[tenants.default.actions.http]]\n"
        + "".join(f"{k} = {toml(v)}\n" for k, v in action.items())
        + "\n[tenants.acme.host_keys]",
    )
    Path(config).write_text(text)
    return config


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: tuple[str, Starlette],
    endpoint: tuple[str, Starlette],
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("serve-actions")
    config = write_actions_config(directory, sandbox[0], endpoint[0])
    process, url = start_service(config)
    yield url
    assert "Traceback" not in stop_service(process)


def post(url: str, path: str, body: dict[str, Any], key: str = API_KEY) -> httpx2.Response:
    return httpx2.post(
        f"{url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def chat(email: str, conversation: str) -> dict[str, Any]:
    return {
        "channel": "host",
        "conversation_id": conversation,
        "claims": {"token": host_token(email)},
    }


def propose(url: str, email: str, conversation: str, **arguments: Any) -> dict[str, Any]:
    answer = post(
        url,
        "/v1/tool",
        {
            **chat(email, conversation),
            "message_id": "m1",
            "tool_call_id": "call-1",
            "name": PAUSE,
            "arguments": {"subscription": "SUB-1", "weeks": 2, **arguments},
        },
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_model_reads_only_awaiting_and_the_host_gets_the_summary(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    before = len(endpoint[1].state.applied)
    body = propose(service, "ann@example.com", "serve-chat-1")
    pending = body["pending"]
    assert body["text"] == AWAITING
    assert pending["confirmation_id"] not in body["text"]
    assert pending["action"] == PAUSE and "SUB-1" in pending["summary"]
    forced = propose(service, "ann@example.com", "serve-chat-1", confirm=True)
    assert forced["pending"] is None and "Invalid arguments" in forced["text"]
    assert len(endpoint[1].state.applied) == before  # proposing writes nothing


def test_the_customers_confirmation_executes_once(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    pending = propose(service, "ann@example.com", "serve-chat-2")["pending"]
    before = len(endpoint[1].state.applied)
    confirm = {
        **chat("ann@example.com", "serve-chat-2"),
        "confirmation_id": pending["confirmation_id"],
    }
    first = post(service, "/v1/confirm", confirm)
    assert first.status_code == 200 and first.json()["status"] == "executed", first.text
    again = post(service, "/v1/confirm", confirm)
    assert again.status_code == 200 and again.json()["status"] == "refused"
    assert len(endpoint[1].state.applied) == before + 1


def test_a_confirmation_from_another_conversation_or_person_is_refused(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    pending = propose(service, "ann@example.com", "serve-chat-3")["pending"]
    before = len(endpoint[1].state.applied)
    for who, conversation in (
        ("ann@example.com", "serve-chat-4"),
        ("bob@example.com", "serve-chat-3"),
    ):
        answer = post(
            service,
            "/v1/confirm",
            {**chat(who, conversation), "confirmation_id": pending["confirmation_id"]},
        )
        assert answer.status_code == 200 and answer.json()["status"] == "refused", answer.text
    guessed = post(
        service,
        "/v1/confirm",
        {**chat("ann@example.com", "serve-chat-3"), "confirmation_id": "guess"},
    )
    assert guessed.json()["status"] == "refused"
    assert len(endpoint[1].state.applied) == before


def test_another_customers_record_answers_as_not_found(service: str) -> None:
    body = propose(service, "bob@example.com", "serve-chat-5")  # SUB-1 is Ann's
    assert body["pending"] is None and NOT_FOUND in body["text"]


@pytest.mark.parametrize("path", ["/v1/tool", "/v1/confirm"])
def test_tool_and_confirm_need_the_tenants_api_key(service: str, path: str) -> None:
    answer = post(
        service,
        path,
        {**chat("ann@example.com", "x"), "confirmation_id": "c"},
        key="wrong-key-" * 4,
    )
    assert answer.status_code == 401 and "API key" in answer.json()["error"]


def test_a_malformed_confirmation_is_a_json_400(service: str) -> None:
    answer = post(service, "/v1/confirm", chat("ann@example.com", "x"))  # no confirmation_id
    assert answer.status_code == 400 and "confirmation_id" in answer.json()["error"]


# -- recovery in every worker ------------------------------------------------------------

LEDGER_KEY = b"serve-test-ledger-key-0123456789abcdef"  # write_config's


def record_in(state: State, conversation: str) -> Confirmation:
    """A confirmation of the example's action as a worker leaves it in ``state``."""
    args = {"subscription": "SUB-1", "weeks": 2}
    summary = "Pause SUB-1 for 2 weeks."
    expires_at = datetime.now(UTC) + timedelta(minutes=10)
    fields: dict[str, Any] = {
        "tenant": "default",
        "channel": "host",
        "conversation_id": conversation,
        "identity_hash": "a" * 64,
        "action": PAUSE,
        "arguments": args,
        "summary_hash": summary_hash(summary),
        "expires_at": expires_at,
    }
    return Confirmation(
        confirmation_id=secrets.token_urlsafe(12),
        target={"subscription": "SUB-1"},
        summary=summary,
        binding=binding_hash(**fields),
        idempotency_key=str(uuid.uuid4()),
        state=state,
        **fields,
    )


async def leave_in_flight(store: ActionStore, record: Confirmation, at: datetime) -> None:
    """Store ``record`` and move it to its state at ``at``, as a worker that then died."""

    def clock() -> datetime:
        return at

    store.clock = clock
    await store.propose(record.replace(state=State.proposed))
    await store.move(record.confirmation_id, State.proposed, State.confirmed)
    if record.state is State.executing:
        await store.move(record.confirmation_id, State.confirmed, State.executing)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | Path, dict[str, str]]:
    """The service's ledger (each engine in turn) and the environment that names it."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema")
        return url, {"LIVEUSER_DATABASE_URL": url}
    return tmp_path / "ledger.sqlite3", {}


async def settled(store: ActionStore, *records: Confirmation) -> dict[str, State]:
    """The records' states once none is in flight any more (or after 30 seconds)."""
    states: dict[str, State] = {}
    for _ in range(300):
        found = [await store.get(r.confirmation_id) for r in records]
        states = {r.confirmation_id: r.state for r in found if r is not None}
        if set(states.values()) <= {State.executed, State.failed}:
            break
        await asyncio.sleep(0.1)
    return states


async def test_each_worker_settles_stale_records_at_start_up_and_leaves_fresh_ones(
    tmp_path: Path,
    sandbox: tuple[str, Starlette],
    endpoint: tuple[str, Starlette],
    database: tuple[str | Path, dict[str, str]],
) -> None:
    target, env = database
    config = write_actions_config(tmp_path, sandbox[0], endpoint[0])
    crashed, interrupted, live, later = (
        record_in(State.executing, "crashed"),
        record_in(State.confirmed, "interrupted"),
        record_in(State.executing, "live"),
        record_in(State.confirmed, "later"),
    )
    # The vendor made the crashed worker's change; the worker died before writing it down.
    endpoint[1].state.executions[crashed.idempotency_key] = {"status": "done", "detail": "ok"}
    applied = list(endpoint[1].state.applied)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    async with Ledger(target, LEDGER_KEY) as ledger:
        store = ActionStore.beside(ledger)
        await leave_in_flight(store, crashed, long_ago)
        await leave_in_flight(store, interrupted, long_ago)
        process, _ = start_service(
            config, "--workers", "2", env={**env, "LIVEUSER_RECOVERY_INTERVAL_SECONDS": "0.5"}
        )
        try:
            at_start = await settled(store, crashed, interrupted)
            # While the service runs, another worker executes `live` now and one that
            # died left `later`: the periodic recovery settles `later` only.
            await leave_in_flight(store, live, datetime.now(UTC))
            await leave_in_flight(store, later, long_ago)
            periodic = await settled(store, later)
            fresh = await store.get(live.confirmation_id)
        finally:
            stderr = stop_service(process)
        events = await store.events(crashed.confirmation_id)
    assert at_start == {
        crashed.confirmation_id: State.executed,
        interrupted.confirmation_id: State.failed,
    }
    assert periodic == {later.confirmation_id: State.failed}
    assert fresh is not None and fresh.state is State.executing
    assert [s for s, _ in events].count("executed") == 1  # two workers, settled once
    assert "Traceback" not in stderr
    for record in (crashed, interrupted, later):
        assert stderr.count(f"settled action record {record.confirmation_id}") == 1
    assert live.confirmation_id not in stderr
    assert endpoint[1].state.applied == applied  # read back, never executed


async def test_a_failing_recovery_is_logged_and_the_service_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.sqlite3"
    async with Ledger(path, LEDGER_KEY):
        pass
    with closing(sqlite3.connect(path)) as db, db:  # a table in the way of the action store's
        db.execute("CREATE TABLE action_confirmations (unrelated TEXT)")
    settings = Settings(
        ledger=path,
        ledger_key=LEDGER_KEY.decode(),
        tenants={"default": TenantSettings(api_keys={"platform": API_KEY})},
    )
    registry = Registry(settings, discover=False)
    ledger = Ledger(path, LEDGER_KEY)
    app = create_app(settings, registry=registry, ledger=ledger)
    try:
        with caplog.at_level(logging.WARNING, logger="liveuser.recovery"):
            async with app.router.lifespan_context(app):
                transport = httpx2.ASGITransport(app=app)
                async with httpx2.AsyncClient(transport=transport, base_url="http://s") as client:
                    for _ in range(100):
                        if "action recovery failed" in caplog.text:
                            break
                        await asyncio.sleep(0.05)
                    assert (await client.get("/healthz")).status_code == 200
        failed = [r.getMessage() for r in caplog.records if "recovery failed" in r.getMessage()]
        assert failed and "action store" in failed[0] and "\n" not in failed[0]
    finally:
        await registry.aclose()
        await ledger.aclose()
