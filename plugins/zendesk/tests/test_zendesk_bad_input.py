"""Bad answers from Zendesk: a refusal with its reason, never an exception."""

from __future__ import annotations

import json
from typing import Any

import httpx2
from conftest import Fake, SetupFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zendesk_strategies import json_values, ticket_bodies

from liveuser import Channel, Conversation, HttpClient, Refusal, VerifiedUser
from liveuser.plugin import PluginRuntime
from liveuser_zendesk import ZendeskPlugin, ZendeskSettings
from liveuser_zendesk.fake import fake_settings, seed


def ticket(tid: int | str) -> Conversation:
    return Conversation(channel=Channel.zendesk_ticket, conversation_id=str(tid))


async def test_unknown_ticket_is_refused_as_not_found(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(seed.UNKNOWN))
    assert isinstance(verdict, Refusal)
    assert verdict.reason == f"ticket {seed.UNKNOWN} was not found in Zendesk"


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


async def test_wrong_api_token_is_refused_naming_the_credentials(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup(api_token="wrong").plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)
    assert "refused liveuser's credentials (HTTP 401)" in verdict.reason


async def test_oauth_bearer_is_accepted(make_setup: SetupFactory) -> None:
    setup = make_setup(auth="oauth", oauth_token="fake-zendesk-oauth-token-not-secret")
    verdict = await setup.plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict


async def test_wrong_oauth_token_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup(auth="oauth", oauth_token="stolen")
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
    setup = make_setup(deadline=2.0)
    verdict = await setup.pipeline.verify(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)
    assert "rate limiting" in verdict.reason


def test_wait_hint_reads_retry_after_then_ratelimit_reset() -> None:
    from liveuser import HttpAnswer
    from liveuser_zendesk.client import wait_hint

    def answer(**headers: str) -> HttpAnswer:
        return HttpAnswer(429, httpx2.Headers(headers), b"", "zendesk")

    assert wait_hint(answer(**{"Retry-After": "3", "ratelimit-reset": "9"})) == 3.0
    assert wait_hint(answer(**{"ratelimit-reset": "9"})) == 9.0
    assert wait_hint(answer(**{"ratelimit-reset": "soon"})) is None
    assert wait_hint(answer()) is None


def _plugin_over(handler: Any) -> tuple[ZendeskPlugin, HttpClient]:
    http = HttpClient(httpx2.MockTransport(handler))
    plugin = ZendeskPlugin(ZendeskSettings(**fake_settings("https://acme.zendesk.example")))
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


async def test_numeric_via_type_is_mapped_before_the_rule() -> None:
    body = {
        "ticket": {
            "id": 1001,
            "requester_id": 5001,
            "submitter_id": 5001,
            "via": {"channel": 4, "source": {"from": {"address": "ann@example.com"}}},
        },
        "users": [
            {
                "id": 5001,
                "email": "ann@example.com",
                "role": "end-user",
                "active": True,
                "suspended": False,
            }
        ],
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.params["include"] == "users"
        channel = 4 if request.url.path.endswith("1001") else 0
        body["ticket"]["via"]["channel"] = channel  # type: ignore[index]
        return httpx2.Response(200, json=body)

    plugin, http = _plugin_over(handler)
    try:
        assert isinstance(await plugin.verify_user(ticket(1001)), VerifiedUser)
        body["ticket"]["id"] = 1002  # type: ignore[index]
        refused = await plugin.verify_user(ticket(1002))
    finally:
        await http.aclose()
    assert isinstance(refused, Refusal)
    assert "web form" in refused.reason


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=ticket_bodies(), status=st.sampled_from([200, 200, 200, 403, 404, 422, 503]))
async def test_any_ticket_answer_gives_a_verdict_never_an_exception(body: Any, status: int) -> None:
    raw = json.dumps(body).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=raw, headers={"content-type": "application/json"})

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(ticket(1001))
    finally:
        await http.aclose()
    assert isinstance(verdict, Refusal | VerifiedUser)
    if isinstance(verdict, VerifiedUser):
        # Only a clean email ticket from its active end-user requester gets through.
        assert status == 200
        assert verdict.email == "ann@example.com"
        ticket_ = body["ticket"]
        assert ticket_["via"]["channel"] in ("email", "EMAIL", 4)
        assert ticket_["via"]["source"]["from"]["address"] == "ann@example.com"
        assert ticket_.get("from_messaging_channel", False) is False
        assert ticket_.get("submitter_id", 5001) in (5001, None)
        (user,) = body["users"]
        assert user["active"] is True and user["suspended"] is False
        assert user["role"] == "end-user"
        ccs = ticket_.get("email_cc_ids", [])
        expected = ("cc user 5006",) if 5006 in ccs else ()
        assert verdict.record.other_participants == expected


@settings(max_examples=60, deadline=None)
@given(body=json_values)
async def test_any_messaging_answer_gives_a_verdict_never_an_exception(body: Any) -> None:
    raw = json.dumps(body).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=raw)

    plugin, http = _plugin_over(handler)
    try:
        verdict = await plugin.verify_user(
            Conversation(channel=Channel.zendesk_messaging, conversation_id="conv_x")
        )
    finally:
        await http.aclose()
    assert isinstance(verdict, Refusal)
