"""The fake HubSpot's records: threads, their messages, visitors and contacts.

Shapes follow HubSpot's ``PublicThread``, ``PublicConversationsMessage`` and
``SimplePublicObject`` (HubSpot's published Conversations and Contacts v3
descriptions); values are invented.
"""

from __future__ import annotations

from typing import Any, Final

PORTAL_ID: Final = 62515
SUPPORT_ADDRESS: Final = "support@shop.example"
EMAIL_ACCOUNT: Final = "240118377"
CHAT_ACCOUNT: Final = "148662"
INBOX: Final = "145980321"

DANA: Final = "90215536001"
ANN: Final = "90215536002"
BOB: Final = "90215536003"
EDITED: Final = "90215536004"
CLEARED: Final = "90215536005"
GONE: Final = "90215536009"
"""A contact id no contact has (merged or deleted since the mail came)."""

EMAIL_VERIFIED: Final = "7319246510"
EMAIL_CC: Final = "7319246511"
EMAIL_SPAM: Final = "7319246512"
EMAIL_WRONG_CONTACT: Final = "7319246513"
EMAIL_ARCHIVED: Final = "7319246514"
EMAIL_FORWARDED: Final = "7319246515"
EMAIL_CONTACT_CLEARED: Final = "7319246516"
EMAIL_CONTACT_GONE: Final = "7319246517"
CHAT_DANA: Final = "8400000001"
CHAT_TYPED_EMAIL: Final = "8400000002"
CHAT_GROUP: Final = "8400000003"
BROKEN: Final = "7000000500"
MALFORMED: Final = "7000000501"

CONTACTS: Final[dict[str, dict[str, Any]]] = {
    DANA: {"email": "dana.reyes@example.com", "firstname": "Dana", "lastname": "Reyes"},
    ANN: {"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"},
    BOB: {"email": "bob@example.com", "firstname": "Bob", "lastname": "Stone"},
    # An agent edited this contact's email: it no longer matches the mail's sender.
    EDITED: {"email": "chloe@example.com", "firstname": "Chloe", "lastname": None},
    # An agent cleared this contact's email.
    CLEARED: {"email": None, "firstname": "Eve", "lastname": "Moss"},
}


def _email(address: str, field: str, kind: str) -> dict[str, Any]:
    key = "senderField" if kind == "sender" else "recipientField"
    return {key: field, "deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": address}}


