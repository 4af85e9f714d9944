"""Webhooks: X-Hub-Signature over the raw body, replays and staleness refused."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import Fake, SetupFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intercom_strategies import header_values, json_values, signatures

from liveuser import Channel, ConfigError, Conversation, Refusal, VerifiedUser, WebhookError
from liveuser.testing import served_app
from liveuser.webhooks import SeenDeliveries
from liveuser_intercom.demo import notification, sign
from liveuser_intercom.fake import FAKE_CLIENT_SECRET, seed
from liveuser_intercom.webhooks import BODY_KEY, SIGNATURE_KEY, verify_notification

NOTIF = iter(range(10**9))


def fresh_id() -> str:
    return f"notif_test-{next(NOTIF)}-{time.time_ns()}"


def body_for(cid: str = seed.EMAIL_VERIFIED, **kwargs: Any) -> bytes:
    kwargs.setdefault("notif_id", fresh_id())
    return notification(seed.conversation(cid), **kwargs)


def test_genuine_user_notification_becomes_the_conversation(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for()
    found = plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)
    assert found is not None
    assert found.channel is Channel.intercom
    assert found.conversation_id == seed.EMAIL_VERIFIED
    assert found.payload[BODY_KEY] == body.decode()


def test_header_name_is_case_insensitive(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for()
    assert plugin.receive_webhook({"x-hub-signature": sign(body)}, body) is not None


@pytest.mark.parametrize(
    ("signature", "words"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha256=" + "0" * 64, "prefix"),
        ("sha1=" + "0" * 40, "does not match"),
        ("sha1=abc", "malformed"),
    ],
)
def test_forged_signatures_are_rejected(
    make_setup: SetupFactory, signature: str | None, words: str
) -> None:
    plugin = make_setup().plugin
    body = body_for()
    headers = {} if signature is None else {"X-Hub-Signature": signature}
    with pytest.raises(WebhookError, match=words):
        plugin.receive_webhook(headers, body)


def test_altered_body_is_rejected(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for()
    altered = body.replace(b"ann@example.com", b"eve@example.com")
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_webhook({"X-Hub-Signature": sign(body)}, altered)


def test_signature_with_another_secret_is_rejected(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for()
    with pytest.raises(WebhookError):
        plugin.receive_webhook({"X-Hub-Signature": sign(body, "another-secret")}, body)


def test_replayed_notification_is_rejected(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for()
    plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)
    with pytest.raises(WebhookError, match="replayed"):
        plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)


def test_stale_notification_is_rejected(make_setup: SetupFactory) -> None:
    plugin = make_setup(webhook_max_age_seconds=600).plugin
    body = body_for(created_at=time.time() - 601)
    with pytest.raises(WebhookError, match="old"):
        plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)


def test_webhook_without_client_secret_is_a_config_error(make_setup: SetupFactory) -> None:
    plugin = make_setup(client_secret=None).plugin
    body = body_for()
    with pytest.raises(ConfigError, match="client_secret"):
        plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)


def test_other_topics_give_no_conversation(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = body_for(topic="conversation.admin.replied")
    assert plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body) is None


async def test_contact_deleted_forgets_cached_verifications(make_setup: SetupFactory) -> None:
    setup = make_setup()
    c = Conversation(channel=Channel.intercom, conversation_id=seed.EMAIL_VERIFIED)
    await setup.pipeline.context_for(c, message_id="m1")
    assert setup.tenant.cached_verification(c) is not None
    contact = {"type": "contact", "id": seed.ANN}
    body = notification(contact, topic="contact.deleted", notif_id=fresh_id())
    assert setup.plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body) is None
    assert setup.tenant.cached_verification(c) is None


async def test_signed_webhook_conversation_costs_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    body = body_for()
    c = setup.plugin.receive_webhook({"X-Hub-Signature": sign(body)}, body)
    assert c is not None
    before = fake.requests
    result = await setup.plugin.verify_user(conversation=c)
    assert isinstance(result, VerifiedUser), result
    assert fake.requests - before == 1
    assert fake.app.state.log[-1] == ("GET", f"/contacts/{seed.ANN}")


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda b, s: (b.replace(b"ann@example.com", b"eve@example.com"), s), "does not match"),
        (lambda b, s: (b, "sha1=" + "f" * 40), "does not match"),
        (lambda b, s: (b, None), "missing"),
    ],
)
async def test_forged_webhook_conversation_is_refused_without_requests(
    make_setup: SetupFactory, fake: Fake, mutate: Any, words: str
) -> None:
    setup = make_setup()
    body = body_for()
    new_body, signature = mutate(body, sign(body))
    payload: dict[str, Any] = {BODY_KEY: new_body.decode()}
    if signature is not None:
        payload[SIGNATURE_KEY] = signature
    c = Conversation(channel=Channel.intercom, conversation_id=seed.EMAIL_VERIFIED, payload=payload)
    before = fake.requests
    result = await setup.plugin.verify_user(conversation=c)
    assert isinstance(result, Refusal)
    assert "webhook refused" in result.reason and words in result.reason
    assert fake.requests == before


async def test_webhook_about_another_conversation_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    body = body_for(seed.EMAIL_VERIFIED)
    c = Conversation(
        channel=Channel.intercom,
        conversation_id=seed.MESSENGER_USER,
        payload={BODY_KEY: body.decode(), SIGNATURE_KEY: sign(body)},
    )
    result = await setup.plugin.verify_user(conversation=c)
    assert isinstance(result, Refusal)
    assert "another conversation" in result.reason


@given(signature=signatures, body=st.binary(max_size=200))
def test_any_unsigned_delivery_is_rejected(signature: str, body: bytes) -> None:
    with pytest.raises(WebhookError):
        verify_notification(
            FAKE_CLIENT_SECRET, body, signature, max_age=3600, seen=SeenDeliveries()
        )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values, extra=header_values)
def test_signed_bodies_of_any_shape_never_raise_anything_else(data: Any, extra: str) -> None:
    body = json.dumps({"payload": data, "extra": extra}).encode()
    with pytest.raises(WebhookError):
        verify_notification(FAKE_CLIENT_SECRET, body, sign(body), max_age=3600)


@given(
    item=json_values,
    topic=st.sampled_from(["conversation.user.created", "contact.deleted", "ping", ""]),
    age=st.floats(min_value=-10, max_value=7200),
)
def test_signed_notifications_give_a_notification_or_a_webhook_error(
    item: Any, topic: str, age: float
) -> None:
    now = 1_800_000_000.0
    body = json.dumps(
        {
            "type": "notification_event",
            "id": "notif_x",
            "topic": topic,
            "created_at": now - age,
            "data": {"item": item},
        }
    ).encode()
    try:
        found = verify_notification(FAKE_CLIENT_SECRET, body, sign(body), max_age=3600, now=now)
    except WebhookError:
        assert not topic or not isinstance(item, dict) or age > 3600
    else:
        assert found.topic == topic and age <= 3600


# -- served: POST /webhooks/intercom/<tenant>/ -----------------------------------------

PATH = "/webhooks/intercom/default/"


async def test_served_webhook_checks_the_signature_and_answers_the_conversation(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    body = body_for()
    async with served_app(setup.pipeline) as client:
        forged = await client.post(
            PATH, content=body, headers={"X-Hub-Signature": sign(body, "another-secret")}
        )
        assert forged.status_code == 401
        assert forged.json() == {"error": "webhook signature does not match the body"}

        genuine = await client.post(PATH, content=body, headers={"X-Hub-Signature": sign(body)})
        assert genuine.status_code == 200
        assert genuine.json() == {
            "conversations": [{"channel": "intercom", "conversation_id": seed.EMAIL_VERIFIED}]
        }
        assert sign(body) not in genuine.text and "ann@example.com" not in genuine.text

        replay = await client.post(PATH, content=body, headers={"X-Hub-Signature": sign(body)})
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]


async def test_served_contact_deletion_drops_the_verification_and_a_forgery_does_not(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    c = Conversation(channel=Channel.intercom, conversation_id=seed.EMAIL_VERIFIED)
    await setup.pipeline.context_for(c, message_id="m1")
    contact = {"type": "contact", "id": seed.ANN}
    body = notification(contact, topic="contact.deleted", notif_id=fresh_id())
    async with served_app(setup.pipeline) as client:
        forged = await client.post(
            PATH, content=body, headers={"X-Hub-Signature": sign(body, "another-secret")}
        )
        assert forged.status_code == 401
        assert setup.tenant.cached_verification(c) is not None

        genuine = await client.post(PATH, content=body, headers={"X-Hub-Signature": sign(body)})
        assert genuine.status_code == 200 and genuine.json() == {}
        assert setup.tenant.cached_verification(c) is None


async def test_served_webhook_without_the_client_secret_is_not_configured(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(client_secret=None)
    body = body_for()
    async with served_app(setup.pipeline) as client:
        answer = await client.post(PATH, content=body, headers={"X-Hub-Signature": sign(body)})
    assert answer.status_code == 503
    assert answer.json() == {"error": "this webhook is not configured"}
