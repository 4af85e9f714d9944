"""HubSpot v3 webhook signatures: genuine deliveries pass, forged, altered or replayed ones fail."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Fake, SetupFactory
from hubspot_strategies import header_values
from hypothesis import given, settings
from hypothesis import strategies as st

from liveuser import Channel, Conversation, ConversationKey, VerifiedUser, WebhookError
from liveuser.testing import served_app
from liveuser.webhooks import SeenDeliveries
from liveuser_hubspot.fake import FAKE_CLIENT_SECRET, seed
from liveuser_hubspot.plugin import conversation_for
from liveuser_hubspot.webhooks import sign, verify_delivery

URI = "https://liveuser.example/hooks/hubspot"


def delivery(*events: dict[str, object]) -> bytes:
    return json.dumps(list(events), separators=(",", ":")).encode()


NEW_MESSAGE = {
    "eventId": 4242,
    "subscriptionId": 12345,
    "portalId": seed.PORTAL_ID,
    "appId": 54321,
    "occurredAt": 1764086399000,
    "subscriptionType": "conversation.newMessage",
    "attemptNumber": 0,
    "objectId": int(seed.EMAIL_VERIFIED),
    "messageId": f"{seed.EMAIL_VERIFIED}m03",
    "messageType": "MESSAGE",
    "changeFlag": "NEW_MESSAGE",
}


def signed(body: bytes, *, ts: int | None = None, method: str = "POST") -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if ts is None else ts)
    return {
        "X-HubSpot-Signature-v3": sign(FAKE_CLIENT_SECRET, method, URI, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def test_signature_matches_a_worked_example_of_the_v3_rule() -> None:
    body = (
        b'[{"eventId":4242,"subscriptionId":12345,"portalId":62515,"appId":54321,'
        b'"occurredAt":1764086399000,"subscriptionType":"conversation.newMessage",'
        b'"attemptNumber":0,"objectId":7319246510,"messageId":"b7c1e2f0a9d84c3e8f1a2b3c4d5e6f70",'
        b'"messageType":"MESSAGE","changeFlag":"NEW_MESSAGE"}]'
    )
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    uri = "https://www.example.com/webhook_uri"
    expected = "8dP1/9glBNZ9CYOKu3TDVN5klCjNiz/Elp+K7BSIkdI="
    assert sign(secret, "POST", uri, body, "1764086400000") == expected
    headers = {"X-HubSpot-Signature-V3": expected, "X-HubSpot-Request-Timestamp": "1764086400000"}
    events = verify_delivery(secret, "POST", uri, headers, body, now=1764086400.0 + 60)
    assert events[0].thread_id == "7319246510" and events[0].message_type == "MESSAGE"


async def test_genuine_new_message_delivery_answers_its_thread(make_setup: SetupFactory) -> None:
    setup = make_setup()
    body = delivery(NEW_MESSAGE)
    events = setup.plugin.receive_webhook("POST", URI, signed(body), body)
    assert len(events) == 1
    conv = conversation_for("default", events[0], Channel.hubspot_email)
    assert conv.payload == {"message_id": f"{seed.EMAIL_VERIFIED}m03"}
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal


def test_replayed_delivery_is_refused(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = delivery(NEW_MESSAGE)
    headers = signed(body)
    plugin.receive_webhook("POST", URI, headers, body)
    with pytest.raises(WebhookError, match="replayed"):
        plugin.receive_webhook("POST", URI, headers, body)


def test_stale_delivery_is_refused(make_setup: SetupFactory) -> None:
    body = delivery(NEW_MESSAGE)
    old = int((time.time() - 301) * 1000)
    with pytest.raises(WebhookError):
        make_setup().plugin.receive_webhook("POST", URI, signed(body, ts=old), body)


def test_future_delivery_is_refused(make_setup: SetupFactory) -> None:
    body = delivery(NEW_MESSAGE)
    later = int((time.time() + 3600) * 1000)
    with pytest.raises(WebhookError):
        make_setup().plugin.receive_webhook("POST", URI, signed(body, ts=later), body)


def padded(size: int) -> bytes:
    """A one-event delivery with trailing JSON whitespace, ``size`` bytes long."""
    body = delivery(NEW_MESSAGE)
    return body + b" " * (size - len(body))


def test_body_over_a_million_bytes_is_refused_before_its_signature(
    make_setup: SetupFactory,
) -> None:
    """Called directly (no web server's cap in front), the check still bounds the body."""
    plugin = make_setup().plugin
    over = padded(1_000_001)
    with pytest.raises(WebhookError, match=r"^webhook body is too large$"):
        plugin.receive_webhook("POST", URI, signed(over), over)
    # Refused before the headers are even read: no signature to check is no different.
    with pytest.raises(WebhookError, match=r"^webhook body is too large$"):
        plugin.receive_webhook("POST", URI, {}, over)


def test_body_of_a_million_bytes_is_checked_as_usual(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    full = padded(1_000_000)
    forged = signed(delivery(NEW_MESSAGE))  # the signature of another body
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_webhook("POST", URI, forged, full)
    events = plugin.receive_webhook("POST", URI, signed(full), full)
    assert [e.thread_id for e in events] == [seed.EMAIL_VERIFIED]


def test_property_change_drops_the_cached_verification(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    forgotten: list[ConversationKey] = []
    plugin._runtime = plugin.runtime.__class__(
        **{**plugin.runtime.__dict__, "forget_verification": forgotten.append}
    )
    event = {**NEW_MESSAGE, "subscriptionType": "conversation.propertyChange"}
    body = delivery(event)
    plugin.receive_webhook("POST", URI, signed(body), body)
    assert {k.channel for k in forgotten} == {Channel.hubspot_email, Channel.hubspot_chat}
    assert {k.conversation_id for k in forgotten} == {seed.EMAIL_VERIFIED}


@settings(max_examples=100)
@given(
    part=st.sampled_from(["body", "uri", "method", "timestamp", "secret"]),
    noise=st.binary(min_size=1, max_size=8),
)
def test_any_alteration_is_refused(part: str, noise: bytes) -> None:
    body = delivery(NEW_MESSAGE)
    stamp = str(int(time.time() * 1000))
    secret, method, uri = FAKE_CLIENT_SECRET, "POST", URI
    signature = sign(secret, method, uri, body, stamp)
    if part == "body":
        body = body + noise
    elif part == "uri":
        uri = uri + "/" + noise.hex()
    elif part == "method":
        method = "PUT"
    elif part == "timestamp":
        stamp = str(int(stamp) - 1 - noise[0])
    else:
        secret = secret + noise.hex()
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    with pytest.raises(WebhookError):
        verify_delivery(secret, method, uri, headers, body, seen=SeenDeliveries())


@settings(max_examples=100)
@given(signature=header_values, stamp=header_values)
def test_any_header_values_are_refused_not_raised(signature: str, stamp: str) -> None:
    body = delivery(NEW_MESSAGE)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    with pytest.raises(WebhookError):
        verify_delivery(FAKE_CLIENT_SECRET, "POST", URI, headers, body)


@settings(max_examples=100)
@given(body=st.binary(max_size=200))
def test_any_signed_body_is_events_or_a_webhook_error(body: bytes) -> None:
    try:
        events = verify_delivery(FAKE_CLIENT_SECRET, "POST", URI, signed(body), body)
    except WebhookError:
        return
    assert all(e.thread_id.isdigit() for e in events)


async def test_new_message_event_finds_its_channel_in_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    chat_event = {
        **NEW_MESSAGE,
        "objectId": int(seed.CHAT_DANA),
        "messageId": f"{seed.CHAT_DANA}c01",
    }
    body = delivery(NEW_MESSAGE, chat_event, {**NEW_MESSAGE, "messageType": "COMMENT"})
    events = setup.plugin.receive_webhook("POST", URI, signed(body), body)
    before = fake.requests
    convs = [await setup.plugin.conversation_for_event(e) for e in events]
    assert fake.requests - before == 2
    assert convs[0] is not None and convs[0].channel is Channel.hubspot_email
    assert convs[1] is not None and convs[1].channel is Channel.hubspot_chat
    assert convs[1].conversation_id == seed.CHAT_DANA
    assert convs[2] is None


async def test_event_about_an_unknown_message_gives_no_conversation(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    for message_id in ("nope", "../x"):
        body = delivery({**NEW_MESSAGE, "messageId": message_id})
        (event,) = setup.plugin.receive_webhook("POST", URI, signed(body), body)
        assert await setup.plugin.conversation_for_event(event) is None


# -- served: POST /webhooks/hubspot/<tenant>/ -------------------------------------------

PATH = "/webhooks/hubspot/default/"


async def test_served_webhook_checks_the_signature_over_the_public_url(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(webhook_url=URI)
    conv = Conversation(channel=Channel.hubspot_email, conversation_id=seed.EMAIL_VERIFIED)
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    body = delivery(NEW_MESSAGE, {**NEW_MESSAGE, "subscriptionType": "conversation.propertyChange"})
    headers = signed(body)
    stamp = headers["X-HubSpot-Request-Timestamp"]
    elsewhere = sign(FAKE_CLIENT_SECRET, "POST", "https://other.example/hook", body, stamp)
    async with served_app(setup.pipeline) as client:
        for forged in (sign("not-the-secret", "POST", URI, body, stamp), elsewhere):
            refused = await client.post(
                PATH, content=body, headers={**headers, "X-HubSpot-Signature-v3": forged}
            )
            assert refused.status_code == 401
            assert refused.json() == {"error": "webhook signature does not match the body"}
        assert setup.tenant.cached_verification(conv) is not None  # nothing dropped

        genuine = await client.post(PATH, content=body, headers=headers)
        assert genuine.status_code == 200
        assert genuine.json() == {
            "events": [
                {"subscription_type": "conversation.newMessage", "thread_id": seed.EMAIL_VERIFIED},
                {
                    "subscription_type": "conversation.propertyChange",
                    "thread_id": seed.EMAIL_VERIFIED,
                },
            ]
        }
        assert NEW_MESSAGE["messageId"] not in genuine.text
        assert setup.tenant.cached_verification(conv) is None

        replay = await client.post(PATH, content=body, headers=headers)
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]
        assert headers["X-HubSpot-Signature-v3"] not in replay.text


@pytest.mark.parametrize(
    "options", [{}, {"webhook_url": URI, "client_secret": None}], ids=["no url", "no secret"]
)
async def test_served_webhook_without_its_url_or_secret_is_not_configured(
    make_setup: SetupFactory, options: dict[str, object]
) -> None:
    setup = make_setup(**options)
    body = delivery(NEW_MESSAGE)
    async with served_app(setup.pipeline) as client:
        answer = await client.post(PATH, content=body, headers=signed(body))
    assert answer.status_code == 503
    assert answer.json() == {"error": "this webhook is not configured"}
