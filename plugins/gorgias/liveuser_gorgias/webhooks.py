"""Gorgias HTTP integrations ("webhooks"): unsigned, so only a hint to re-fetch the ticket.

Gorgias signs nothing it sends. The merchant configures the HTTP integration
with a custom header carrying a shared secret (``webhook_header``, default
``X-Liveuser-Token``) and a JSON form such as
``{"ticket_id": "{{ticket.id}}", "message_id": "{{ticket.last_message.id}}",
"updated_datetime": "{{ticket.updated_datetime}}"}``. :func:`read_delivery`
checks the secret in constant time and returns only the ticket id (the
message id and update time serve only to de-duplicate): nothing else in the
body is ever trusted. The connector then reads the ticket again through the
API before anything is decided.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from liveuser import Channel, Conversation, WebhookError
from liveuser.webhooks import SeenDeliveries

MAX_BODY_BYTES: Final = 64 * 1024
MAX_ID_DIGITS: Final = 20


@dataclass(frozen=True)
class TicketHint:
    """What a delivery may tell: which ticket to look at again."""

    ticket_id: str
    message_id: str | None

    def conversation(self, tenant: str) -> Conversation:
        """The ticket's conversation, with an empty payload: the ticket is always re-read."""
        return Conversation(
            tenant=tenant, channel=Channel.gorgias_ticket, conversation_id=self.ticket_id
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 10**MAX_ID_DIGITS:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS and int(text) > 0:
            return str(int(text))
    return None


def read_delivery(
    token: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    header: str = "X-Liveuser-Token",
    seen: SeenDeliveries | None = None,
    namespace: str = "",
) -> TicketHint:
    """Check the shared secret and read the ticket id; raise :class:`WebhookError` otherwise.

    A delivery naming a ``message_id`` (and ``updated_datetime``) already seen
    in ``seen`` is refused as a replay; without them, a replay can only cause
    one more re-check of the ticket's current state.
    """
    if not token:
        raise ValueError("the webhook token must not be empty")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("webhook body is too large")
    provided = _header(headers, header)
    if not provided:
        raise WebhookError(f"missing {header} header")
    if not hmac.compare_digest(provided.encode("utf-8"), token.encode("utf-8")):
        raise WebhookError(f"webhook {header} does not match")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("webhook body is not a JSON object")
    ticket = data.get("ticket")
    raw = data.get("ticket_id")
    if raw is None and isinstance(ticket, dict):
        raw = ticket.get("id")
    ticket_id = _id(raw)
    if ticket_id is None:
        raise WebhookError("webhook body names no ticket id")
    raw_message = data.get("message_id")
    message_id = None if raw_message in (None, "") else _id(raw_message)
    if raw_message not in (None, "") and message_id is None:
        raise WebhookError("webhook message_id is not a Gorgias id")
    updated = data.get("updated_datetime")
    if updated is not None and not (isinstance(updated, str) and len(updated) <= 64):
        raise WebhookError("webhook updated_datetime is not a timestamp")
    if message_id is not None and seen is not None:
        seen.check(f"{ticket_id}:{message_id}:{updated or ''}", namespace)
    return TicketHint(ticket_id=ticket_id, message_id=message_id)
