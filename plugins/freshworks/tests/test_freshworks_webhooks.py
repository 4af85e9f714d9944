"""Webhooks: Freshchat's RSA signature, replay window; Freshdesk's shared secret."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Fake, SetupFactory
from freshworks_strategies import header_values, json_values
from hypothesis import given, settings
from hypothesis import strategies as st

from liveuser import Channel, ConfigError, Conversation, WebhookError
from liveuser.testing import served_app
from liveuser.webhooks import SeenDeliveries
from liveuser_freshworks.fake import (
    FAKE_WEBHOOK_SECRET,
    seed,
    sign_freshchat_webhook,
    webhook_public_key_pem,
)
from liveuser_freshworks.webhooks import (
    load_public_key,
    verify_freshchat_webhook,
    verify_freshdesk_webhook,
    verify_rsa_signature,
)

# Public test vector from nyaruka/courier handlers/freshchat/handler_test.go.
COURIER_BODY = (
    b'{"actor":{"actor_type":"user","actor_id":"882f3926-b292-414b-a411-96380db373cd"},'
    b'"action":"message_create","action_time":"2019-06-21T17:43:20.875Z","data":{"message":'
    b'{"message_parts":[{"text":{"content":"Test 2"}}],"app_id":"55b190fa-5d3c-45c4-bc49-'
    b'74ddcfcf53d7","actor_id":"882f3926-b292-414b-a411-96380db373cd","id":"7a454fde-c720-'
    b'4c97-a61d-0ffe70449eb6","channel_id":"c8fddfaf-622a-4a0e-b060-4f3ccbeab606",'
    b'"conversation_id":"c327498e-f713-481e-8d83-0603e03d2521","message_type":"normal",'
    b'"actor_type":"user","created_time":"2019-06-21T17:43:20.866Z"}}}'
)
COURIER_KEY = (
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuGJLF4hTTtxWogT6dNkGf3CEgLAR2mGJzlds5cNbrHFo"
    "JNFnmVhkRYGzLYxx4EtDiezNCZVHfyMI2AKuNSQW2fEdDatVIG+q3Zr/X9eeDl8kQOGy804J/fgCYDrN8RQu0n5D"
    "h1inv4puca0wb29SCvoAwrWb33ehDBIvv6+rUKBdjtv2xTV65kNiVDo5VRCaYRVeE10osxeONgw55HVY4nczuxnR"
    "+dmc2282de6WHe5LXtr0ZBdJ8yttFOLIluZ/sNM5DIWZBkIWQhyT581tbA7bTpsIbrT/IMBlmioIILw8WGtI7zcm"
    "NkjU5dnq5HnlVKEDhj/Ug/dLiyno8+Vp7QIDAQAB\n"
    "-----END RSA PUBLIC KEY-----\n"
)
COURIER_SIGNATURE = (
    "AhrmypOSWoewHG6LmIRuWjxyokuMDmPklrSU9p0gpUNjdSRCJzvpL6rjuTi5poV/ZLzWRWNM7X9yWjT5m9YFPsh"
    "Yrvigcd1ph4Ot2xmaJGYoUNJHijQccE6oDtDIp6i/8oLRafHgObQnGukZWPbP9OE5EiKz/VcsMP0Wv7hawI/sfI"
    "viM0w+6fNOKXWi0jDBH9ap1mj5CqOUOojni7OD5iYmIrjV/h33dyNmbvAta9E+trzcEhYqxfHIN4Z8R2FsatfRH"
    "WicoQ4PE5cQ8+UONVya8qr85nQ9w8N7Ql7yNg9fEViYG4/W/JnGEbPPEf8WrYtKzoVyuupDz4mVHdfKWg=="
)
COURIER_TIME = datetime(2019, 6, 21, 17, 43, 30, tzinfo=UTC).timestamp()


def message_body(
    *, message_id: str = "m-1", action_time: str | None = None, actor_type: str = "user"
) -> bytes:
    stamp = action_time or datetime.now(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    body: dict[str, Any] = {
        "actor": {"actor_type": actor_type, "actor_id": seed.USER_CHLOE},
        "action": "message_create",
        "action_time": stamp,
        "data": {
            "message": {
                "message_parts": [{"text": {"content": "Where is my order?"}}],
                "app_id": seed.APP_ID,
                "actor_id": seed.USER_CHLOE,
                "id": message_id,
                "channel_id": seed.CHANNEL_ID,
                "conversation_id": seed.CONV_CHLOE,
                "message_type": "normal",
                "actor_type": actor_type,
                "created_time": stamp,
            }
        },
    }
    return json.dumps(body).encode()


def signed(body: bytes) -> dict[str, str]:
    return {"X-FreshChat-Signature": sign_freshchat_webhook(body)}


def test_courier_test_vector_verifies() -> None:
    key = load_public_key(COURIER_KEY)
    verify_rsa_signature(key, COURIER_BODY, COURIER_SIGNATURE)
    message = verify_freshchat_webhook(
        key,
        {"x-freshchat-signature": COURIER_SIGNATURE},
        COURIER_BODY,
        seen=SeenDeliveries(ttl=600),
        now=COURIER_TIME,
    )
    assert message is not None
    assert message.conversation_id == "c327498e-f713-481e-8d83-0603e03d2521"
    assert message.user_id == "882f3926-b292-414b-a411-96380db373cd"


def test_courier_vector_with_one_byte_changed_fails() -> None:
    key = load_public_key(COURIER_KEY)
    altered = COURIER_BODY.replace(b"Test 2", b"Test 3")
    with pytest.raises(WebhookError, match="does not match"):
        verify_rsa_signature(key, altered, COURIER_SIGNATURE)


def test_courier_vector_is_stale_today() -> None:
    with pytest.raises(WebhookError, match="possible replay"):
        verify_freshchat_webhook(
            load_public_key(COURIER_KEY),
            {"X-Freshchat-Signature": COURIER_SIGNATURE},
            COURIER_BODY,
            seen=SeenDeliveries(ttl=600),
        )


def test_fake_key_in_every_encoding_loads() -> None:
    pem = webhook_public_key_pem()
    assert load_public_key(pem).key_size == 2048
    bare = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert load_public_key(bare).key_size == 2048
    with pytest.raises(ValueError):
        load_public_key("-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----")
    with pytest.raises(ValueError):
        load_public_key(base64.b64encode(b"garbage").decode())


async def test_genuine_delivery_becomes_a_conversation(make_setup: SetupFactory) -> None:
    plugin = make_setup(webhooks=True).plugin
    body = message_body(message_id="genuine-1")
    conv = plugin.receive_freshchat_webhook(signed(body), body)
    assert conv == Conversation(
        channel=Channel.freshchat,
        conversation_id=seed.CONV_CHLOE,
        payload={"user_id": seed.USER_CHLOE},
    )


async def test_replayed_delivery_is_refused(make_setup: SetupFactory) -> None:
    plugin = make_setup(webhooks=True).plugin
    body = message_body(message_id="replayed-1")
    plugin.receive_freshchat_webhook(signed(body), body)
    with pytest.raises(WebhookError):
        plugin.receive_freshchat_webhook(signed(body), body)


async def test_forged_altered_and_stale_deliveries_are_refused(make_setup: SetupFactory) -> None:
    plugin = make_setup(webhooks=True).plugin
    body = message_body(message_id="forged-1")
    with pytest.raises(WebhookError, match="missing"):
        plugin.receive_freshchat_webhook({}, body)
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_freshchat_webhook({"X-Freshchat-Signature": COURIER_SIGNATURE}, body)
    altered = body.replace(b"Where is", b"Where's")
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_freshchat_webhook(signed(body), altered)
    old = message_body(message_id="old-1", action_time="2026-01-01T00:00:00.000Z")
    with pytest.raises(WebhookError, match="possible replay"):
        plugin.receive_freshchat_webhook(signed(old), old)


async def test_agent_message_is_no_conversation(make_setup: SetupFactory) -> None:
    plugin = make_setup(webhooks=True).plugin
    body = message_body(message_id="agent-1", actor_type="agent")
    assert plugin.receive_freshchat_webhook(signed(body), body) is None


async def test_freshchat_webhook_without_key_is_a_config_error(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = message_body(message_id="nokey-1")
    with pytest.raises(ConfigError):
        plugin.receive_freshchat_webhook(signed(body), body)


@settings(max_examples=100)
@given(signature=header_values, body=st.binary(max_size=200))
def test_any_unsigned_header_is_refused(signature: str, body: bytes) -> None:
    key = load_public_key(webhook_public_key_pem())
    with pytest.raises(WebhookError):
        verify_freshchat_webhook(
            key, {"X-Freshchat-Signature": signature}, body, seen=SeenDeliveries(ttl=60)
        )


@settings(max_examples=50)
@given(payload=json_values)
def test_any_signed_body_is_a_conversation_or_none_or_webhook_error(payload: Any) -> None:
    key = load_public_key(webhook_public_key_pem())
    body = json.dumps(payload).encode()
    try:
        result = verify_freshchat_webhook(key, signed(body), body, seen=SeenDeliveries(ttl=60))
    except WebhookError as exc:
        assert str(exc)
        return
    assert result is None or result.conversation_id


# -- Freshdesk automation webhooks ----------------------------------------------


def desk_headers(secret: str = FAKE_WEBHOOK_SECRET) -> dict[str, str]:
    return {"x-liveuser-token": secret, "Content-Type": "application/json"}


async def test_freshdesk_webhook_names_the_ticket_and_forgets_it(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(seed.EMAIL_VERIFIED))
    assert (await setup.pipeline.context_for(conv, message_id="m1")).verified
    before = fake.requests
    body = json.dumps({"ticket_id": seed.EMAIL_VERIFIED, "requester_email": "x@evil.example"})
    hinted = setup.plugin.receive_freshdesk_webhook(desk_headers(), body.encode())
    assert hinted == conv  # the body's other fields are never carried
    ctx = await setup.pipeline.context_for(hinted, message_id="m2")
    assert ctx.verified and "ann@example.com" in ctx.text
    assert fake.requests - before == 1  # re-fetched, not trusted


async def test_freshdesk_webhook_secret_is_required(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = b'{"ticket_id": 20}'
    with pytest.raises(WebhookError, match="missing"):
        plugin.receive_freshdesk_webhook({}, body)
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_freshdesk_webhook(desk_headers("wrong-secret-0123456789"), body)
    with pytest.raises(WebhookError, match="not JSON"):
        plugin.receive_freshdesk_webhook(desk_headers(), b"{")
    with pytest.raises(WebhookError, match="no ticket_id"):
        plugin.receive_freshdesk_webhook(desk_headers(), b'{"ticket_id": "../1"}')
    unset = make_setup(freshdesk_webhook_secret=None).plugin
    with pytest.raises(ConfigError):
        unset.receive_freshdesk_webhook(desk_headers(), body)


async def test_freshdesk_webhook_repeat_is_dropped(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    body = json.dumps({"ticket_id": "20", "updated_at": "2026-11-25T10:00:00Z"}).encode()
    assert plugin.receive_freshdesk_webhook(desk_headers(), body) is not None
    assert plugin.receive_freshdesk_webhook(desk_headers(), body) is None


@settings(max_examples=100)
@given(token=header_values, payload=json_values)
def test_any_freshdesk_delivery_without_the_secret_is_refused(token: str, payload: Any) -> None:
    body = json.dumps(payload).encode()
    seen = SeenDeliveries(ttl=60)
    if token == FAKE_WEBHOOK_SECRET:
        return
    with pytest.raises(WebhookError):
        verify_freshdesk_webhook(FAKE_WEBHOOK_SECRET, {"X-Liveuser-Token": token}, body, seen=seen)


# -- served: POST /webhooks/freshworks/<tenant>/freshchat and /freshdesk --------------

FRESHCHAT_PATH = "/webhooks/freshworks/default/freshchat"
FRESHDESK_PATH = "/webhooks/freshworks/default/freshdesk"


async def test_served_freshchat_webhook_checks_the_signature(make_setup: SetupFactory) -> None:
    setup = make_setup(webhooks=True)
    body = message_body(message_id="served-1")
    async with served_app(setup.pipeline) as client:
        forged = await client.post(
            FRESHCHAT_PATH, content=body, headers={"X-Freshchat-Signature": COURIER_SIGNATURE}
        )
        assert forged.status_code == 401 and "does not match" in forged.json()["error"]

        genuine = await client.post(FRESHCHAT_PATH, content=body, headers=signed(body))
        assert genuine.status_code == 200
        assert genuine.json() == {
            "conversations": [{"channel": "freshchat", "conversation_id": seed.CONV_CHLOE}]
        }
        # The user the delivery names is a hint for verification, never echoed.
        assert seed.USER_CHLOE not in genuine.text

        replay = await client.post(FRESHCHAT_PATH, content=body, headers=signed(body))
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]

        agent = message_body(message_id="served-agent", actor_type="agent")
        answer = await client.post(FRESHCHAT_PATH, content=agent, headers=signed(agent))
        assert answer.status_code == 200 and answer.json() == {}


async def test_served_freshdesk_webhook_checks_the_secret_and_drops_the_verification(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(seed.EMAIL_VERIFIED))
    assert (await setup.pipeline.context_for(conv, message_id="m1")).verified
    assert setup.tenant.cached_verification(conv) is not None
    payload = {"ticket_id": seed.EMAIL_VERIFIED, "updated_at": "2026-11-25T10:00:00Z"}
    body = json.dumps(payload).encode()
    async with served_app(setup.pipeline) as client:
        forged = await client.post(
            FRESHDESK_PATH, content=body, headers=desk_headers("wrong-secret-0123456789")
        )
        assert forged.status_code == 401
        assert forged.json() == {"error": "webhook X-Liveuser-Token does not match"}
        assert setup.tenant.cached_verification(conv) is not None  # nothing dropped

        genuine = await client.post(FRESHDESK_PATH, content=body, headers=desk_headers())
        assert genuine.status_code == 200
        assert genuine.json() == {
            "conversations": [{"channel": "freshdesk", "conversation_id": str(seed.EMAIL_VERIFIED)}]
        }
        assert FAKE_WEBHOOK_SECRET not in genuine.text
        assert setup.tenant.cached_verification(conv) is None

        # Freshdesk repeats a rule's call; the same update is acknowledged and ignored.
        again = await client.post(FRESHDESK_PATH, content=body, headers=desk_headers())
        assert again.status_code == 200 and again.json() == {}


@pytest.mark.parametrize(
    ("path", "options"),
    [(FRESHCHAT_PATH, {}), (FRESHDESK_PATH, {"freshdesk_webhook_secret": None})],
)
async def test_served_webhook_without_its_secret_is_not_configured(
    make_setup: SetupFactory, path: str, options: dict[str, Any]
) -> None:
    setup = make_setup(**options)
    body = message_body(message_id="unconfigured-1")
    headers = {**signed(body), **desk_headers()}
    async with served_app(setup.pipeline) as client:
        answer = await client.post(path, content=body, headers=headers)
    assert answer.status_code == 503
    assert answer.json() == {"error": "this webhook is not configured"}
