"""Intercom webhooks: checked before anything in them is believed.

Intercom signs the raw body: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(client
secret, body)>``. There is no signed timestamp, so :func:`verify_notification`
refuses a missing, forged or altered signature, a notification whose
``created_at`` is older than the allowed age, and (with a
:class:`~liveuser.webhooks.SeenDeliveries`) a notification ``id`` already
seen. A genuine ``conversation.user.created`` / ``conversation.user.replied``
becomes a :class:`liveuser.Conversation` that carries the raw body and its
signature, so ``verify_user`` checks the signature again itself and reads the
conversation from it instead of asking Intercom (one request saved).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from liveuser import Channel, Conversation, WebhookError
from liveuser.webhooks import SeenDeliveries, verify_hmac

SIGNATURE_HEADER: Final = "X-Hub-Signature"
SIGNATURE_PREFIX: Final = "sha1="
MAX_BODY_BYTES: Final = 1_000_000
BODY_KEY: Final = "intercom_webhook_body"
SIGNATURE_KEY: Final = "intercom_webhook_signature"

USER_TOPICS: Final = frozenset({"conversation.user.created", "conversation.user.replied"})
"""Topics where the end user wrote: the conversation is worth answering."""
FORGET_CONVERSATION_TOPICS: Final = frozenset(
    {"conversation.deleted", "conversation.contact.attached", "conversation.contact.detached"}
)
FORGET_CONTACT_TOPICS: Final = frozenset(
    {
        "contact.archived",
        "contact.deleted",
        "contact.email.updated",
        "contact.user.updated",
        "contact.lead.updated",
        "contact.lead.signed_up",
    }
)


@dataclass(frozen=True)
class Notification:
    """A genuine notification, reduced to what the connector uses."""

    id: str
    topic: str
    created_at: float
    item: Mapping[str, Any]

    @property
    def item_id(self) -> str | None:
        value = self.item.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return value if isinstance(value, str) and 0 < len(value) <= 100 else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_notification(
    secret: str,
    body: bytes,
    signature: str | None,
    *,
    max_age: float,
    now: float | None = None,
    seen: SeenDeliveries | None = None,
    namespace: str = "",
) -> Notification:
    """Check a delivery's signature, age and (with ``seen``) novelty; return it.

    Raises :class:`liveuser.WebhookError` when it is forged, altered, stale,
    replayed or not a notification.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    verify_hmac(secret, body, signature, algorithm="sha1", encoding="hex", prefix=SIGNATURE_PREFIX)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict) or data.get("type") != "notification_event":
        raise WebhookError("webhook body is not an Intercom notification")
    notif_id, topic, created = data.get("id"), data.get("topic"), data.get("created_at")
    if not isinstance(notif_id, str) or not 0 < len(notif_id) <= 200:
        raise WebhookError("webhook notification has no id")
    if not isinstance(topic, str) or not topic:
        raise WebhookError("webhook notification has no topic")
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise WebhookError("webhook notification has no created_at")
    age = (time.time() if now is None else now) - float(created)
    if age > max_age:
        raise WebhookError(
            f"webhook notification is {age:.0f}s old, beyond the {max_age:g}s allowed "
            "(possible replay)"
        )
    if age < -300:
        raise WebhookError("webhook notification is dated in the future (clock skew)")
    wrapper = data.get("data")
    item = wrapper.get("item") if isinstance(wrapper, dict) else None
    if not isinstance(item, dict):
        raise WebhookError("webhook notification carries no item")
    if seen is not None:
        seen.check(notif_id, f"{namespace}:intercom")
    return Notification(id=notif_id, topic=topic, created_at=float(created), item=item)


def conversation_for(
    tenant: str, notification: Notification, body: bytes, signature: str
) -> Conversation | None:
    """The conversation a user-topic notification is about, carrying the signed body."""
    if notification.topic not in USER_TOPICS or notification.item.get("type") != "conversation":
        return None
    cid = notification.item_id
    if cid is None:
        return None
    return Conversation(
        tenant=tenant,
        channel=Channel.intercom,
        conversation_id=cid,
        payload={BODY_KEY: body.decode("utf-8"), SIGNATURE_KEY: signature},
    )
