"""HubSpot app webhooks: the v3 request signature, its replay window, the events.

HubSpot signs every delivery with ``X-HubSpot-Signature-v3``: base64 of
HMAC-SHA256, keyed with the app's client secret, over ``method + uri + body +
timestamp`` where ``uri`` is the full URL HubSpot called and ``timestamp`` the
``X-HubSpot-Request-Timestamp`` header (milliseconds since the epoch) taken
verbatim. A delivery older (or further in the future) than the replay window
is refused, and so is a second delivery of the same signature within it.
The v1/v2 headers (plain SHA-256, no timestamp) are ignored. A body over
:data:`MAX_BODY_BYTES` is refused before any signature work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from liveuser import WebhookError
from liveuser.webhooks import SeenDeliveries, check_timestamp, hmac_signature, verify_hmac

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_EVENTS = 1000
MAX_BODY_BYTES: Final = 1_000_000
"""The largest body checked (no HubSpot maximum is known); ``liveuser serve`` caps at 1 MB."""
FORGET_TYPES = frozenset(
    {"conversation.propertyChange", "conversation.deletion", "conversation.privacyDeletion"}
)


@dataclass(frozen=True)
class HubSpotEvent:
    """One conversation event of a genuine delivery."""

    subscription_type: str
    thread_id: str
    message_id: str | None = None
    message_type: str | None = None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name; None when absent or repeated ambiguously."""
    found = [v for k, v in headers.items() if k.lower() == name]
    return found[0] if len(found) == 1 else None


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The ``X-HubSpot-Signature-v3`` value HubSpot sends (for the demo and tests)."""
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return hmac_signature(secret, message, encoding="base64")


def verify_delivery(
    secret: str,
    method: str,
    uri: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_age: float = 300.0,
    now: float | None = None,
    seen: SeenDeliveries | None = None,
    namespace: str = "",
) -> list[HubSpotEvent]:
    """Check a delivery's v3 signature and window; return its conversation events.

    Raises :class:`liveuser.WebhookError` with a one-line reason for a body
    over :data:`MAX_BODY_BYTES` (before any signature work), a missing, forged
    or altered signature, a stale, future or unreadable timestamp, a replayed
    delivery, or a body that is not HubSpot's event array.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise WebhookError("HubSpot webhook has no X-HubSpot-Signature-v3 header")
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        raise WebhookError("HubSpot webhook has no valid X-HubSpot-Request-Timestamp header")
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    verify_hmac(secret, message, signature.strip(), encoding="base64")
    check_timestamp(timestamp, tolerance=max_age, now=now, unit="ms")
    if seen is not None:
        seen.check(signature.strip(), namespace, quote=False)
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookError("HubSpot webhook body is not JSON") from None
    if not isinstance(data, list) or len(data) > MAX_EVENTS:
        raise WebhookError("HubSpot webhook body is not an array of events")
    return [event for item in data if (event := _event(item)) is not None]


def _event(item: Any) -> HubSpotEvent | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("subscriptionType")
    object_id = item.get("objectId")
    if not isinstance(kind, str) or not kind.startswith("conversation."):
        return None
    if isinstance(object_id, bool) or not isinstance(object_id, int | str):
        return None
    thread_id = str(object_id)
    if not (thread_id.isascii() and thread_id.isdigit()) or len(thread_id) > 20:
        return None
    message_id = item.get("messageId")
    message_type = item.get("messageType")
    return HubSpotEvent(
        subscription_type=kind,
        thread_id=thread_id,
        message_id=message_id if isinstance(message_id, str) and message_id else None,
        message_type=message_type if isinstance(message_type, str) else None,
    )