def email_message(
    thread: str,
    number: int,
    sender: str,
    contact: str | None,
    *,
    cc: tuple[str, ...] = (),
    direction: str = "INCOMING",
    minute: int = 14,
    extra_senders: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    first = {**_email(sender, "FROM", "sender"), "name": sender.split("@")[0].title()}
    if contact is not None:
        first["actorId"] = f"V-{contact}"
    to = SUPPORT_ADDRESS if direction == "INCOMING" else sender
    if direction == "OUTGOING":
        first = {**_email(SUPPORT_ADDRESS, "FROM", "sender"), "actorId": "A-2620022"}
        first["name"] = "Support"
    recipients = [{**_email(to, "TO", "recipient"), "name": "Support"}]
    recipients += [_email(addr, "CC", "recipient") for addr in cc]
    created = f"2026-11-20T09:{minute:02d}:03.112Z"
    return {
        "type": "MESSAGE",
        "id": f"{thread}m{number:02d}",
        "conversationsThreadId": thread,
        "createdAt": created,
        "updatedAt": created,
        "createdBy": first.get("actorId", "S-hubspot"),
        "client": {"clientType": "HUBSPOT" if direction == "OUTGOING" else "SYSTEM"},
        "senders": [first, *extra_senders],
        "recipients": recipients,
        "archived": False,
        "text": "Where is order #10442?",
        "richText": "<div>Where is order #10442?</div>",
        "attachments": [],
        "subject": "Order #10442",
        "truncationStatus": "NOT_TRUNCATED",
        "status": {"statusType": "SENT" if direction == "OUTGOING" else "RECEIVED"},
        "direction": direction,
        "channelId": "1002",
        "channelAccountId": EMAIL_ACCOUNT,
    }


def chat_message(thread: str, number: int, visitor: str, text: str) -> dict[str, Any]:
    created = f"2026-11-20T10:{number:02d}:59.949Z"
    return {
        "type": "MESSAGE",
        "id": f"{thread}c{number:02d}",
        "conversationsThreadId": thread,
        "createdAt": created,
        "updatedAt": created,
        "createdBy": f"V-{visitor}",
        "client": {"clientType": "SYSTEM"},
        "senders": [
            {
                "actorId": f"V-{visitor}",
                "deliveryIdentifier": {
                    "type": "CHANNEL_SPECIFIC_OPAQUE_ID",
                    "value": f"{int(visitor):032x}",
                },
            }
        ],
        "recipients": [],
        "archived": False,
        "text": text,
        "richText": f"<div>{text}</div>",
        "attachments": [],
        "truncationStatus": "NOT_TRUNCATED",
        "status": {"statusType": "RECEIVED"},
        "direction": "INCOMING",
        "channelId": "1000",
        "channelAccountId": CHAT_ACCOUNT,
    }


def welcome(thread: str, visitor: str) -> dict[str, Any]:
    return {
        "type": "WELCOME_MESSAGE",
        "id": f"{thread}w00",
        "conversationsThreadId": thread,
        "createdAt": "2026-11-20T10:00:00.000Z",
        "createdBy": "S-hubspot",
        "client": {"clientType": "SYSTEM"},
        "senders": [{"actorId": "S-hubspot"}],
        "recipients": [{"actorId": f"V-{visitor}", "recipientField": "TO"}],
        "archived": False,
        "text": "Hi! How can we help?",
        "channelId": "1000",
        "channelAccountId": CHAT_ACCOUNT,
    }


def thread(
    thread_id: str, contact: str, channel: str, *, spam: bool = False, archived: bool = False
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "createdAt": "2026-11-20T09:14:03.112Z",
        "status": "OPEN",
        "originalChannelId": channel,
        "originalChannelAccountId": EMAIL_ACCOUNT if channel == "1002" else CHAT_ACCOUNT,
        "latestMessageTimestamp": "2026-11-20T09:14:03.112Z",
        "spam": spam,
        "inboxId": INBOX,
        "associatedContactId": contact,
        "archived": archived,
    }


def build() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Fresh copies of the threads and their messages, by thread id."""
    threads = {
        EMAIL_VERIFIED: thread(EMAIL_VERIFIED, DANA, "1002"),
        EMAIL_CC: thread(EMAIL_CC, ANN, "1002"),
        EMAIL_SPAM: thread(EMAIL_SPAM, BOB, "1002", spam=True),
        EMAIL_WRONG_CONTACT: thread(EMAIL_WRONG_CONTACT, EDITED, "1002"),
        EMAIL_ARCHIVED: thread(EMAIL_ARCHIVED, BOB, "1002", archived=True),
        EMAIL_FORWARDED: thread(EMAIL_FORWARDED, ANN, "1002"),
        EMAIL_CONTACT_CLEARED: thread(EMAIL_CONTACT_CLEARED, CLEARED, "1002"),
        EMAIL_CONTACT_GONE: thread(EMAIL_CONTACT_GONE, GONE, "1002"),
        CHAT_DANA: thread(CHAT_DANA, DANA, "1000"),
        CHAT_TYPED_EMAIL: thread(CHAT_TYPED_EMAIL, ANN, "1000"),
        CHAT_GROUP: thread(CHAT_GROUP, DANA, "1000"),
        BROKEN: thread(BROKEN, DANA, "1002"),
        MALFORMED: thread(MALFORMED, DANA, "1002"),
    }
    forwarded_by = {
        "actorId": f"V-{BOB}",
        "senderField": "ORIGINAL_FROM",
        "deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": "bob@example.com"},
    }
    messages = {
        EMAIL_VERIFIED: [
            email_message(EMAIL_VERIFIED, 1, "dana.reyes@example.com", DANA),
            email_message(
                EMAIL_VERIFIED, 2, "dana.reyes@example.com", DANA, direction="OUTGOING", minute=20
            ),
            email_message(EMAIL_VERIFIED, 3, "Dana.Reyes@Example.com", DANA, minute=31),
        ],
        EMAIL_CC: [email_message(EMAIL_CC, 1, "ann@example.com", ANN, cc=("bob@example.com",))],
        EMAIL_SPAM: [email_message(EMAIL_SPAM, 1, "bob@example.com", BOB)],
        EMAIL_WRONG_CONTACT: [email_message(EMAIL_WRONG_CONTACT, 1, "ann@example.com", EDITED)],
        EMAIL_ARCHIVED: [email_message(EMAIL_ARCHIVED, 1, "bob@example.com", BOB)],
        EMAIL_FORWARDED: [
            email_message(EMAIL_FORWARDED, 1, "ann@example.com", ANN, extra_senders=(forwarded_by,))
        ],
        EMAIL_CONTACT_CLEARED: [
            email_message(EMAIL_CONTACT_CLEARED, 1, "eve.moss@example.com", CLEARED)
        ],
        EMAIL_CONTACT_GONE: [email_message(EMAIL_CONTACT_GONE, 1, "gail@example.com", GONE)],
        CHAT_DANA: [
            welcome(CHAT_DANA, DANA),
            chat_message(CHAT_DANA, 1, DANA, "where is my order?"),
        ],
        CHAT_TYPED_EMAIL: [
            welcome(CHAT_TYPED_EMAIL, ANN),
            chat_message(CHAT_TYPED_EMAIL, 1, ANN, "my email is ann@example.com"),
        ],
        CHAT_GROUP: [
            welcome(CHAT_GROUP, DANA),
            chat_message(CHAT_GROUP, 1, DANA, "hello"),
            chat_message(CHAT_GROUP, 2, BOB, "me too"),
            chat_message(CHAT_GROUP, 3, DANA, "where is my order?"),
        ],
        BROKEN: [],
        MALFORMED: [],
    }
    return threads, messages
