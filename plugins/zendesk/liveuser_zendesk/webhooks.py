"""Zendesk webhooks: checked before anything in them is believed.

**Support webhooks** are signed: ``X-Zendesk-Webhook-Signature`` is
``base64(HMAC-SHA256(secret, timestamp + raw body))`` and
``X-Zendesk-Webhook-Signature-Timestamp`` the ISO 8601 UTC timestamp signed
with it. :func:`verify_support_webhook` refuses a missing, forged or altered
signature, a timestamp outside the tolerance, and a replay (the same signature,
or the same event id, seen before within the window).

**Messaging (Sunshine Conversations) webhooks** are not signed: the webhook's
secret comes verbatim in ``X-API-Key``. :func:`verify_messaging_webhook`
compares it in constant time and drops repeated event ids; what the delivery
says is only a hint: the connector re-reads the conversation and the user
through the API before trusting anything.

Either way a genuine delivery becomes a :class:`liveuser.Conversation` whose
payload carries nothing the connector trusts.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from liveuser import Channel, Conversation, WebhookError
from liveuser.webhooks import SeenDeliveries, check_timestamp, verify_hmac

SIGNATURE_HEADER: Final = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER: Final = "X-Zendesk-Webhook-Signature-Timestamp"
MESSAGING_KEY_HEADER: Final = "X-API-Key"
MAX_BODY_BYTES: Final = 1_000_000

FORGET_TICKET_EVENTS: Final = frozenset(
    {
        "zen:event-type:ticket.requester_changed",
        "zen:event-type:ticket.merged",
        "zen:event-type:ticket.email_ccs_changed",
        "zen:event-type:ticket.followers_changed",
        "zen:event-type:ticket.soft_deleted",
        "zen:event-type:ticket.permanently_deleted",
        "zen:event-type:ticket.marked_as_spam",
    }
)
"""Ticket events after which a cached verification of the ticket must not be reused."""

FORGET_USER_EVENTS: Final = frozenset(
    {
        "zen:event-type:user.active_changed",
        "zen:event-type:user.deleted",
        "zen:event-type:user.merged",
        "zen:event-type:user.suspended_changed",
        "zen:event-type:user.identity_changed",
        "zen:event-type:user.identity_created",
        "zen:event-type:user.identity_deleted",
        "zen:event-type:user.role_changed",
        "zen:event-type:user.external_id_changed",
    }
)
"""User events after which no cached verification of that user may be reused."""

_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_TICKET_SUBJECT: Final = re.compile(r"zen:ticket:([0-9]{1,20})")
_USER_SUBJECT: Final = re.compile(r"zen:user:([0-9]{1,20})")
_ID: Final = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class SupportEvent:
    """A genuine Support webhook delivery, reduced to what the connector uses."""

    type: str | None
    """``zen:event-type:…`` for event webhooks; None for trigger/automation bodies."""
    ticket_id: str | None
    user_id: str | None
    body: Mapping[str, Any]

    @property
    def forgets_ticket(self) -> bool:
        """A trigger body (no type) is a ticket update: verify the ticket again."""
        return self.ticket_id is not None and (
            self.type is None or self.type in FORGET_TICKET_EVENTS
        )

    @property
    def forgets_user(self) -> bool:
        return self.user_id is not None and self.type in FORGET_USER_EVENTS

    def conversation(self, tenant: str) -> Conversation | None:
        """The ticket conversation this delivery is about; its body is never the payload."""
        if self.ticket_id is None:
            return None
        return Conversation(
            tenant=tenant, channel=Channel.zendesk_ticket, conversation_id=self.ticket_id
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_timestamp(value: str | None) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp with a zone (``…Z``)."""
    if value is None or value == "":
        raise WebhookError("missing webhook timestamp")
    if not _ISO.fullmatch(value):
        raise WebhookError("webhook timestamp is not an ISO 8601 time with a zone")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise WebhookError("webhook timestamp is not a valid time") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("webhook body is not a JSON object")
    return data


