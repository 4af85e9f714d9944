"""Seed records of the fake Gorgias: one ticket per case, shaped after recorded answers.

Ticket ids name the case (see :data:`TICKETS`). Emails match the core
sandbox's User Data API seed users, so the demo shows their data once verified.
"""

from __future__ import annotations

import copy
from typing import Any, Final

SUPPORT_ADDRESS: Final = "support@acme.example"
SUPPORT_USER: Final = 400746609
AGENT: Final[dict[str, Any]] = {"id": 400746700, "email": "alex@acme.example", "name": "Alex"}
INTEGRATION: Final = 116873
CREATED: Final = "2026-11-02T09:14:03.494726+00:00"
LATER: Final = "2026-11-02T09:40:11.120000+00:00"

ANN, BOB, CHLOE, ERIN, FRIEND = 486721601, 486721602, 486721603, 486721605, 486721606

# Ticket ids, one per case.
EMAIL_VERIFIED: Final = 153006801
CHAT: Final = 153006802
CONTACT_FORM: Final = 153006803
HELP_CENTER: Final = 153006804
API: Final = 153006805
OUTBOUND: Final = 153006806
SMS: Final = 153006807
PHONE: Final = 153006808
FACEBOOK: Final = 153006809
SPAM: Final = 153006810
DELETED: Final = 153006811
MISMATCHED_FROM: Final = 153006812
CC: Final = 153006813
EMAIL_CHANNEL_DELETED: Final = 153006814
EMAIL_MIXED_CASE: Final = 153006815
VIA_HELPDESK: Final = 153006816
UNKNOWN_CHANNEL: Final = 153006817
NO_CUSTOMER: Final = 153006818
REPLIED_TO_FRIEND: Final = 153006819
CHAT_WITH_AUTH_IDENTITY: Final = 153006820
SERVER_ERROR: Final = 153006500
MALFORMED: Final = 153006502
UNKNOWN: Final = 404404


def _customer(cid: int, name: str, email: str | None, *, deleted: bool = False) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    channels = (
        [
            {
                "id": cid + 100_000_000,
                "type": "email",
                "address": email,
                "preferred": True,
                "deleted_datetime": "2026-10-30T12:00:00+00:00" if deleted else None,
            }
        ]
        if email
        else []
    )
    return {
        "id": cid,
        "external_id": None,
        "active": True,
        "email": email,
        "name": name,
        "firstname": first,
        "lastname": last,
        "channels": channels,
        "created_datetime": "2026-01-10T08:00:00+00:00",
        "updated_datetime": CREATED,
        "meta": {"name_set_via": "email"},
        "data": None,
    }


CUSTOMERS: Final[dict[int, dict[str, Any]]] = {
    c["id"]: c
    for c in [
        _customer(ANN, "Ann Example", "ann@example.com"),
        _customer(BOB, "Bob Example", "bob@example.com"),
        _customer(CHLOE, "Chloe Example", "chloe@example.com"),
        _customer(ERIN, "Erin Removed", "erin@example.com", deleted=True),
        _customer(FRIEND, "Friend Ofann", "friend@example.org"),
    ]
}


def _who(cid: int) -> dict[str, Any]:
    c = CUSTOMERS[cid]
    return {"id": cid, "email": c["email"], "name": c["name"]}


def _message(
    tid: int,
    mid: int,
    *,
    author: int | None,
    channel: str = "email",
    via: str = "email",
    sent_from: str | None = None,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    at: str = CREATED,
    body: str = "Hi, my order has not arrived.",
) -> dict[str, Any]:
    """A message; ``author`` None means an agent wrote it."""
    from_agent = author is None
    sender = AGENT if author is None else _who(author)
    sender_address = sent_from or (SUPPORT_ADDRESS if from_agent else sender["email"])
    receiver = (
        {"id": SUPPORT_USER, "email": SUPPORT_ADDRESS, "name": "Acme Support"}
        if not from_agent
        else None
    )
    recipients = to if to is not None else [SUPPORT_ADDRESS]
    return {
        "id": mid,
        "uri": f"/api/tickets/{tid}/messages/{mid}/",
        "message_id": f"<{mid}@mail.example>" if via == "email" else None,
        "ticket_id": tid,
        "external_id": None,
        "public": True,
        "channel": channel,
        "via": via,
        "source": {
            "type": channel,
            "from": {"name": sender["name"], "address": sender_address},
            "to": [{"name": "", "address": a} for a in recipients],
            "cc": [{"name": "", "address": a} for a in (cc or [])],
            "bcc": [],
        },
        "sender": sender,
        "receiver": receiver,
        "integration_id": INTEGRATION if channel == "email" else None,
        "rule_id": None,
        "from_agent": from_agent,
        "subject": "Where is my order?",
        "body_text": body,
        "body_html": f"<p>{body}</p>",
        "stripped_text": body,
        "attachments": [],
        "headers": None,
        "meta": None,
        "auth_customer_identity": None,
        "created_datetime": at,
        "sent_datetime": at if from_agent else None,
        "failed_datetime": None,
        "deleted_datetime": None,
        "opened_datetime": None,
    }


