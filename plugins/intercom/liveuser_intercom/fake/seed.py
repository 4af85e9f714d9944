"""Seed records of the fake Intercom: one conversation per case.

Conversation ids name the case (see :data:`CONVERSATIONS`). Emails match the
core sandbox's User Data API seed users, so the demo shows their data once
verified. Shapes follow Intercom's API 2.15 description.
"""

from __future__ import annotations

import copy
from typing import Any, Final

WORKSPACE: Final = "ecahpwf5"
CREATED: Final = 1793610000  # 2026-11-02

# Contact ids.
ANN, BOB, CHLOE, LEAD, NOEXT, NOMAIL, FRIEND, GONE = (
    "6a1f00000000000000000a01",
    "6a1f00000000000000000b02",
    "6a1f00000000000000000c03",
    "6a1f00000000000000000d04",
    "6a1f00000000000000000e05",
    "6a1f00000000000000000f06",
    "6a1f000000000000000001a7",
    "6a1f000000000000000001b8",
)
ADMIN_ID: Final = "991267"

# Conversation ids, one per case.
EMAIL_VERIFIED: Final = "201"
MESSENGER_USER: Final = "202"
MESSENGER_CHLOE: Final = "203"
LEAD_CHAT: Final = "204"
USER_WITHOUT_EXTERNAL_ID: Final = "205"
EMAIL_OTHER_SENDER: Final = "206"
OUTBOUND: Final = "207"
GROUP: Final = "208"
WHATSAPP: Final = "209"
USER_WITHOUT_EMAIL: Final = "210"
ARCHIVED_CONTACT: Final = "211"
SERVER_ERROR: Final = "500"
MALFORMED: Final = "502"
UNKNOWN: Final = "404404"


def _contact(cid: str, role: str, email: str, external_id: str | None, name: str) -> dict[str, Any]:
    return {
        "type": "contact",
        "id": cid,
        "external_id": external_id,
        "workspace_id": WORKSPACE,
        "role": role,
        "email": email,
        "email_domain": email.partition("@")[2],
        "phone": None,
        "name": name,
        "owner_id": None,
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "created_at": CREATED - 86400,
        "updated_at": CREATED,
        "signed_up_at": CREATED - 86400 if role == "user" else None,
        "last_seen_at": CREATED,
        "last_replied_at": CREATED,
        "last_contacted_at": None,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": None,
        "browser": "chrome",
        "browser_version": "131.0.0.0",
        "browser_language": "en",
        "os": "OS X 10.15.7",
        "custom_attributes": {},
        "avatar": None,
        "tags": {
            "type": "list",
            "data": [],
            "url": f"/contacts/{cid}/tags",
            "total_count": 0,
            "has_more": False,
        },
        "notes": {
            "type": "list",
            "data": [],
            "url": f"/contacts/{cid}/notes",
            "total_count": 0,
            "has_more": False,
        },
        "companies": {
            "type": "list",
            "data": [],
            "url": f"/contacts/{cid}/companies",
            "total_count": 0,
            "has_more": False,
        },
        "location": {
            "type": "location",
            "country": "United Kingdom",
            "region": "England",
            "city": "London",
        },
        "social_profiles": {"type": "list", "data": []},
        "enabled_push_messaging": None,
    }


CONTACTS: Final[dict[str, dict[str, Any]]] = {
    c["id"]: c
    for c in [
        _contact(ANN, "user", "ann@example.com", "cust-ann", "Ann Example"),
        _contact(BOB, "user", "bob@example.com", "cust-bob", "Bob Example"),
        _contact(CHLOE, "user", "chloe@example.com", "cust-chloe", "Chloe Example"),
        # A Messenger visitor who typed Ann's address: a lead, self-asserted.
        _contact(LEAD, "lead", "ann@example.com", None, "Visitor 4821"),
        _contact(NOEXT, "user", "dan@example.com", None, "Dan Imported"),
        _contact(NOMAIL, "user", "", "cust-nomail", "No Mail"),
        _contact(FRIEND, "user", "friend@example.org", "cust-friend", "Friend of Ann"),
    ]
}
"""Contacts by id; :data:`GONE` is archived (404)."""