def verify_support_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    seen: SeenDeliveries,
    tolerance: float = 300.0,
    now: float | None = None,
    namespace: str = "",
) -> SupportEvent:
    """Check a Support webhook delivery and return what it is about.

    Raises :class:`liveuser.WebhookError` when it is forged, altered, stale,
    replayed or not a JSON object. ``body`` is the raw request body.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    stamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    when = parse_timestamp(stamp)
    assert stamp is not None
    verify_hmac(secret, stamp.encode("utf-8") + body, signature, encoding="base64")
    check_timestamp(when, tolerance=tolerance, now=now)
    data = _json_object(body)
    assert signature is not None
    seen.check(signature, f"{namespace}:signature", quote=False)
    event_id = data.get("id")
    kind = data.get("type")
    if isinstance(kind, str) and kind.startswith("zen:event-type:") and isinstance(event_id, str):
        seen.check(event_id[:512] or "-", f"{namespace}:event")
    return _support_event(data)


def _support_event(data: dict[str, Any]) -> SupportEvent:
    kind = data.get("type")
    if isinstance(kind, str) and kind.startswith("zen:event-type:"):
        subject = data.get("subject")
        subject = subject if isinstance(subject, str) else ""
        found = data.get("detail")
        detail: dict[str, Any] = found if isinstance(found, dict) else {}
        ticket = _TICKET_SUBJECT.fullmatch(subject)
        user = _USER_SUBJECT.fullmatch(subject)
        ticket_id = ticket.group(1) if ticket else None
        user_id = user.group(1) if user else None
        if ticket_id is None and kind.startswith("zen:event-type:ticket."):
            ticket_id = _id(detail.get("id"))
        if user_id is None and kind.startswith("zen:event-type:user."):
            user_id = _id(detail.get("id"))
        return SupportEvent(type=kind, ticket_id=ticket_id, user_id=user_id, body=data)
    # A trigger or automation webhook: the admin wrote the body. Only the ticket id is used.
    ticket_field = data.get("ticket")
    nested = ticket_field.get("id") if isinstance(ticket_field, dict) else None
    ticket_id = _id(data.get("ticket_id")) or _id(nested)
    return SupportEvent(type=None, ticket_id=ticket_id, user_id=None, body=data)


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and _ID.fullmatch(value) and int(value) > 0:
        return value
    return None


@dataclass(frozen=True)
class MessagingHint:
    """A user's message in a Messaging conversation, as an unsigned delivery claims it."""

    event_id: str
    conversation_id: str
    user_id: str

    def conversation(self, tenant: str) -> Conversation:
        return Conversation(
            tenant=tenant,
            channel=Channel.zendesk_messaging,
            conversation_id=self.conversation_id,
            payload={"user_id": self.user_id},
        )


def verify_messaging_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    seen: SeenDeliveries,
    namespace: str = "",
) -> list[MessagingHint]:
    """Check a Messaging webhook's ``X-API-Key`` and list the user messages it reports.

    Events already seen, events that are not ``conversation:message`` from a
    ``user`` author, and malformed events are skipped. Raises
    :class:`liveuser.WebhookError` for a wrong key or a body that is not JSON.
    """
    if not secret:
        raise ValueError("the messaging webhook secret must not be empty")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    provided = _header(headers, MESSAGING_KEY_HEADER)
    if not provided:
        raise WebhookError("missing X-API-Key header")
    if not hmac.compare_digest(provided.encode("utf-8"), secret.encode("utf-8")):
        raise WebhookError("webhook X-API-Key does not match")
    data = _json_object(body)
    events = data.get("events")
    hints: list[MessagingHint] = []
    for event in events if isinstance(events, list) else []:
        hint = _messaging_hint(event)
        if hint is not None and seen.first_time(hint.event_id, f"{namespace}:messaging"):
            hints.append(hint)
    return hints


def _messaging_hint(event: object) -> MessagingHint | None:
    if not isinstance(event, dict) or event.get("type") != "conversation:message":
        return None
    event_id = event.get("id")
    payload = event.get("payload")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 512:
        return None
    if not isinstance(payload, dict):
        return None
    conversation = payload.get("conversation")
    message = payload.get("message")
    if not isinstance(conversation, dict) or not isinstance(message, dict):
        return None
    author = message.get("author")
    if not isinstance(author, dict) or author.get("type") != "user":
        return None
    conversation_id = conversation.get("id")
    user_id = author.get("userId")
    if not (isinstance(conversation_id, str) and 0 < len(conversation_id) <= 200):
        return None
    if not (isinstance(user_id, str) and 0 < len(user_id) <= 200):
        return None
    return MessagingHint(event_id=event_id, conversation_id=conversation_id, user_id=user_id)
