"""Support webhooks (HMAC-SHA256 over timestamp + body) and Messaging webhooks (X-API-Key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import SetupFactory
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from zendesk_strategies import header_values

from liveuser import Channel, Conversation, VerifiedUser, WebhookError
from liveuser.testing import served_app
from liveuser.webhooks import SeenDeliveries
from liveuser_zendesk.fake import FAKE_MESSAGING_WEBHOOK_SECRET, FAKE_WEBHOOK_SECRET, seed
from liveuser_zendesk.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_timestamp,
    verify_messaging_webhook,
    verify_support_webhook,
)

SECRET = FAKE_WEBHOOK_SECRET
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def stamp(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def delivery(payload: dict[str, Any], *, at: float | None = None) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    ts = stamp(at)
    return {SIGNATURE_HEADER: sign(body, ts), TIMESTAMP_HEADER: ts}, body


def event(kind: str, subject: str, **detail: Any) -> dict[str, Any]:
    return {
        "type": f"zen:event-type:{kind}",
        "account_id": 88888888,
        "id": f"01HV{time.time_ns()}",
        "time": stamp(),
        "zendesk_event_version": "2022-11-06",
        "subject": subject,
        "detail": detail,
        "event": {},
    }


def check(headers: dict[str, str], body: bytes, **kwargs: Any) -> Any:
    kwargs.setdefault("seen", SeenDeliveries())
    return verify_support_webhook(SECRET, headers, body, **kwargs)


def test_genuine_ticket_event_becomes_a_ticket_conversation() -> None:
    headers, body = delivery(event("ticket.comment_added", "zen:ticket:1001", id="1001"))
    found = check(headers, body)
    assert found.ticket_id == "1001"
    conv = found.conversation("default")
    assert conv == Conversation(channel=Channel.zendesk_ticket, conversation_id="1001")
    assert conv.payload == {}  # nothing from the delivery is carried as trusted data


def test_trigger_webhook_body_gives_the_ticket_id() -> None:
    headers, body = delivery({"ticket_id": "1007", "requester_email": "someone@else.example"})
    found = check(headers, body)
    assert found.type is None
    assert found.ticket_id == "1007"
    assert found.forgets_ticket


def test_header_names_are_case_insensitive() -> None:
    headers, body = delivery({"ticket_id": 1001})
    lowered = {k.lower(): v for k, v in headers.items()}
    assert check(lowered, body).ticket_id == "1001"


def test_the_docs_worked_example_verifies_as_timestamp_then_body() -> None:
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    body, ts = b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    now = parse_timestamp(ts)
    current = {
        SIGNATURE_HEADER: "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk=",
        TIMESTAMP_HEADER: ts,
    }
    verify_support_webhook(secret, current, body, seen=SeenDeliveries(), now=now)
    # The legacy page's signature is body + timestamp: documented discrepancy, refused.
    legacy = {
        SIGNATURE_HEADER: "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
        TIMESTAMP_HEADER: ts,
    }
    with pytest.raises(WebhookError, match="does not match"):
        verify_support_webhook(secret, legacy, body, seen=SeenDeliveries(), now=now)


@pytest.mark.parametrize("drop", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_missing_header_is_refused(drop: str) -> None:
    headers, body = delivery({"ticket_id": 1})
    del headers[drop]
    with pytest.raises(WebhookError, match="missing"):
        check(headers, body)


@pytest.mark.parametrize("age", [-400, 301, 3600 * 24])
def test_stale_or_future_timestamp_is_refused(age: float) -> None:
    headers, body = delivery({"ticket_id": 1}, at=time.time() - age)
    with pytest.raises(WebhookError, match="tolerance"):
        check(headers, body)


def test_replayed_delivery_is_refused() -> None:
    seen = SeenDeliveries()
    headers, body = delivery({"ticket_id": 1001})
    check(headers, body, seen=seen)
    with pytest.raises(WebhookError, match="replayed"):
        check(headers, body, seen=seen)


def test_event_redelivered_with_a_new_signature_is_refused_by_its_id() -> None:
    seen = SeenDeliveries()
    payload = event("ticket.comment_added", "zen:ticket:1001")
    check(*delivery(payload, at=time.time() - 1), seen=seen)
    with pytest.raises(WebhookError, match="replayed"):
        check(*delivery(payload), seen=seen)


def test_body_that_is_not_an_object_is_refused() -> None:
    ts = stamp()
    for body in (b"[1, 2]", b"not json", b'"x"'):
        with pytest.raises(WebhookError, match="JSON"):
            check({SIGNATURE_HEADER: sign(body, ts), TIMESTAMP_HEADER: ts}, body)


@settings(max_examples=200)
@given(signature=header_values)
def test_forged_signature_is_refused(signature: str) -> None:
    headers, body = delivery({"ticket_id": 1001})
    assume(signature != headers[SIGNATURE_HEADER])
    headers[SIGNATURE_HEADER] = signature
    with pytest.raises(WebhookError):
        check(headers, body)


@settings(max_examples=200)
@given(data=st.data())
def test_altered_body_is_refused(data: st.DataObject) -> None:
    headers, body = delivery({"ticket_id": 1001, "note": "hello"})
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    altered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(WebhookError):
        check(headers, altered)


@settings(max_examples=200)
@given(timestamp=header_values)
def test_altered_or_garbage_timestamp_is_refused(timestamp: str) -> None:
    headers, body = delivery({"ticket_id": 1001})
    assume(timestamp != headers[TIMESTAMP_HEADER])
    headers[TIMESTAMP_HEADER] = timestamp
    with pytest.raises(WebhookError):
        check(headers, body)


@settings(max_examples=100)
@given(secret=st.text(min_size=1, max_size=40))
def test_delivery_signed_with_another_secret_is_refused(secret: str) -> None:
    assume(secret != SECRET)
    body = b'{"ticket_id": 1001}'
    ts = stamp()
    with pytest.raises(WebhookError):
        check({SIGNATURE_HEADER: sign(body, ts, secret), TIMESTAMP_HEADER: ts}, body)


# -- through the plugin: forgetting stale verifications --------------------------


async def test_requester_change_drops_the_cached_verification(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    assert setup.tenant.cached_verification(conv) is not None
    headers, body = delivery(event("ticket.requester_changed", "zen:ticket:1001"))
    assert setup.plugin.receive_support_webhook(headers, body) == conv
    assert setup.tenant.cached_verification(conv) is None


async def test_comment_event_keeps_the_cached_verification(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    await setup.pipeline.verify(conv)
    setup.plugin.receive_support_webhook(
        *delivery(event("ticket.comment_added", "zen:ticket:1001"))
    )
    assert setup.tenant.cached_verification(conv) is not None


@pytest.mark.parametrize("kind", ["user.active_changed", "user.merged", "user.suspended_changed"])
async def test_user_suspension_or_merge_drops_that_users_verifications(
    make_setup: SetupFactory, kind: str
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    other = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_MIXED_CASE))
    await setup.pipeline.verify(conv)
    await setup.pipeline.verify(other)
    found = setup.plugin.receive_support_webhook(*delivery(event(kind, f"zen:user:{seed.ANN}")))
    assert found is None
    assert setup.tenant.cached_verification(conv) is None
    assert setup.tenant.cached_verification(other) is not None  # Chloe's is untouched


async def test_plugin_refuses_a_forged_webhook(make_setup: SetupFactory) -> None:
    headers, body = delivery({"ticket_id": 1001})
    headers[SIGNATURE_HEADER] = sign(body, headers[TIMESTAMP_HEADER], "guessed-secret")
    with pytest.raises(WebhookError):
        make_setup().plugin.receive_support_webhook(headers, body)


# -- Messaging webhooks ------------------------------------------------------------


def sunco(*events: dict[str, Any]) -> bytes:
    return json.dumps(
        {"app": {"id": "app"}, "webhook": {"id": "wh", "version": "v2"}, "events": list(events)}
    ).encode()


def message(event_id: str, conversation: str, user: str, author: str = "user") -> dict[str, Any]:
    return {
        "id": event_id,
        "createdAt": "2026-11-25T10:00:00.000Z",
        "type": "conversation:message",
        "payload": {
            "conversation": {"id": conversation, "type": "personal"},
            "message": {
                "id": f"m-{event_id}",
                "author": {"type": author, "userId": user, "user": {"authenticated": True}},
                "content": {"type": "text", "text": "Where is my order?"},
            },
        },
    }


def test_messaging_webhook_with_the_key_gives_hints_once() -> None:
    seen = SeenDeliveries()
    body = sunco(message("e1", "conv_bob", "sc_bob"), message("e2", "conv_bob", "biz", "business"))
    hints = verify_messaging_webhook(
        FAKE_MESSAGING_WEBHOOK_SECRET, {"X-API-Key": FAKE_MESSAGING_WEBHOOK_SECRET}, body, seen=seen
    )
    assert [(h.conversation_id, h.user_id) for h in hints] == [("conv_bob", "sc_bob")]
    again = verify_messaging_webhook(
        FAKE_MESSAGING_WEBHOOK_SECRET, {"x-api-key": FAKE_MESSAGING_WEBHOOK_SECRET}, body, seen=seen
    )
    assert again == []


@settings(max_examples=100)
@given(key=header_values)
def test_messaging_webhook_with_a_wrong_key_is_refused(key: str) -> None:
    assume(key != FAKE_MESSAGING_WEBHOOK_SECRET)
    with pytest.raises(WebhookError):
        verify_messaging_webhook(
            FAKE_MESSAGING_WEBHOOK_SECRET,
            {"X-API-Key": key},
            sunco(message("e1", "conv_bob", "sc_bob")),
            seen=SeenDeliveries(),
        )


async def test_messaging_hint_is_re_read_before_it_is_trusted(make_setup: SetupFactory) -> None:
    setup = make_setup()
    # A delivery claiming Bob wrote in the anonymous visitor's conversation.
    body = sunco(message("e-forged", "conv_anon", "sc_bob"))
    (conv,) = setup.plugin.receive_messaging_webhook(
        {"X-API-Key": FAKE_MESSAGING_WEBHOOK_SECRET}, body
    )
    assert conv.payload == {"user_id": "sc_bob"}
    verdict = await setup.pipeline.verify(conv)
    assert not isinstance(verdict, VerifiedUser)


@settings(max_examples=100, suppress_health_check=HEALTH, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4))
async def test_any_signed_body_is_handled_without_surprises(
    make_setup: SetupFactory, payload: dict[str, str]
) -> None:
    plugin = make_setup().plugin
    found = plugin.receive_support_webhook(*delivery(payload))
    assert found is None or found.channel is Channel.zendesk_ticket


# -- served: POST /webhooks/zendesk/<tenant>/support and /messaging ------------------

SUPPORT_PATH = "/webhooks/zendesk/default/support"
MESSAGING_PATH = "/webhooks/zendesk/default/messaging"


async def test_served_support_webhook_checks_the_signature_and_drops_the_verification(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    headers, body = delivery(event("ticket.requester_changed", f"zen:ticket:{seed.EMAIL_VERIFIED}"))
    forged_headers = {**headers, SIGNATURE_HEADER: sign(body, headers[TIMESTAMP_HEADER], "guess")}
    async with served_app(setup.pipeline) as client:
        forged = await client.post(SUPPORT_PATH, content=body, headers=forged_headers)
        assert forged.status_code == 401
        assert forged.json() == {"error": "webhook signature does not match the body"}
        assert setup.tenant.cached_verification(conv) is not None  # nothing dropped

        genuine = await client.post(SUPPORT_PATH, content=body, headers=headers)
        assert genuine.status_code == 200
        assert genuine.json() == {
            "conversations": [
                {"channel": "zendesk_ticket", "conversation_id": str(seed.EMAIL_VERIFIED)}
            ]
        }
        assert setup.tenant.cached_verification(conv) is None

        replay = await client.post(SUPPORT_PATH, content=body, headers=headers)
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]
        assert headers[SIGNATURE_HEADER] not in replay.text  # the signature is never echoed


async def test_served_user_event_names_no_conversation(make_setup: SetupFactory) -> None:
    setup = make_setup()
    headers, body = delivery(event("user.suspended_changed", f"zen:user:{seed.ANN}"))
    async with served_app(setup.pipeline) as client:
        answer = await client.post(SUPPORT_PATH, content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {}


async def test_served_messaging_webhook_checks_the_key_and_answers_each_message_once(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    body = sunco(message("e-served", "conv_anon", "sc_bob"))
    key = {"X-API-Key": FAKE_MESSAGING_WEBHOOK_SECRET}
    async with served_app(setup.pipeline) as client:
        wrong = await client.post(MESSAGING_PATH, content=body, headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "webhook X-API-Key does not match"}

        genuine = await client.post(MESSAGING_PATH, content=body, headers=key)
        assert genuine.status_code == 200
        assert genuine.json() == {
            "conversations": [{"channel": "zendesk_messaging", "conversation_id": "conv_anon"}]
        }
        # The author named in the delivery is a hint only and is never echoed.
        assert "sc_bob" not in genuine.text
        assert FAKE_MESSAGING_WEBHOOK_SECRET not in genuine.text

        # An event seen before is skipped, not refused: Sunshine Conversations
        # retries deliveries, and the rest of a batch may be new.
        again = await client.post(MESSAGING_PATH, content=body, headers=key)
        assert again.status_code == 200 and again.json() == {}


@pytest.mark.parametrize(
    ("path", "missing"),
    [(SUPPORT_PATH, "webhook_secret"), (MESSAGING_PATH, "messaging_webhook_secret")],
)
async def test_served_webhook_without_its_secret_is_not_configured(
    make_setup: SetupFactory, path: str, missing: str
) -> None:
    setup = make_setup(**{missing: None})
    headers, body = delivery({"ticket_id": seed.EMAIL_VERIFIED})
    async with served_app(setup.pipeline) as client:
        answer = await client.post(path, content=body, headers=headers)
    assert answer.status_code == 503
    assert answer.json() == {"error": "this webhook is not configured"}