def _conversation(
    cid: str,
    kind: str,
    contacts: list[str],
    *,
    author: tuple[str, str, str] | None = None,
    delivered_as: str = "customer_initiated",
    subject: str = "",
) -> dict[str, Any]:
    first = CONTACTS.get(contacts[0], {}) if contacts else {}
    a_type, a_id, a_email = author or (
        str(first.get("role", "user")),
        contacts[0],
        str(first.get("email", "")),
    )
    return {
        "type": "conversation",
        "id": cid,
        "title": None,
        "created_at": CREATED,
        "updated_at": CREATED + 60,
        "waiting_since": CREATED + 60,
        "snoozed_until": None,
        "open": True,
        "state": "open",
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []},
        "source": {
            "type": kind,
            "id": f"40{cid}",
            "delivered_as": delivered_as,
            "subject": subject,
            "body": "Where is my order?",
            "author": {"type": a_type, "id": a_id, "name": None}
            | ({"email": a_email} if a_email else {}),
            "attachments": [],
            "url": "https://shop.example/account" if kind == "conversation" else None,
            "redacted": False,
        },
        "contacts": {
            "type": "contact.list",
            "contacts": [
                {
                    "type": "contact",
                    "id": c,
                    "external_id": CONTACTS[c]["external_id"] if c in CONTACTS else None,
                }
                for c in contacts
            ],
        },
        "teammates": {"type": "admin.list", "teammates": []},
        "custom_attributes": {},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [],
            "total_count": 0,
        },
        "ai_agent_participated": False,
    }


CONVERSATIONS: Final[dict[str, dict[str, Any]]] = {
    c["id"]: c
    for c in [
        _conversation(EMAIL_VERIFIED, "email", [ANN], subject="Order #1001"),
        _conversation(MESSENGER_USER, "conversation", [BOB]),
        _conversation(MESSENGER_CHLOE, "conversation", [CHLOE]),
        _conversation(LEAD_CHAT, "conversation", [LEAD]),
        _conversation(USER_WITHOUT_EXTERNAL_ID, "conversation", [NOEXT]),
        _conversation(
            EMAIL_OTHER_SENDER,
            "email",
            [ANN],
            author=("user", ANN, "someone@elsewhere.example"),
        ),
        _conversation(
            OUTBOUND,
            "conversation",
            [BOB],
            author=("admin", ADMIN_ID, "alex@acme.example"),
            delivered_as="admin_initiated",
        ),
        _conversation(GROUP, "email", [ANN, FRIEND]),
        _conversation(WHATSAPP, "whatsapp", [BOB]),
        _conversation(USER_WITHOUT_EMAIL, "conversation", [NOMAIL]),
        _conversation(ARCHIVED_CONTACT, "email", [GONE], author=("user", GONE, "gone@example.com")),
        _conversation(SERVER_ERROR, "email", [ANN]),
        _conversation(MALFORMED, "email", [ANN]),
    ]
}


def conversation(cid: str) -> dict[str, Any]:
    """A deep copy of a seed conversation (webhook tests change them freely)."""
    return copy.deepcopy(CONVERSATIONS[cid])


ME: Final[dict[str, Any]] = {
    "type": "admin",
    "id": ADMIN_ID,
    "name": "liveuser bot",
    "email": "liveuser-bot@acme.example",
    "job_title": "",
    "away_mode_enabled": False,
    "away_mode_reassign": False,
    "has_inbox_seat": False,
    "team_ids": [],
    "avatar": {"type": "avatar", "image_url": None},
    "email_verified": True,
    "app": {
        "type": "app",
        "id_code": WORKSPACE,
        "name": "Acme Shop",
        "region": "US",
        "timezone": "Europe/London",
        "created_at": CREATED - 365 * 86400,
        "identity_verification": True,
    },
}
