"""Freshworks webhooks: checked before anything in them is believed.

**Freshchat** signs each delivery: ``X-Freshchat-Signature`` is the base64 of
an RSA PKCS#1 v1.5 signature with SHA-256 over the raw body, checked with the
public key from Freshchat's webhook settings (the ``cryptography`` library).
There is no timestamp or delivery id header, so :func:`verify_freshchat_webhook`
refuses a body whose ``action_time`` is outside the tolerance and a message
id seen before.

**Freshdesk** automation webhooks are not signed: the rule must send a long
shared secret in ``X-Liveuser-Token``, compared in constant time. The body is
only a hint naming the ticket: the connector re-fetches the ticket through the
API before trusting anything.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from liveuser import Channel, Conversation, WebhookError
from liveuser.webhooks import SeenDeliveries, check_timestamp

from .keys import load_public_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "ChatMessage",
    "TicketHint",
    "load_public_key",
    "verify_freshchat_webhook",
    "verify_freshdesk_webhook",
    "verify_rsa_signature",
]

SIGNATURE_HEADER: Final = "X-Freshchat-Signature"
TOKEN_HEADER: Final = "X-Liveuser-Token"
MAX_BODY_BYTES: Final = 1_000_000

_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_TICKET_ID: Final = re.compile(r"[0-9]{1,20}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("webhook body is not a JSON object")
    return data


def verify_rsa_signature(key: rsa.RSAPublicKey, body: bytes, signature: str | None) -> None:
    """Raise :class:`WebhookError` unless ``signature`` is Freshchat's signature of ``body``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    if not signature:
        raise WebhookError("missing X-Freshchat-Signature header")
    signature = signature.strip()
    if len(signature) > 2048 or not _BASE64.fullmatch(signature):
        raise WebhookError("malformed webhook signature: not base64")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("malformed webhook signature: invalid base64") from None
    try:
        key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise WebhookError("webhook signature does not match the body") from None


@dataclass(frozen=True)
class ChatMessage:
    """A user's message in a Freshchat conversation, from a genuine delivery."""

    message_id: str
    conversation_id: str
    user_id: str

    def conversation(self, tenant: str) -> Conversation:
        return Conversation(
            tenant=tenant,
            channel=Channel.freshchat,
            conversation_id=self.conversation_id,
            payload={"user_id": self.user_id},
        )


def parse_time(value: object) -> float:
    """Seconds since the epoch of an ISO 8601 time with a zone (``action_time``)."""
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise WebhookError("webhook action_time is missing or not an ISO 8601 time with a zone")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise WebhookError("webhook action_time is not a valid time") from None


def verify_freshchat_webhook(
    key: rsa.RSAPublicKey,
    headers: Mapping[str, str],
    body: bytes,
    *,
    seen: SeenDeliveries,
    tolerance: float = 300.0,
    now: float | None = None,
    namespace: str = "",
) -> ChatMessage | None:
    """Check a Freshchat delivery; the user message it reports, or None for other events.

    Raises :class:`liveuser.WebhookError` when it is forged, altered, stale,
    replayed or not a JSON object. ``body`` is the raw request body.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    verify_rsa_signature(key, body, _header(headers, SIGNATURE_HEADER))
    data = _json_object(body)
    check_timestamp(parse_time(data.get("action_time")), tolerance=tolerance, now=now)
    found = data.get("data")
    message = found.get("message") if isinstance(found, dict) else None
    message = message if isinstance(message, dict) else {}
    message_id = message.get("id")
    if isinstance(message_id, str) and 0 < len(message_id) <= 512:
        seen.check(message_id, f"{namespace}:freshchat")
    else:
        # No message id (another event): the signed body itself is the delivery id.
        seen.check(base64.b64encode(hashes_sha256(body)).decode("ascii"), f"{namespace}:body")
    actor = data.get("actor")
    actor_type = actor.get("actor_type") if isinstance(actor, dict) else None
    if data.get("action") != "message_create" or actor_type != "user":
        return None
    conversation_id = message.get("conversation_id")
    user_id = message.get("actor_id")
    if not (isinstance(conversation_id, str) and 0 < len(conversation_id) <= 200):
        return None
    if not (isinstance(user_id, str) and 0 < len(user_id) <= 200):
        return None
    if isinstance(actor, dict) and actor.get("actor_id") != user_id:
        return None
    return ChatMessage(message_id=str(message_id), conversation_id=conversation_id, user_id=user_id)


def hashes_sha256(body: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SHA256())
    digest.update(body)
    return digest.finalize()


@dataclass(frozen=True)
class TicketHint:
    """What a Freshdesk automation webhook names: only the ticket id is used."""

    ticket_id: str

    def conversation(self, tenant: str) -> Conversation:
        return Conversation(
            tenant=tenant, channel=Channel.freshdesk, conversation_id=self.ticket_id
        )


def verify_freshdesk_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    seen: SeenDeliveries,
    namespace: str = "",
) -> TicketHint | None:
    """Check a Freshdesk automation webhook's shared secret; the ticket it names.

    Returns None when the same (ticket id, ``updated_at``) was seen before.
    Raises :class:`liveuser.WebhookError` for a missing or wrong secret, a body
    that is not a JSON object, or no ticket id.
    """
    if not secret:
        raise ValueError("the Freshdesk webhook secret must not be empty")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    provided = _header(headers, TOKEN_HEADER)
    if not provided:
        raise WebhookError(f"missing {TOKEN_HEADER} header")
    if not hmac.compare_digest(provided.encode("utf-8"), secret.encode("utf-8")):
        raise WebhookError(f"webhook {TOKEN_HEADER} does not match")
    data = _json_object(body)
    ticket_id = _ticket_id(data.get("ticket_id"))
    if ticket_id is None:
        nested = data.get("freshdesk_webhook") or data.get("ticket")
        if isinstance(nested, dict):
            ticket_id = _ticket_id(nested.get("ticket_id") or nested.get("id"))
    if ticket_id is None:
        raise WebhookError("webhook body names no ticket_id")
    updated = data.get("updated_at")
    repeated = (
        isinstance(updated, str)
        and 0 < len(updated) <= 100
        and not seen.first_time(f"{ticket_id}:{updated}", f"{namespace}:freshdesk")
    )
    if repeated:
        return None
    return TicketHint(ticket_id=ticket_id)


def _ticket_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and _TICKET_ID.fullmatch(value) and int(value) > 0:
        return str(int(value))
    return None
