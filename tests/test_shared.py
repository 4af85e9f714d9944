"""Several workers on one Redis: one fetch per cached user, shared verifications and
forgetting, and vendor request budgets kept together (real Redis, real HTTP on loopback)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette

from liveuser import HttpClient, Ledger, Pipeline, Registry, Settings
from liveuser.budgets import RequestBudget
from liveuser.errors import BackendTimeout
from liveuser.http import deadline
from liveuser.sandbox import (
    ANN_EMAIL,
    BOB_EMAIL,
    CHLOE_EMAIL,
    RateLimited,
    create_user_data_api,
    serve,
)

from .conftest import host_conversation, make_settings


@pytest.fixture
def redis(redis_url: str) -> str:
    """An empty Redis database of its own for this test."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/1"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture(scope="module")
def slow_api() -> Iterator[tuple[str, Starlette]]:
    """A User Data API that takes a while to answer, so concurrent turns overlap."""
    app = create_user_data_api(latency=0.3)
    with serve(app) as url:
        yield url, app


class Workers:
    """Several workers' registries and pipelines (one process here; Redis is what they share)."""

    def __init__(self, tmp_path: Path, settings: Settings) -> None:
        self.settings = settings
        self.pipelines = [
            Pipeline(Registry(settings, discover=False), Ledger(":memory:", b"k" * 32))
            for _ in range(3)
        ]

    async def aclose(self) -> None:
        for pipeline in self.pipelines:
            await pipeline.registry.aclose()
            await pipeline.ledger.aclose()


@pytest.fixture
async def workers(
    tmp_path: Path, redis: str, slow_api: tuple[str, Starlette]
) -> AsyncIterator[Workers]:
    settings = make_settings(tmp_path, user_data_api_url=slow_api[0]).model_copy(
        update={"redis_url": SecretStr(redis)}
    )
    made = Workers(tmp_path, settings)
    yield made
    await made.aclose()


async def test_a_cached_users_data_is_fetched_once_across_workers(
    workers: Workers, slow_api: tuple[str, Starlette]
) -> None:
    app = slow_api[1]
    before = app.state.identifiers.count(ANN_EMAIL)
    contexts = await asyncio.gather(
        *(
            pipeline.context_for(host_conversation(ANN_EMAIL), message_id=f"m{i}")
            for i in range(4)
            for pipeline in workers.pipelines
        )
    )
    assert all(c.verified and c.sources == ("user_data_api",) for c in contexts)
    assert len({c.text.split("\n", 1)[1] for c in contexts}) == 1  # the same data for all
    assert app.state.identifiers.count(ANN_EMAIL) - before == 1


async def test_one_worker_fetches_a_user_once_however_many_turns_ask_at_once(
    tmp_path: Path, slow_api: tuple[str, Starlette]
) -> None:
    url, app = slow_api
    settings = make_settings(tmp_path, user_data_api_url=url)  # in-process caches
    pipeline = Pipeline(Registry(settings, discover=False), Ledger(":memory:", b"k" * 32))
    try:
        before = app.state.identifiers.count(CHLOE_EMAIL)
        contexts = await asyncio.gather(
            *(pipeline.context_for(host_conversation(CHLOE_EMAIL), f"m{i}") for i in range(6))
        )
        assert all(c.sources == ("user_data_api",) for c in contexts)
        assert app.state.identifiers.count(CHLOE_EMAIL) - before == 1
    finally:
        await pipeline.registry.aclose()
        await pipeline.ledger.aclose()


async def test_each_user_gets_their_own_cached_data(workers: Workers) -> None:
    one, two, three = workers.pipelines
    ann = await one.context_for(host_conversation(ANN_EMAIL), "m1")
    bob = await two.context_for(host_conversation(BOB_EMAIL), "m1")
    ann_again = await three.context_for(host_conversation(ANN_EMAIL), "m2")
    bob_again = await one.context_for(host_conversation(BOB_EMAIL), "m2")
    assert ANN_EMAIL in ann.text and BOB_EMAIL not in ann.text
    assert BOB_EMAIL in bob.text and ANN_EMAIL not in bob.text
    assert ann_again.text.split("\n", 1)[1] == ann.text.split("\n", 1)[1]
    assert BOB_EMAIL not in ann_again.text and ANN_EMAIL not in bob_again.text


async def test_verifications_are_shared_and_forgotten_for_every_worker(workers: Workers) -> None:
    one, two, _ = workers.pipelines
    conversation = host_conversation(ANN_EMAIL)
    assert not isinstance(await one.verify(conversation), str)
    other = two.registry.tenant()
    assert (await other.shared_verification(conversation)) is not None
    one.registry.tenant().forget_verification(conversation.key)  # a webhook said it changed
    await one.registry.tenant().settle()
    assert (await other.shared_verification(conversation)) is None


