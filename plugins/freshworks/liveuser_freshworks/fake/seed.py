"""Seed records of the fake Freshdesk and Freshchat: one ticket or conversation per case.

Ticket ids name the case (see :data:`TICKETS`); Freshchat conversations are
UUIDs named by the ``CONV_*`` constants. Emails match the core sandbox's User
Data API seed users, so the demo shows their data once verified.
"""

from __future__ import annotations

from typing import Any, Final

SUPPORT_ADDRESS: Final = "support@acme.example"
CREATED: Final = "2026-11-25T10:00:00Z"

# Freshdesk contacts.
ANN, BOB, CHLOE, FRIEND, NOMAIL = 1000001001, 1000001002, 1000001003, 1000001004, 1000001005
ERIN, DAN = 1000001006, 1000001007

# Ticket ids, one per case.
EMAIL_VERIFIED: Final = 20
PORTAL: Final = 21
PHONE: Final = 22
CHAT: Final = 23
FEEDBACK_WIDGET: Final = 24
OUTBOUND_EMAIL: Final = 25
MOBIHELP: Final = 26
UNKNOWN_SOURCE: Final = 27
CCD: Final = 28
SPAM: Final = 29
DELETED: Final = 30
NO_EMAIL: Final = 31
MIXED_CASE: Final = 32
SELF_CC: Final = 33
DELETED_CONTACT: Final = 34
BLOCKED_CONTACT: Final = 35
SERVER_ERROR: Final = 500
MALFORMED: Final = 502
UNKNOWN: Final = 404404

CONTACTS: Final[dict[int, dict[str, Any]]] = {
    ANN: {"id": ANN, "name": "Ann Example", "email": "ann@example.com"},
    BOB: {"id": BOB, "name": "Bob Example", "email": "bob@example.com"},
    CHLOE: {"id": CHLOE, "name": "Chloe Example", "email": "Chloe@Example.com"},
    FRIEND: {"id": FRIEND, "name": "Friend of Ann", "email": "friend@example.org"},
    NOMAIL: {"id": NOMAIL, "name": "Caller Without Mail", "email": None},
    ERIN: {"id": ERIN, "name": "Erin Deleted", "email": "erin@example.com"},
    DAN: {"id": DAN, "name": "Dan Blocked", "email": "dan@example.com"},
}
"""Requester embeds (``include=requester``); full records are built by :func:`contact`."""

CONTACT_FLAGS: Final[dict[int, dict[str, Any]]] = {
    ERIN: {"deleted": True},
    DAN: {"blocked": True},
}


def contact(cid: int) -> dict[str, Any]:
    """The full ``GET /contacts/{id}`` record of a seed contact."""
    base = CONTACTS[cid]
    record: dict[str, Any] = {
        "id": cid,
        "active": base["email"] is not None,
        "name": base["name"],
        "email": base["email"],
        "other_emails": [],
        "phone": None,
        "mobile": None,
        "twitter_id": None,
        "unique_external_id": None,
        "company_id": None,
        "view_all_tickets": False,
        "language": "en",
        "time_zone": "Eastern Time (US & Canada)",
        "tags": [],
        "custom_fields": {},
        "created_at": "2026-01-10T08:00:00Z",
        "updated_at": CREATED,
    }
    record.update(CONTACT_FLAGS.get(cid, {}))
    return record


