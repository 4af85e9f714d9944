"""Seed records of the fake Zendesk: one ticket or Messaging user per case.

Ticket ids name the case (see :data:`TICKETS`); Messaging conversations are
``conv_<case>``. Emails match the core sandbox's User Data API seed users, so
the demo shows their data once verified.
"""

from __future__ import annotations

from typing import Any, Final

SUPPORT_ADDRESS: Final = "support@acme.example"
CREATED: Final = "2026-11-02T09:14:03Z"

ANN, BOB, CHLOE, DAN, ERIN, FRIEND, NOMAIL = 5001, 5002, 5003, 5004, 5005, 5006, 5007
AGENT, FOLLOWER_AGENT, ADMIN = 9001, 9002, 9003

# Ticket ids, one per case.
EMAIL_VERIFIED: Final = 1001
WEB_FORM: Final = 1002
API: Final = 1003
AGENT_CREATED: Final = 1004
SOCIAL: Final = 1005
VOICE: Final = 1006
CCD: Final = 1007
FOLLOWED: Final = 1008
SUSPENDED: Final = 1009
DELETED: Final = 1010
MISMATCHED_FROM: Final = 1011
MESSAGING_TICKET: Final = 1012
AGENT_REQUESTER: Final = 1013
EMAIL_MIXED_CASE: Final = 1014
NO_EMAIL: Final = 1015
LEGACY_CHAT: Final = 1016
SERVER_ERROR: Final = 1500
MALFORMED: Final = 1502
UNKNOWN: Final = 404404


def _user(uid: int, name: str, email: str | None, **flags: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": uid,
        "url": f"https://acme.zendesk.com/api/v2/users/{uid}.json",
        "name": name,
        "email": email,
        "role": "end-user",
        "verified": True,
        "active": True,
        "suspended": False,
        "external_id": None,
        "shared": False,
        "locale": "en-US",
        "time_zone": "Europe/London",
        "created_at": "2026-01-10T08:00:00Z",
        "updated_at": CREATED,
    }
    record.update(flags)
    return record


USERS: Final[dict[int, dict[str, Any]]] = {
    u["id"]: u
    for u in [
        _user(ANN, "Ann Example", "ann@example.com", external_id="cust-ann"),
        _user(BOB, "Bob Example", "bob@example.com", external_id="cust-bob"),
        _user(CHLOE, "Chloe Example", "chloe@example.com", external_id="cust-chloe"),
        _user(DAN, "Dan Suspended", "dan@example.com", suspended=True),
        _user(ERIN, "Erin Deleted", "erin@example.com", active=False),
        _user(FRIEND, "Friend of Ann", "friend@example.org"),
        _user(NOMAIL, "No Mail", None, verified=False),
        _user(AGENT, "Alex Agent", "alex@acme.example", role="agent"),
        _user(FOLLOWER_AGENT, "Sam Agent", "sam@acme.example", role="agent"),
        _user(ADMIN, "Ada Admin", "ada@acme.example", role="admin"),
    ]
}


def _email_via(sender: str, name: str) -> dict[str, Any]:
    return {
        "channel": "email",
        "source": {
            "from": {"address": sender, "name": name, "original_recipients": [SUPPORT_ADDRESS]},
            "to": {"address": SUPPORT_ADDRESS, "name": "Acme Support"},
            "rel": None,
        },
    }


