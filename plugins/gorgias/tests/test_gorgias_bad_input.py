"""Bad answers from Gorgias: a refusal with its reason, never an exception."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx2
from conftest import Fake, SetupFactory
from gorgias_strategies import json_values, ticket_bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveuser import Channel, Conversation, HttpAnswer, HttpClient, Refusal, VerifiedUser
from liveuser.plugin import PluginRuntime
from liveuser_gorgias import GorgiasPlugin, GorgiasSettings
from liveuser_gorgias.client import wait_hint
from liveuser_gorgias.fake import fake_settings, seed


def ticket(tid: int | str) -> Conversation:
    return Conversation(channel=Channel.gorgias_ticket, conversation_id=str(tid))


async def test_unknown_ticket_is_refused_as_not_found(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(seed.UNKNOWN))
    assert isinstance(verdict, Refusal)
    assert verdict.reason == f"ticket {seed.UNKNOWN} was not found in Gorgias"


async def test_vendor_5xx_is_retried_then_refused(make_setup: SetupFactory, fake: Fake) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(seed.SERVER_ERROR))
    assert isinstance(verdict, Refusal)
    assert "HTTP 500" in verdict.reason
    assert fake.requests - before == 4  # a read: retried within the deadline


async def test_malformed_json_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(seed.MALFORMED))
    assert isinstance(verdict, Refusal)
    assert "malformed JSON" in verdict.reason


async def test_wrong_api_key_is_refused_naming_the_credentials(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup(api_key="wrong").plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)
    assert "refused liveuser's credentials (HTTP 401)" in verdict.reason


async def test_wrong_username_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup(email="someone@acme.example")
    verdict = await setup.plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)
    assert "HTTP 401" in verdict.reason


async def test_429_retry_after_is_honoured_within_the_deadline(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.retry_after = 1
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict
    assert fake.requests - before == 2


async def test_429_asking_to_wait_past_the_deadline_is_refused_at_once(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.retry_after = 30
    before = fake.requests
    setup = make_setup(deadline=2.0)
    verdict = await setup.pipeline.verify(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)
    assert "rate limiting" in verdict.reason
    assert fake.requests - before == 1


def test_wait_hint_reads_retry_after() -> None:
    def answer(**headers: str) -> HttpAnswer:
        return HttpAnswer(429, httpx2.Headers(headers), b"", "gorgias")

    assert wait_hint(answer(**{"Retry-after": "5"})) == 5.0
    assert wait_hint(answer(**{"X-Gorgias-Account-Api-Call-Limit": "40/40"})) is None
    assert wait_hint(answer(**{"Retry-after": "soon"})) is None


def _plugin_over(handler: Any) -> tuple[GorgiasPlugin, HttpClient]:
    http = HttpClient(httpx2.MockTransport(handler))
    plugin = GorgiasPlugin(GorgiasSettings(**fake_settings("https://acme.gorgias.example")))
    plugin.bind(
        PluginRuntime(
            tenant="default",
            http=http,
            host_keys=None,
            max_response_bytes=100_000,
            forget_verification=lambda key: None,
        )
    )
    return plugin, http


async def test_answer_about_another_ticket_is_refused() -> None:
    body = copy.deepcopy(seed.TICKETS[seed.EMAIL_VERIFIED])

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=body)

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(ticket(seed.EMAIL_VERIFIED + 1))
    finally:
        await http.aclose()
    assert isinstance(verdict, Refusal)
    assert "another ticket" in verdict.reason


async def test_basic_auth_goes_to_the_accounts_own_domain() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=seed.TICKETS[seed.EMAIL_VERIFIED])

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    finally:
        await http.aclose()
    assert isinstance(verdict, VerifiedUser)
    (request,) = seen
    assert str(request.url) == f"https://acme.gorgias.example/api/tickets/{seed.EMAIL_VERIFIED}"
    assert request.headers["authorization"] == (
        "Basic bGl2ZXVzZXItYm90QGFjbWUuZXhhbXBsZTpmYWtlLWdvcmdpYXMtYXBpLWtleS1ub3Qtc2VjcmV0"
        "LTAxMjM0NTY3ODk="
    )
    assert request.headers["accept"] == "application/json"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=ticket_bodies(), status=st.sampled_from([200, 200, 200, 401, 404, 422, 503]))
async def test_any_ticket_answer_gives_a_verdict_never_an_exception(body: Any, status: int) -> None:
    raw = json.dumps(body).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=raw, headers={"content-type": "application/json"})

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    finally:
        await http.aclose()
    assert isinstance(verdict, Refusal | VerifiedUser)
    if isinstance(verdict, VerifiedUser):
        # Only a clean email ticket from its customer's own address gets through.
        assert status == 200
        assert verdict.email == "ann@example.com"
        assert body["channel"] in ("email", "EMAIL")
        assert body["via"] in ("email", "Email")
        assert body["from_agent"] is False and body["spam"] is False
        assert body["deleted_datetime"] is None
        first = body["messages"][0]
        assert first["from_agent"] is False
        assert first["via"] in ("email", "Email")
        assert first["source"]["type"] in ("email", "EMAIL")
        assert first["source"]["from"]["address"].lower() == "ann@example.com"
        assert body["customer"]["channels"][0]["deleted_datetime"] is None
        assert first["sender"] in (None, {"id": seed.ANN})
        ccs = [c["address"] for c in first["source"]["cc"]]
        assert bool(verdict.record.other_participants) == any(
            c not in ("ann@example.com", "ANN@example.com") for c in ccs
        )
    else:
        assert verdict.reason.strip()


@settings(max_examples=60, deadline=None)
@given(body=json_values)
async def test_any_json_gives_a_refusal(body: Any) -> None:
    raw = json.dumps(body).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=raw)

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    finally:
        await http.aclose()
    assert isinstance(verdict, Refusal)
