"""HTTP-integration deliveries: unsigned, so a shared secret in a header and a re-fetch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Fake, SetupFactory
from gorgias_strategies import header_values, json_values
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liveuser import Channel, ConfigError, Conversation, VerifiedUser, WebhookError
from liveuser.webhooks import SeenDeliveries
from liveuser_gorgias.fake import FAKE_WEBHOOK_TOKEN, seed
from liveuser_gorgias.webhooks import read_delivery

TOKEN = FAKE_WEBHOOK_TOKEN


def delivery(payload: Any, token: str = TOKEN) -> tuple[dict[str, str], bytes]:
    return {"X-Liveuser-Token": token, "Content-Type": "application/json"}, json.dumps(
        payload
    ).encode()


def test_delivery_gives_only_the_ticket_id() -> None:
    headers, body = delivery(
        {
            "ticket_id": str(seed.EMAIL_VERIFIED),
            "customer_email": "mallory@evil.example",
            "channel": "email",
        }
    )
    hint = read_delivery(TOKEN, headers, body)
    assert hint.ticket_id == str(seed.EMAIL_VERIFIED)
    conv = hint.conversation("default")
    assert conv.channel is Channel.gorgias_ticket
    assert conv.conversation_id == str(seed.EMAIL_VERIFIED)
    assert conv.payload == {}


@pytest.mark.parametrize(
    "payload",
    [{"ticket_id": 42}, {"ticket_id": " 42 "}, {"ticket": {"id": 42}}, {"ticket_id": "042"}],
)
def test_ticket_id_shapes(payload: dict[str, Any]) -> None:
    headers, body = delivery(payload)
    assert read_delivery(TOKEN, headers, body).ticket_id == "42"


def test_header_name_is_case_insensitive() -> None:
    _, body = delivery({"ticket_id": 42})
    assert read_delivery(TOKEN, {"x-liveuser-token": TOKEN}, body).ticket_id == "42"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"ticket_id": None},
        {"ticket_id": 0},
        {"ticket_id": -4},
        {"ticket_id": True},
        {"ticket_id": "4/../5"},
        {"ticket_id": "{{ticket.id}}"},
        {"ticket_id": 1.5},
        [42],
        "42",
    ],
)
def test_body_without_a_ticket_id_is_refused(payload: Any) -> None:
    headers, body = delivery(payload)
    with pytest.raises(WebhookError):
        read_delivery(TOKEN, headers, body)


def test_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(WebhookError, match="not JSON"):
        read_delivery(TOKEN, {"X-Liveuser-Token": TOKEN}, b"ticket_id=42")


def test_missing_token_is_refused() -> None:
    _, body = delivery({"ticket_id": 42})
    with pytest.raises(WebhookError, match="missing X-Liveuser-Token"):
        read_delivery(TOKEN, {"Content-Type": "application/json"}, body)


def test_oversized_body_is_refused() -> None:
    headers, _ = delivery({})
    with pytest.raises(WebhookError, match="too large"):
        read_delivery(TOKEN, headers, b" " * (64 * 1024 + 1))


def test_replayed_message_is_refused() -> None:
    seen = SeenDeliveries()
    headers, body = delivery(
        {"ticket_id": 42, "message_id": 7, "updated_datetime": "2026-11-02T09:40:11"}
    )
    read_delivery(TOKEN, headers, body, seen=seen)
    with pytest.raises(WebhookError, match="replayed"):
        read_delivery(TOKEN, headers, body, seen=seen)
    # A later update of the same ticket is a new delivery.
    _, later = delivery(
        {"ticket_id": 42, "message_id": 7, "updated_datetime": "2026-11-02T09:50:00"}
    )
    assert read_delivery(TOKEN, headers, later, seen=seen).ticket_id == "42"


@settings(max_examples=200)
@given(token=header_values)
def test_wrong_token_is_refused(token: str) -> None:
    assume(token != TOKEN)
    headers, body = delivery({"ticket_id": 42}, token=token)
    with pytest.raises(WebhookError):
        read_delivery(TOKEN, headers, body)


@settings(max_examples=200)
@given(payload=json_values)
def test_any_body_gives_a_ticket_id_or_a_webhook_error(payload: Any) -> None:
    headers, body = delivery(payload)
    try:
        hint = read_delivery(TOKEN, headers, body)
    except WebhookError:
        return
    assert hint.ticket_id.isdigit() and int(hint.ticket_id) > 0


async def test_delivery_drops_the_cached_verification_and_the_ticket_is_read_again(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    before = fake.requests
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    assert fake.requests - before == 1  # cached
    headers, body = delivery({"ticket_id": seed.EMAIL_VERIFIED, "customer": "mallory"})
    hinted = setup.plugin.receive_webhook(headers, body)
    assert hinted == conv
    assert isinstance(await setup.pipeline.verify(hinted), VerifiedUser)
    assert fake.requests - before == 2  # re-read through the API


async def test_webhook_without_a_configured_token_is_a_config_error(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(webhook_token=None)
    headers, body = delivery({"ticket_id": 42})
    with pytest.raises(ConfigError):
        setup.plugin.receive_webhook(headers, body)


async def test_plugin_uses_the_configured_header(make_setup: SetupFactory) -> None:
    setup = make_setup(webhook_header="X-Acme-Secret")
    _, body = delivery({"ticket_id": 42})
    with pytest.raises(WebhookError):
        setup.plugin.receive_webhook({"X-Liveuser-Token": TOKEN}, body)
    conv = setup.plugin.receive_webhook({"X-Acme-Secret": TOKEN}, body)
    assert conv.conversation_id == "42"


@settings(max_examples=50)
@given(extra=st.dictionaries(st.sampled_from(["email", "channel", "customer"]), json_values))
def test_extra_fields_never_reach_the_conversation(extra: dict[str, Any]) -> None:
    headers, body = delivery({"ticket_id": 42, **extra})
    conv = read_delivery(TOKEN, headers, body).conversation("default")
    assert conv.payload == {} and conv.claims == {}


async def test_served_webhook_checks_the_token_and_drops_the_verification(
    make_setup: SetupFactory, fake: Fake
) -> None:
    import httpx2

    from liveuser.serve import create_app

    setup = make_setup()
    registry = setup.pipeline.registry
    app = create_app(registry.settings, registry=registry, ledger=setup.pipeline.ledger)
    conv = Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    before = fake.requests
    assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
    path = "/webhooks/gorgias/default/"
    payload = {"ticket_id": seed.EMAIL_VERIFIED, "message_id": 991}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://serve") as client:
        forged_headers, body = delivery(payload, token="not-the-token")
        forged = await client.post(path, content=body, headers=forged_headers)
        assert forged.status_code == 401 and "does not match" in forged.json()["error"]
        assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
        assert fake.requests - before == 1  # a forged delivery drops nothing

        headers, body = delivery(payload)
        genuine = await client.post(path, content=body, headers=headers)
        assert genuine.status_code == 200
        named = {"channel": "gorgias_ticket", "conversation_id": str(seed.EMAIL_VERIFIED)}
        assert genuine.json() == {"conversations": [named]}
        assert isinstance(await setup.pipeline.verify(conv), VerifiedUser)
        assert fake.requests - before == 2  # the ticket was read again

        replay = await client.post(path, content=body, headers=headers)
        assert replay.status_code == 401