def _ticket(
    tid: int,
    customer: int | None,
    messages: list[dict[str, Any]],
    subject: str,
    *,
    channel: str = "email",
    via: str = "email",
    **fields: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": tid,
        "uri": f"/api/tickets/{tid}/",
        "external_id": None,
        "language": "en",
        "status": "open",
        "priority": "normal",
        "channel": channel,
        "via": via,
        "from_agent": False,
        "customer": None if customer is None else copy.deepcopy(CUSTOMERS[customer]),
        "assignee_user": AGENT,
        "assignee_team": None,
        "subject": subject,
        "excerpt": messages[0]["body_text"][:100] if messages else "",
        "integrations": [],
        "meta": None,
        "tags": [],
        "messages": messages,
        "is_unread": True,
        "spam": False,
        "created_datetime": CREATED,
        "opened_datetime": None,
        "last_received_message_datetime": CREATED,
        "last_message_datetime": messages[-1]["created_datetime"] if messages else CREATED,
        "updated_datetime": LATER,
        "closed_datetime": None,
        "snooze_datetime": None,
        "trashed_datetime": None,
        "deleted_datetime": None,
    }
    record.update(fields)
    return record


def _email_ticket(tid: int, customer: int, subject: str, **fields: Any) -> dict[str, Any]:
    return _ticket(
        tid,
        customer,
        [
            _message(tid, tid * 10 + 1, author=customer),
            _message(
                tid,
                tid * 10 + 2,
                author=None,
                via="helpdesk",
                to=[CUSTOMERS[customer]["email"]],
                at=LATER,
                body="Sorry about that, checking now.",
            ),
        ],
        subject,
        **fields,
    )


def _typed(
    tid: int, customer: int, channel: str, via: str, subject: str, **fields: Any
) -> dict[str, Any]:
    """A ticket whose first message came in through ``channel`` (not an inbox)."""
    return _ticket(
        tid,
        customer,
        [_message(tid, tid * 10 + 1, author=customer, channel=channel, via=via, to=[])],
        subject,
        channel=channel,
        via=via,
        **fields,
    )


def _tickets() -> list[dict[str, Any]]:
    chat_auth = _typed(
        CHAT_WITH_AUTH_IDENTITY, ANN, "chat", "chat", "Chat from a logged-in shopper"
    )
    chat_auth["messages"][0]["auth_customer_identity"] = {
        "service": {"id": 1, "name": "shopify"},
        "identifier": "ann@example.com",
    }
    outbound = _ticket(
        OUTBOUND,
        BOB,
        [
            _message(
                OUTBOUND, OUTBOUND * 10 + 1, author=None, via="helpdesk", to=["bob@example.com"]
            ),
            _message(OUTBOUND, OUTBOUND * 10 + 2, author=BOB, at=LATER),
        ],
        "Your order has shipped",
        via="helpdesk",
        from_agent=True,
    )
    via_helpdesk = _ticket(
        VIA_HELPDESK,
        CHLOE,
        [_message(VIA_HELPDESK, VIA_HELPDESK * 10 + 1, author=CHLOE, via="helpdesk")],
        "Logged by an agent",
        via="helpdesk",
    )
    no_customer = _email_ticket(NO_CUSTOMER, ANN, "Customer removed")
    no_customer["customer"] = None
    return [
        _email_ticket(EMAIL_VERIFIED, ANN, "Where is my order #1001?"),
        # Bob's chat where the visitor typed bob@example.com into the widget.
        _typed(CHAT, BOB, "chat", "chat", "Chat with Bob"),
        _typed(CONTACT_FORM, BOB, "contact_form", "form", "Contact form: refund"),
        _typed(HELP_CENTER, BOB, "help-center", "help-center", "Help center request"),
        _typed(API, BOB, "api", "api", "Created by an integration"),
        outbound,
        _typed(SMS, BOB, "sms", "sms", "SMS from +15555550100"),
        _typed(PHONE, BOB, "phone", "phone", "Call from +15555550100"),
        _typed(FACEBOOK, BOB, "facebook-messenger", "facebook", "Messenger: my order"),
        _email_ticket(SPAM, ANN, "You won a prize", spam=True),
        _email_ticket(DELETED, ANN, "Old question", deleted_datetime="2026-11-01T10:00:00+00:00"),
        _ticket(
            MISMATCHED_FROM,
            ANN,
            [
                _message(
                    MISMATCHED_FROM,
                    MISMATCHED_FROM * 10 + 1,
                    author=ANN,
                    sent_from="mallory@evil.example",
                )
            ],
            "Change my delivery address",
        ),
        _ticket(
            CC,
            ANN,
            [_message(CC, CC * 10 + 1, author=ANN, cc=["friend@example.org"])],
            "Order question (friend in CC)",
        ),
        _email_ticket(EMAIL_CHANNEL_DELETED, ERIN, "Removed address"),
        _ticket(
            EMAIL_MIXED_CASE,
            CHLOE,
            [
                _message(
                    EMAIL_MIXED_CASE,
                    EMAIL_MIXED_CASE * 10 + 1,
                    author=CHLOE,
                    sent_from="Chloe@Example.COM",
                )
            ],
            "Is the kettle in stock?",
        ),
        via_helpdesk,
        _typed(UNKNOWN_CHANNEL, BOB, "custom-channel", "api", "From a custom channel"),
        no_customer,
        _ticket(
            REPLIED_TO_FRIEND,
            ANN,
            [
                _message(REPLIED_TO_FRIEND, REPLIED_TO_FRIEND * 10 + 1, author=ANN),
                _message(
                    REPLIED_TO_FRIEND,
                    REPLIED_TO_FRIEND * 10 + 2,
                    author=None,
                    via="helpdesk",
                    to=["ann@example.com"],
                    cc=["friend@example.org"],
                    at=LATER,
                ),
            ],
            "Gift order",
        ),
        chat_auth,
        _email_ticket(SERVER_ERROR, ANN, "(answers 500)"),
        _email_ticket(MALFORMED, ANN, "(answers bad JSON)"),
    ]


TICKETS: Final[dict[int, dict[str, Any]]] = {t["id"]: t for t in _tickets()}
