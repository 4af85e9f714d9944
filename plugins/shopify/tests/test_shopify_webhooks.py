"""Shopify webhooks: base64 HMAC-SHA256 of the raw body; replays caught by delivery id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SetupFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shopify_strategies import header_values

from liveuser import ConfigError, WebhookError
from liveuser.testing import served_app
from liveuser.webhooks import SeenDeliveries, hmac_signature
from liveuser_shopify.fake import FAKE_CLIENT_SECRET
from liveuser_shopify.webhooks import verify_webhook

BODY = json.dumps(
    {"id": 5843104260275, "name": "#1042", "customer": {"email": "alice@example.com"}}
).encode()


def signed(body: bytes = BODY, secret: str = FAKE_CLIENT_SECRET, **extra: str) -> dict[str, str]:
    headers = {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": hmac_signature(secret, body, encoding="base64"),
        "X-Shopify-Shop-Domain": "liveuser-demo.myshopify.com",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-API-Version": "2026-07",
    }
    headers.update(extra)
    return headers


def _verify(headers: dict[str, str], body: bytes = BODY, **kw: Any) -> Any:
    return verify_webhook([FAKE_CLIENT_SECRET], headers, body, seen=SeenDeliveries(), **kw)


def test_genuine_delivery_is_accepted() -> None:
    delivery = _verify(signed())
    assert delivery.topic == "orders/updated"
    assert delivery.customer_email == "alice@example.com"
    assert delivery.payload["name"] == "#1042"


def test_lowercase_headers_are_accepted() -> None:
    delivery = _verify({k.lower(): v for k, v in signed().items()})
    assert delivery.webhook_id


def test_altered_body_is_rejected() -> None:
    with pytest.raises(WebhookError, match="does not match"):
        _verify(signed(), BODY.replace(b"1042", b"1045"))


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookError):
        _verify(signed(secret="someone-else"))


def test_missing_signature_is_rejected() -> None:
    headers = signed()
    del headers["X-Shopify-Hmac-Sha256"]
    with pytest.raises(WebhookError, match="missing"):
        _verify(headers)


def test_replayed_delivery_is_rejected() -> None:
    seen = SeenDeliveries()
    verify_webhook([FAKE_CLIENT_SECRET], signed(), BODY, seen=seen)
    with pytest.raises(WebhookError, match="replayed"):
        verify_webhook([FAKE_CLIENT_SECRET], signed(), BODY, seen=seen)


def test_delivery_without_id_is_rejected() -> None:
    headers = signed()
    del headers["X-Shopify-Webhook-Id"]
    with pytest.raises(WebhookError, match="Webhook-Id"):
        _verify(headers)


def test_previous_secret_is_accepted_during_rotation() -> None:
    delivery = verify_webhook(
        ["new-secret", FAKE_CLIENT_SECRET], signed(), BODY, seen=SeenDeliveries()
    )
    assert delivery.topic == "orders/updated"


def test_delivery_from_another_shop_is_rejected() -> None:
    with pytest.raises(WebhookError, match="another shop"):
        _verify(signed(), shop_domain="acme.myshopify.com")


def test_signed_body_that_is_not_json_is_rejected() -> None:
    with pytest.raises(WebhookError, match="not JSON"):
        _verify(signed(b"not json"), b"not json")


def padded(size: int) -> bytes:
    """BODY with trailing JSON whitespace, ``size`` bytes long."""
    return BODY + b" " * (size - len(BODY))


async def test_body_over_a_million_bytes_is_refused_before_its_signature(
    make_setup: SetupFactory,
) -> None:
    """Called directly (no web server's cap in front), the check still bounds the body."""
    plugin = make_setup().plugin
    over = padded(1_000_001)
    with pytest.raises(WebhookError, match=r"^webhook body is too large$"):
        plugin.receive_webhook(signed(over), over)
    # Refused before the signature is looked for: a missing one is no different.
    unsigned = {k: v for k, v in signed(over).items() if k != "X-Shopify-Hmac-Sha256"}
    with pytest.raises(WebhookError, match=r"^webhook body is too large$"):
        plugin.receive_webhook(unsigned, over)


async def test_body_of_a_million_bytes_is_checked_as_usual(make_setup: SetupFactory) -> None:
    plugin = make_setup().plugin
    full = padded(1_000_000)
    with pytest.raises(WebhookError, match="does not match"):
        plugin.receive_webhook(signed(BODY), full)  # the signature of another body
    delivery = plugin.receive_webhook(signed(full), full)
    assert delivery.payload["name"] == "#1042"


async def test_plugin_receives_with_its_settings(make_setup: SetupFactory) -> None:
    setup = make_setup(previous_client_secret="old-secret")
    delivery = setup.plugin.receive_webhook(signed(secret="old-secret"), BODY)
    assert delivery.payload["id"] == 5843104260275
    with pytest.raises(WebhookError):
        setup.plugin.receive_webhook(signed(secret="old-secret"), BODY)


async def test_plugin_without_secret_is_a_config_error(make_setup: SetupFactory) -> None:
    setup = make_setup(client_secret=None)
    with pytest.raises(ConfigError):
        setup.plugin.receive_webhook(signed(), BODY)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signature=header_values, body=st.binary(max_size=200))
def test_any_other_signature_is_rejected(signature: str, body: bytes) -> None:
    genuine = hmac_signature(FAKE_CLIENT_SECRET, body, encoding="base64")
    if signature == genuine:
        return
    with pytest.raises(WebhookError):
        _verify(signed(body, **{"X-Shopify-Hmac-Sha256": signature}), body)


@settings(max_examples=100)
@given(flip=st.integers(min_value=0, max_value=len(BODY) * 8 - 1))
def test_any_flipped_bit_is_rejected(flip: int) -> None:
    altered = bytearray(BODY)
    altered[flip // 8] ^= 1 << (flip % 8)
    with pytest.raises(WebhookError):
        _verify(signed(), bytes(altered))


# -- served: POST /webhooks/shopify/<tenant>/ -------------------------------------------

PATH = "/webhooks/shopify/default/"


async def test_served_webhook_answers_the_topic_and_id_never_the_payload(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    headers = signed()
    async with served_app(setup.pipeline) as client:
        forged = await client.post(PATH, content=BODY, headers=signed(secret="someone-else"))
        assert forged.status_code == 401
        assert forged.json() == {"error": "webhook signature does not match the body"}

        genuine = await client.post(PATH, content=BODY, headers=headers)
        assert genuine.status_code == 200
        assert genuine.json() == {
            "topic": "orders/updated",
            "webhook_id": headers["X-Shopify-Webhook-Id"],
        }
        for private in ("alice@example.com", "#1042", headers["X-Shopify-Hmac-Sha256"]):
            assert private not in genuine.text

        replay = await client.post(PATH, content=BODY, headers=headers)
        assert replay.status_code == 401 and "replayed" in replay.json()["error"]


async def test_served_webhook_without_the_client_secret_is_not_configured(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(client_secret=None)
    async with served_app(setup.pipeline) as client:
        answer = await client.post(PATH, content=BODY, headers=signed())
    assert answer.status_code == 503
    assert answer.json() == {"error": "this webhook is not configured"}