async def test_forgetting_a_person_drops_their_data_for_every_worker(
    workers: Workers, slow_api: tuple[str, Starlette]
) -> None:
    one, two, _ = workers.pipelines
    app = slow_api[1]
    await one.context_for(host_conversation(BOB_EMAIL), "m1")
    fetched = app.state.identifiers.count(BOB_EMAIL)
    await two.forget(BOB_EMAIL)
    await two.context_for(host_conversation(BOB_EMAIL), "m2")
    assert app.state.identifiers.count(BOB_EMAIL) == fetched + 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_redis_that_is_down_is_a_miss_not_a_refusal(
    tmp_path: Path, sandbox: tuple[str, Starlette]
) -> None:
    down = f"redis://127.0.0.1:{closed_port()}/0"
    settings = make_settings(tmp_path, user_data_api_url=sandbox[0]).model_copy(
        update={"redis_url": SecretStr(down), "rate_limits": {"127.0.0.1": "100/second"}}
    )
    pipeline = Pipeline(Registry(settings, discover=False), Ledger(":memory:", b"k" * 32))
    try:
        context = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
        assert context.verified and context.sources == ("user_data_api",)
    finally:
        await pipeline.registry.aclose()
        await pipeline.ledger.aclose()


# -- request budgets -------------------------------------------------------------


@pytest.fixture
def limited() -> Iterator[tuple[str, RateLimited]]:
    """A vendor that allows 5 requests in any 0.25 s. It counts requests as they reach
    it, which a loaded machine may delay and bunch: the clients' budget, 5 a second,
    leaves that margin; three unshared budgets would burst 15 at once."""

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    fake = RateLimited(ok, limit=5, window=0.25)
    with serve(fake) as url:
        yield url, fake


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
async def test_workers_keep_a_vendor_under_its_rate_limit_together(
    limited: tuple[str, RateLimited], shared: bool, request: pytest.FixtureRequest
) -> None:
    url, fake = limited
    storage = request.getfixturevalue("redis") if shared else None
    rates = {"127.0.0.1": "5/second"}
    if shared:
        clients = [HttpClient(budget=RequestBudget(rates, storage)) for _ in range(3)]
    else:
        clients = [HttpClient(budget=RequestBudget(rates))]  # one process: one budget
    try:
        with deadline(30):
            answers = await asyncio.gather(
                *(clients[i % len(clients)].request("vendor", "GET", url) for i in range(12))
            )
    finally:
        for client in clients:
            await client.aclose()
    assert [a.status for a in answers] == [200] * 12
    assert fake.throttled == 0 and fake.busiest <= 5


async def test_workers_with_budgets_of_their_own_overrun_the_vendor(
    limited: tuple[str, RateLimited],
) -> None:
    """The control: the same load through three unshared budgets is what the vendor refuses."""
    url, fake = limited
    clients = [HttpClient(budget=RequestBudget({"127.0.0.1": "5/second"})) for _ in range(3)]
    try:
        with deadline(30):
            await asyncio.gather(
                *(clients[i % 3].request("vendor", "GET", url) for i in range(12)),
                return_exceptions=True,
            )
    finally:
        for client in clients:
            await client.aclose()
    assert fake.throttled > 0 and fake.busiest > 5


async def test_a_budget_spent_until_the_deadline_is_a_timeout_that_says_so(
    limited: tuple[str, RateLimited],
) -> None:
    url, fake = limited
    client = HttpClient(budget=RequestBudget({"127.0.0.1": "1/minute"}))
    try:
        with deadline(5):
            await client.request("vendor", "GET", url)
            with pytest.raises(BackendTimeout, match=r"request budget for 127\.0\.0\.1"):
                await client.request("vendor", "GET", url)
    finally:
        await client.aclose()
    assert fake.throttled == 0


async def test_a_host_without_a_budget_is_not_held_back(
    limited: tuple[str, RateLimited],
) -> None:
    url, _ = limited
    client = HttpClient(budget=RequestBudget({"vendor.example.com": "1/minute"}))
    try:
        answers = [await client.request("vendor", "GET", url) for _ in range(2)]
    finally:
        await client.aclose()
    assert [a.status for a in answers] == [200, 200]


def test_a_vendor_fake_over_its_limit_answers_429() -> None:
    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    fake = RateLimited(ok, limit=2, window=60)
    with serve(fake) as url:
        statuses = [httpx2.get(url, timeout=10).status_code for _ in range(3)]
    assert statuses == [200, 200, 429] and fake.throttled == 1 and fake.busiest == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate_limits", {"api.example.com": "lots"}, "is not a rate"),
        ("redis_url", "http://cache:6379", "must be a redis://"),
        ("database_url", "sqlite:///x", "must be a postgresql:// URL"),
    ],
)
def test_shared_settings_are_checked(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})
