"""Shopify webhook deliveries: HMAC-SHA256 of the raw body, base64, in ``X-Shopify-Hmac-Sha256``.

Shopify signs with the app's client secret and no timestamp, so a replay is
caught by remembering ``X-Shopify-Webhook-Id`` (unique per delivery). During
a secret rotation both the new and the previous secret are accepted. A body
over :data:`MAX_BODY_BYTES` is refused before any signature work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from liveuser import WebhookError
from liveuser.webhooks import SeenDeliveries, verify_hmac

HMAC_HEADER = "x-shopify-hmac-sha256"
ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"
MAX_BODY_BYTES: Final = 1_000_000
"""The largest body checked: Shopify's cap for EventBridge deliveries (none known for HTTPS)."""


@dataclass(frozen=True)
class ShopifyDelivery:
    """A genuine delivery: its topic, shop, id and JSON body."""

    topic: str
    shop: str | None
    webhook_id: str
    payload: dict[str, Any]

    @property
    def customer_email(self) -> str | None:
        """The order's customer email (order topics), as Shopify recorded it."""
        customer = self.payload.get("customer")
        email = customer.get("email") if isinstance(customer, dict) else None
        email = email or self.payload.get("email")
        return email if isinstance(email, str) and email else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify_webhook(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    seen: SeenDeliveries,
    shop_domain: str | None = None,
    namespace: str = "",
) -> ShopifyDelivery:
    """Check a delivery; raise :class:`liveuser.WebhookError` for anything not genuine.

    A body over :data:`MAX_BODY_BYTES` is refused first. The signature is
    checked against every secret (current first), then the delivery id is
    recorded: a second delivery with the same id is a replay.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    if not secrets:
        raise WebhookError("no Shopify client secret to check the webhook with")
    signature = _header(headers, HMAC_HEADER)
    failure: WebhookError | None = None
    for secret in secrets:
        try:
            verify_hmac(secret, body, signature, encoding="base64")
        except WebhookError as exc:
            failure = failure or exc
        else:
            break
    else:
        assert failure is not None
        raise failure
    topic = _header(headers, TOPIC_HEADER)
    if not topic:
        raise WebhookError("Shopify webhook without an X-Shopify-Topic header")
    shop = _header(headers, SHOP_HEADER)
    if shop_domain is not None and (shop or "").lower() != shop_domain.lower():
        raise WebhookError(f"Shopify webhook from another shop: {(shop or '')[:100]!r}")
    webhook_id = _header(headers, ID_HEADER)
    if not webhook_id:
        raise WebhookError("Shopify webhook without an X-Shopify-Webhook-Id header")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookError("Shopify webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookError("Shopify webhook body is not a JSON object")
    seen.check(webhook_id, namespace)
    return ShopifyDelivery(topic=topic, shop=shop, webhook_id=webhook_id, payload=payload)
