"""Bad input gets a refusal with its reason, never an exception."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from conftest import Fake, SetupFactory
from hubspot_strategies import addresses, json_values, messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveuser import (
    Channel,
    Conversation,
    HttpClient,
    Refusal,
    VerifiedUser,
    normalize_email,
)
from liveuser.http import HttpAnswer
from liveuser_hubspot import HubSpotSettings
from liveuser_hubspot.client import (
    DAILY_LIMIT_WAIT,
    Contact,
    HubSpotClient,
    HubSpotFailure,
    Message,
    MessagePage,
    Thread,
    wait_hint,
)
from liveuser_hubspot.fake import FAKE_ACCESS_TOKEN, seed
from liveuser_hubspot.plugin import HubSpotPlugin
from liveuser_hubspot.rules import confirm_contact, judge_email


def email(thread_id: str, **payload: Any) -> Conversation:
    return Conversation(channel=Channel.hubspot_email, conversation_id=thread_id, payload=payload)


@pytest.mark.parametrize(
    ("thread_id", "words"),
    [
        ("9999999999", "was not found in HubSpot"),
        (seed.BROKEN, "HTTP 500"),
        (seed.MALFORMED, "malformed JSON"),
        ("12ab", "is not a HubSpot thread id"),
        ("../contacts", "is not a HubSpot thread id"),
        ("0", "is not a HubSpot thread id"),
    ],
)
async def test_bad_thread_is_a_refusal_with_its_reason(
    make_setup: SetupFactory, thread_id: str, words: str
) -> None:
    verdict = await make_setup().plugin.verify_user(email(thread_id))
    assert isinstance(verdict, Refusal) and words in verdict.reason


async def test_vendor_5xx_is_retried_then_refused(make_setup: SetupFactory, fake: Fake) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(email(seed.BROKEN))
    assert isinstance(verdict, Refusal)
    assert fake.requests - before == 4  # the first try and three retries


async def test_wrong_token_is_refused_without_retry(make_setup: SetupFactory, fake: Fake) -> None:
    before = fake.requests
    verdict = await make_setup(access_token="pat-na1-wrong").plugin.verify_user(
        email(seed.EMAIL_VERIFIED)
    )
    assert isinstance(verdict, Refusal)
    assert "credentials" in verdict.reason and "INVALID_AUTHENTICATION" in verdict.reason
    assert fake.requests - before == 1


async def test_burst_limit_429_is_retried_within_the_deadline(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.window_ms = 50  # the fake asks to wait one burst window
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser)


async def test_429_past_the_deadline_is_a_refusal(make_setup: SetupFactory, fake: Fake) -> None:
    fake.app.state.throttle = 10
    setup = make_setup(deadline=2.0)
    verdict = await setup.pipeline.verify(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal) and "rate limiting" in verdict.reason


async def test_daily_limit_gives_up_at_once(make_setup: SetupFactory, fake: Fake) -> None:
    fake.app.state.daily_exhausted = True
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal) and "rate limiting" in verdict.reason
    assert fake.requests - before == 1


async def test_message_id_that_is_not_a_string_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_VERIFIED, message_id=7))
    assert isinstance(verdict, Refusal)


def _answer(status: int, body: Any, **headers: str) -> HttpAnswer:
    return HttpAnswer(status, httpx2.Headers(headers), json.dumps(body).encode(), "hubspot")


def test_wait_hint_reads_hubspots_rate_limit_signals() -> None:
    assert wait_hint(_answer(429, {}, **{"Retry-After": "3"})) == 3.0
    assert wait_hint(_answer(429, {"policyName": "DAILY"})) == DAILY_LIMIT_WAIT
    burst = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    assert wait_hint(_answer(429, {"policyName": "TEN_SECONDLY_ROLLING"}, **burst)) == 10.0
    assert wait_hint(_answer(503, {})) is None


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
async def test_any_message_page_body_is_an_answer_or_a_failure(body: Any) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=body)

    async with HttpClient(httpx2.MockTransport(handler)) as http:
        client = HubSpotClient(
            http, HubSpotSettings(access_token=FAKE_ACCESS_TOKEN), max_bytes=100_000
        )
        try:
            await client.messages("7319246510")
        except HubSpotFailure as exc:
            assert exc.reason


def _normalized(address: str) -> str | None:
    try:
        return normalize_email(address)
    except ValueError:
        return None


THREAD = Thread.model_validate(
    {
        "id": "7319246510",
        "status": "OPEN",
        "associatedContactId": seed.DANA,
        "originalChannelId": "1002",
        "spam": False,
        "archived": False,
    }
)


@settings(max_examples=100)
@given(raw=st.lists(messages(), max_size=4), named=st.sampled_from([None, "m1", "m2"]))
def test_any_message_list_gives_a_verdict_never_an_error(raw: list[Any], named: str | None) -> None:
    try:
        page = MessagePage.model_validate({"results": raw})
    except ValueError:
        return
    verdict = judge_email(
        THREAD,
        page.results,
        tenant="default",
        message_id=named,
        support_addresses=frozenset({"support@shop.example"}),
    )
    if isinstance(verdict, VerifiedUser):
        chosen = [m for m in page.results if m.id in verdict.record.evidence.split()]
        assert chosen and all(m.direction == "INCOMING" and m.channel_id == "1002" for m in chosen)
        # The verified address is the one sender's HS_EMAIL_ADDRESS, never a recipient's.
        assert any(
            len(m.senders) == 1
            and m.senders[0].delivery_identifier is not None
            and m.senders[0].delivery_identifier.type == "HS_EMAIL_ADDRESS"
            and _normalized(m.senders[0].delivery_identifier.value) == verdict.email
            and m.senders[0].actor_id in (None, f"V-{seed.DANA}", "A-1", "E-x")
            for m in chosen
        )
    else:
        assert verdict.reason


def _judge(actor: str, address: str) -> VerifiedUser | Refusal:
    """The verdict on a thread whose one message is an incoming email from ``actor``."""
    message = {
        "type": "MESSAGE",
        "id": "m1",
        "direction": "INCOMING",
        "channelId": "1002",
        "senders": [
            {
                "actorId": actor,
                "senderField": "FROM",
                "deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": address},
            }
        ],
    }
    return judge_email(
        THREAD,
        [Message.model_validate(message)],
        tenant="default",
        message_id=None,
        support_addresses=frozenset(),
    )


@settings(max_examples=100)
@given(
    contact_id=st.sampled_from([seed.DANA, seed.ANN, "1"]),
    address=addresses | st.none() | st.text(max_size=12),
    archived=st.booleans(),
)
def test_contact_cross_check_passes_only_the_senders_own_contact(
    contact_id: str, address: str | None, archived: bool
) -> None:
    verdict = _judge(f"V-{seed.DANA}", "Dana.Reyes@example.com")
    assert isinstance(verdict, VerifiedUser), verdict
    contact = Contact(id=contact_id, properties={"email": address}, archived=archived)
    confirmed = confirm_contact(verdict, THREAD, contact)
    matches = _normalized(address or "") == "dana.reyes@example.com"
    if contact_id == seed.DANA and not archived and matches:
        assert isinstance(confirmed, VerifiedUser)
        assert confirmed.email == verdict.email
        assert confirmed.record.evidence.startswith(verdict.record.evidence)
    else:
        assert isinstance(confirmed, Refusal) and "HubSpot thread" in confirmed.reason


def test_a_sender_who_is_another_contact_is_refused() -> None:
    verdict = _judge(f"V-{seed.ANN}", "ann@example.com")
    assert isinstance(verdict, Refusal) and "is not its contact" in verdict.reason


def test_plugin_is_importable_without_settings_errors() -> None:
    assert HubSpotPlugin.name == "hubspot"