def _ticket(tid: int, requester: int, source: int, subject: str, **fields: Any) -> dict[str, Any]:
    email = source in (1, 10)
    record: dict[str, Any] = {
        "id": tid,
        "subject": subject,
        "description": f"<div>{subject}</div>",
        "description_text": subject,
        "source": source,
        "status": 2,
        "priority": 1,
        "type": None,
        "spam": False,
        "requester_id": requester,
        "responder_id": None,
        "group_id": None,
        "company_id": None,
        "product_id": None,
        "email_config_id": 1000000999 if email else None,
        "to_emails": [SUPPORT_ADDRESS] if email else None,
        "cc_emails": [],
        "fwd_emails": [],
        "reply_cc_emails": [],
        "fr_escalated": False,
        "is_escalated": False,
        "due_by": "2026-11-27T10:00:00Z",
        "fr_due_by": "2026-11-26T10:00:00Z",
        "tags": [],
        "custom_fields": {},
        "attachments": [],
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    record.update(fields)
    return record


TICKETS: Final[dict[int, dict[str, Any]]] = {
    t["id"]: t
    for t in [
        _ticket(EMAIL_VERIFIED, ANN, 1, "Where is my order #1001?"),
        _ticket(PORTAL, BOB, 2, "Order question from the portal"),
        _ticket(PHONE, BOB, 3, "Caller asked about an order"),
        _ticket(CHAT, ANN, 7, "Chat transcript"),
        _ticket(FEEDBACK_WIDGET, ANN, 9, "Feedback from the website"),
        _ticket(OUTBOUND_EMAIL, ANN, 10, "Your order has shipped"),
        _ticket(MOBIHELP, ANN, 8, "From the mobile app"),
        _ticket(UNKNOWN_SOURCE, ANN, 13, "From a new channel"),
        _ticket(CCD, ANN, 1, "Order for me and a friend", cc_emails=["friend@example.org"]),
        _ticket(SPAM, ANN, 1, "Cheap watches", spam=True),
        _ticket(DELETED, ANN, 1, "Deleted question", deleted=True),
        _ticket(NO_EMAIL, NOMAIL, 1, "No address on file"),
        _ticket(MIXED_CASE, CHLOE, 1, "Where is my parcel?"),
        _ticket(SELF_CC, BOB, 1, "Copying myself", cc_emails=["BOB@example.com"]),
        _ticket(DELETED_CONTACT, ERIN, 1, "From a deleted contact"),
        _ticket(BLOCKED_CONTACT, DAN, 1, "From a blocked contact"),
        _ticket(SERVER_ERROR, ANN, 1, "Boom"),
        _ticket(MALFORMED, ANN, 1, "Broken JSON"),
    ]
}

# Freshchat users and conversations.
USER_CHLOE: Final = "d108c12a-7e7d-474c-94d2-be08551c8401"
USER_BOB: Final = "d108c12a-7e7d-474c-94d2-be08551c8402"
USER_ANON: Final = "d108c12a-7e7d-474c-94d2-be08551c8403"
USER_FRIEND: Final = "d108c12a-7e7d-474c-94d2-be08551c8404"

CONV_CHLOE: Final = "7e673110-64fc-461f-bcec-cc8e9a47a501"
CONV_BOB: Final = "7e673110-64fc-461f-bcec-cc8e9a47a502"
CONV_ANON: Final = "7e673110-64fc-461f-bcec-cc8e9a47a503"
CONV_GROUP: Final = "7e673110-64fc-461f-bcec-cc8e9a47a504"
CONV_SERVER_ERROR: Final = "7e673110-64fc-461f-bcec-cc8e9a47a500"
CONV_MALFORMED: Final = "7e673110-64fc-461f-bcec-cc8e9a47a599"
CONV_UNKNOWN: Final = "7e673110-64fc-461f-bcec-000000000000"

APP_ID: Final = "d62390fd-87cd-4921-b52a-982245e0656c"
CHANNEL_ID: Final = "1aaf075f-9c7f-4a71-bf8f-a4e98f47d658"


def _user(uid: str, first: str, email: str | None, reference_id: str | None) -> dict[str, Any]:
    return {
        "id": uid,
        "created_time": "2026-11-25T09:58:58.902Z",
        "updated_time": "2026-11-25T09:59:10.117Z",
        "email": email,
        "first_name": first,
        "last_name": "Example",
        "phone": None,
        "reference_id": reference_id,
        "avatar": {"url": "https://example.com/avatar.png"},
        "properties": [{"name": "plan", "value": "Pro"}],
    }


CHAT_USERS: Final[dict[str, dict[str, Any]]] = {
    u["id"]: u
    for u in [
        _user(USER_CHLOE, "Chloe", "chloe@example.com", "cust-chloe"),
        _user(USER_BOB, "Bob", "bob@example.com", "cust-bob"),
        # An anonymous visitor who typed Ann's address into the pre-chat form.
        _user(USER_ANON, "Visitor", "ann@example.com", None),
        _user(USER_FRIEND, "Friend", "friend@example.org", "cust-friend"),
    ]
}


def _conversation(cid: str, users: list[str], *, legacy: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {
        "conversation_id": cid,
        "conversation_internal_id": 1019183591791880,
        "app_id": APP_ID,
        "status": "new",
        "channel_id": CHANNEL_ID,
        "skill_id": 0,
        "properties": {"priority": "Low"},
        "org_contact_id": "1940890452607479808",
        "created_time": "2026-11-25T10:00:59.088Z",
        "updated_time": "2026-11-25T10:01:55.536Z",
    }
    if legacy:
        record["users"] = [{"id": uid} for uid in users]
    else:
        record["user_id"] = users[0]
    return record


CONVERSATIONS: Final[dict[str, dict[str, Any]]] = {
    c["conversation_id"]: c
    for c in [
        _conversation(CONV_CHLOE, [USER_CHLOE]),
        _conversation(CONV_BOB, [USER_BOB], legacy=True),
        _conversation(CONV_ANON, [USER_ANON]),
        _conversation(CONV_GROUP, [USER_CHLOE, USER_FRIEND], legacy=True),
        _conversation(CONV_SERVER_ERROR, [USER_CHLOE]),
        _conversation(CONV_MALFORMED, [USER_CHLOE]),
    ]
}
