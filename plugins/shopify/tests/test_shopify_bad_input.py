"""Bad input gets a clear answer: a missing source with its reason, never a traceback."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from conftest import Fake, SetupFactory, host_conversation
from hypothesis import given, settings
from shopify_strategies import order_nodes, throttle_bodies

from liveuser_shopify.client import ShopifyError, throttle_wait
from liveuser_shopify.fake import FAKE_ACCESS_TOKEN, seed
from liveuser_shopify.orders import customer_of


async def _missing(setup: Any, email: str = seed.ALICE) -> str:
    ctx = await setup.pipeline.context_for(host_conversation(email), message_id="m1")
    assert ctx.verified
    assert "shopify" not in ctx.sources
    return str(ctx.missing["shopify"])


async def test_wrong_token_is_a_missing_source(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup(access_token="shpat_wrong")
    before = fake.requests
    assert "rejected the access token" in await _missing(setup)
    assert fake.requests - before == 1  # a 401 is not retried


async def test_unknown_api_version(make_setup: SetupFactory) -> None:
    setup = make_setup(api_version="2019-04")
    assert "API version" in await _missing(setup)


async def test_server_error_is_retried_then_answered(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    fake.app.state.faults = ["503"]
    before = fake.requests
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert "#1042" in ctx.text
    assert fake.requests - before == 2


async def test_persistent_server_error_is_a_missing_source(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    fake.app.state.faults = ["500"] * 10
    assert "HTTP 500" in await _missing(setup)


async def test_malformed_json_is_a_missing_source(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    fake.app.state.faults = ["malformed"]
    assert "malformed JSON" in await _missing(setup)


async def test_throttled_query_waits_for_the_bucket(make_setup: SetupFactory, fake: Fake) -> None:
    """A THROTTLED answer (HTTP 200) is waited out: a cost of about 234 with an empty
    bucket refilling at 1,000 points a second is a wait of about 0.23 s, then the
    same query again."""
    setup = make_setup()
    fake.app.state.available = 0.0
    fake.app.state.refilled = time.monotonic()  # the bucket empties now, not at the last reset
    fake.app.state.restore_rate = 1000.0
    before = fake.requests
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert "#1042" in ctx.text, ctx.missing
    assert fake.requests - before == 2
    assert setup.plugin.client.last_cost is not None
    assert setup.plugin.client.last_cost["actualQueryCost"] is not None


async def test_throttle_past_the_deadline_is_missing_with_the_reason(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup(deadline=1.0)
    fake.app.state.available = 0.0
    fake.app.state.restore_rate = 1.0
    before = fake.requests
    reason = await _missing(setup)
    assert "throttled" in reason and "past the deadline" in reason
    assert fake.requests - before == 1


@pytest.mark.parametrize("status", [429])
async def test_http_429_throttle_past_the_deadline(
    make_setup: SetupFactory, fake: Fake, status: int
) -> None:
    setup = make_setup(deadline=1.0)
    fake.app.state.throttle_status = status
    fake.app.state.available = 0.0
    fake.app.state.restore_rate = 1.0
    reason = await _missing(setup)
    assert "throttled" in reason and "HTTP 429" in reason


async def test_http_429_throttle_is_waited_out(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    fake.app.state.throttle_status = 429
    fake.app.state.available = 100.0
    fake.app.state.restore_rate = 1000.0
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert "#1042" in ctx.text, ctx.missing


async def test_tool_failure_reads_as_unavailable(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    fake.app.state.faults = ["malformed"]
    text = await setup.pipeline.call_tool(
        host_conversation(seed.ALICE), "m1", "t1", "order_status", {"order_number": "1042"}
    )
    assert text.startswith("order_status is unavailable right now (Shopify answered malformed")


def test_throttle_wait_follows_the_bucket() -> None:
    body = {
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000.0,
                    "currentlyAvailable": 666,
                    "restoreRate": 50.0,
                },
            }
        }
    }
    assert throttle_wait(body) == pytest.approx(1.72)


@settings(max_examples=200)
@given(body=throttle_bodies())
def test_throttle_wait_never_raises(body: Any) -> None:
    wait = throttle_wait(body)
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= 60)


@settings(max_examples=200)
@given(node=order_nodes())
def test_twisted_order_answers_are_refused_or_read(node: Any) -> None:
    data = {
        "customer": {
            "id": "gid://shopify/Customer/1",
            "defaultEmailAddress": {"emailAddress": "a@example.com"},
            "orders": {"nodes": [node]},
        }
    }
    try:
        customer = customer_of(data, "a@example.com")
    except ShopifyError as exc:
        assert exc.reason
    else:
        assert customer is not None


def test_answer_about_another_customer_is_refused() -> None:
    data = {
        "customer": {
            "id": "gid://shopify/Customer/1",
            "defaultEmailAddress": {"emailAddress": "mallory@example.com"},
            "orders": {"nodes": []},
        }
    }
    with pytest.raises(ShopifyError, match="another customer"):
        customer_of(data, "a@example.com")


def test_the_token_goes_in_the_shopify_header_not_bearer() -> None:
    from starlette.testclient import TestClient

    from liveuser_shopify.fake import create_fake_shopify

    client = TestClient(create_fake_shopify())
    body = {"query": '{ shop: customer(id: "x") { id } }'}
    url = "/admin/api/2026-07/graphql.json"
    bearer = client.post(url, json=body, headers={"Authorization": f"Bearer {FAKE_ACCESS_TOKEN}"})
    assert bearer.status_code == 401
    ok = client.post(url, json=body, headers={"X-Shopify-Access-Token": FAKE_ACCESS_TOKEN})
    assert ok.status_code == 200 and ok.json()["data"] == {"shop": None}