def _ticket(
    tid: int, requester: int, via: dict[str, Any], subject: str, **fields: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": tid,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{tid}.json",
        "subject": subject,
        "description": subject,
        "status": "open",
        "priority": "normal",
        "type": "question",
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": AGENT,
        "group_id": 360002,
        "organization_id": 360003,
        "brand_id": 360001,
        "recipient": SUPPORT_ADDRESS,
        "tags": [],
        "collaborator_ids": [],
        "email_cc_ids": [],
        "follower_ids": [],
        "from_messaging_channel": False,
        "is_public": True,
        "has_incidents": False,
        "via": via,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    record.update(fields)
    return record


_NO_SOURCE: Final[dict[str, Any]] = {"from": {}, "to": {}, "rel": None}

TICKETS: Final[dict[int, dict[str, Any]]] = {
    t["id"]: t
    for t in [
        _ticket(EMAIL_VERIFIED, ANN, _email_via("ann@example.com", "Ann"), "Where is my order?"),
        _ticket(
            WEB_FORM,
            BOB,
            {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            "Order question (help center form)",
        ),
        _ticket(API, BOB, {"channel": "api", "source": _NO_SOURCE}, "Created by an integration"),
        _ticket(
            AGENT_CREATED,
            CHLOE,
            {"channel": "web", "source": _NO_SOURCE},
            "Logged by an agent after a call",
            submitter_id=AGENT,
        ),
        _ticket(
            SOCIAL,
            BOB,
            {
                "channel": "twitter",
                "source": {"from": {"name": "bob_tweets"}, "to": {}, "rel": "direct_message"},
            },
            "DM: where is my grinder?",
        ),
        _ticket(
            VOICE,
            BOB,
            {"channel": "voice", "source": {"from": {"phone": "+15550100"}, "to": {}, "rel": None}},
            "Call from +1 555 0100",
        ),
        _ticket(
            CCD,
            ANN,
            _email_via("ann@example.com", "Ann"),
            "Order question (friend in CC)",
            collaborator_ids=[FRIEND],
            email_cc_ids=[FRIEND],
        ),
        _ticket(
            FOLLOWED,
            BOB,
            _email_via("bob@example.com", "Bob"),
            "Subscription question",
            follower_ids=[FOLLOWER_AGENT],
        ),
        _ticket(SUSPENDED, DAN, _email_via("dan@example.com", "Dan"), "Refund please"),
        _ticket(DELETED, ERIN, _email_via("erin@example.com", "Erin"), "Old question"),
        _ticket(
            MISMATCHED_FROM,
            ANN,
            _email_via("mallory@evil.example", "Ann Example"),
            "Change my delivery address",
        ),
        _ticket(
            MESSAGING_TICKET,
            ANN,
            {"channel": "native_messaging", "source": _NO_SOURCE},
            "Conversation with Ann",
            from_messaging_channel=True,
        ),
        _ticket(AGENT_REQUESTER, ADMIN, _email_via("ada@acme.example", "Ada"), "Testing"),
        _ticket(
            EMAIL_MIXED_CASE,
            CHLOE,
            _email_via("Chloe@Example.COM", "Chloe"),
            "Is the kettle in stock?",
        ),
        _ticket(NO_EMAIL, NOMAIL, _email_via("nomail@example.com", "No Mail"), "Hello"),
        _ticket(LEGACY_CHAT, BOB, {"channel": "chat", "source": _NO_SOURCE}, "Chat transcript"),
        _ticket(SERVER_ERROR, ANN, _email_via("ann@example.com", "Ann"), "(answers 500)"),
        _ticket(MALFORMED, ANN, _email_via("ann@example.com", "Ann"), "(answers bad JSON)"),
    ]
}

IDENTITIES: Final[dict[int, list[dict[str, Any]]]] = {
    uid: [
        {
            "id": 70000 + uid,
            "url": f"https://acme.zendesk.com/api/v2/users/{uid}/identities/{70000 + uid}.json",
            "user_id": uid,
            "type": "email",
            "value": user["email"],
            "verified": bool(user["verified"]),
            "primary": True,
            "deliverable_state": "deliverable",
            "undeliverable_count": 0,
            "created_at": "2026-01-10T08:00:00Z",
            "updated_at": "2026-01-10T08:00:00Z",
        }
    ]
    if user["email"]
    else []
    for uid, user in USERS.items()
}


# -- Messaging (Sunshine Conversations) ----------------------------------------


def _sc_user(
    uid: str,
    external_id: str | None,
    authenticated: bool,
    zendesk_id: int | None,
    emails: list[tuple[str, str]],
    given: str,
) -> dict[str, Any]:
    return {
        "id": uid,
        "externalId": external_id,
        "signedUpAt": "2026-10-01T10:00:00.000Z",
        "toBeRetained": False,
        "authenticated": authenticated,
        "zendeskId": None if zendesk_id is None else str(zendesk_id),
        "profile": {
            "givenName": given,
            "surname": "",
            # Editable by the end user: never read by the connector.
            "email": emails[0][0] if emails else None,
            "avatarUrl": None,
            "locale": "en-US",
        },
        "metadata": {},
        "identities": [
            {"type": "email", "value": value, "verification": state} for value, state in emails
        ],
    }


SC_USERS: Final[dict[str, dict[str, Any]]] = {
    u["id"]: u
    for u in [
        _sc_user("sc_bob", "cust-bob", True, BOB, [("bob@example.com", "verified")], "Bob"),
        _sc_user(
            "sc_chloe", "cust-chloe", True, CHLOE, [("chloe@example.com", "verified")], "Chloe"
        ),
        # Anonymous: typed Ann's address to the bot and got attached to Ann's Support user.
        _sc_user("sc_anon", None, False, ANN, [("ann@example.com", "unverified")], "Visitor"),
        _sc_user("sc_noemail", "cust-nomail", True, None, [], "No Mail"),
        _sc_user(
            "sc_friend", "cust-friend", True, FRIEND, [("friend@example.org", "verified")], "Fr"
        ),
    ]
}

SC_CONVERSATIONS: Final[dict[str, list[str]]] = {
    "conv_bob": ["sc_bob"],
    "conv_chloe": ["sc_chloe"],
    "conv_anon": ["sc_anon"],
    "conv_noemail": ["sc_noemail"],
    "conv_group": ["sc_bob", "sc_friend"],
}
