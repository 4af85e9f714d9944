"""The verification rule, as a pure function of what ``GET /api/tickets/{id}`` answered.

See the README for the rule in words. :func:`judge_ticket` returns a
:class:`liveuser.VerifiedUser` (with its record, and every other outside
participant listed, so the pipeline refuses a shared conversation) or a
:class:`liveuser.Refusal` with a reason a person can read.
"""

from __future__ import annotations

from typing import Final

from liveuser import Channel, Mechanism, Refusal, VerificationRecord, VerifiedUser
from liveuser.identity import normalize_email

from .client import Address, Message, Ticket

VENDOR: Final = "gorgias"

CHAT_REASON: Final = (
    "Gorgias Live Chat is not a verified source: chat identity is self-declared in Gorgias "
    "(an email the visitor typed proves nothing)"
)

_CHAT: Final = frozenset({"chat", "custom-chat", "custom_chat", "live-chat", "livechat"})
_FORMS: Final = frozenset({"contact_form", "contact-form", "help-center", "help_center", "form"})
_PROGRAM: Final = frozenset({"api", "helpdesk", "rule", "app", "internal-note"})
_VOICE: Final = frozenset({"phone", "sms", "aircall", "whatsapp"})
_SOCIAL_PREFIXES: Final = (
    "facebook",
    "instagram",
    "twitter",
    "yotpo",
    "google",
    "tiktok",
)


def _why_not(channel: str) -> str:
    if channel in _CHAT:
        return (
            f"started in Gorgias Live Chat ({channel}), which is not a verified source: "
            "chat identity is self-declared in Gorgias"
        )
    if channel in _FORMS:
        return (
            f"came in through a form ({channel}), where anyone can type any email address; "
            "only tickets the customer emailed in are verified"
        )
    if channel in _PROGRAM:
        return (
            f"was created by a program or an agent ({channel}), so nothing shows the customer "
            "sent it"
        )
    if channel in _VOICE:
        return f"came in by phone or text ({channel}), which proves no email address"
    if channel.startswith(_SOCIAL_PREFIXES):
        return f"came in through a social channel ({channel}), which proves no email address"
    return f"came in through channel {channel!r}; only email tickets are verified"


def _name(value: str | None) -> str:
    return value.strip().lower() if isinstance(value, str) and value.strip() else "unknown"


def _norm(value: str | None) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_email(value)
    except ValueError:
        return None


def first_customer_message(ticket: Ticket) -> Message | None:
    """The earliest message not from an agent (ISO-8601 times; ties by message id)."""
    candidates = [m for m in ticket.messages if not m.from_agent]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.created_datetime, m.id))


def judge_ticket(ticket: Ticket, *, tenant: str) -> VerifiedUser | Refusal:
    """Verified only when the ticket is an email from its customer's own address."""
    tid = ticket.id
    channel = _name(ticket.channel)
    if ticket.deleted_datetime is not None:
        return Refusal(reason=f"Gorgias ticket {tid} has been deleted")
    if ticket.spam:
        return Refusal(reason=f"Gorgias ticket {tid} is marked as spam")
    if channel != "email":
        return Refusal(reason=f"Gorgias ticket {tid} {_why_not(channel)}")
    if ticket.from_agent:
        return Refusal(
            reason=f"Gorgias ticket {tid} was started by the company (an outbound email), so "
            "the customer never wrote from its address"
        )
    via = _name(ticket.via)
    if via != "email":
        return Refusal(
            reason=f"Gorgias ticket {tid} was not received by email (via {via!r}); "
            f"it {_why_not(via)}"
        )
    customer = ticket.customer
    if customer is None:
        return Refusal(reason=f"Gorgias ticket {tid} has no customer (deleted or never set)")
    email = _norm(customer.email)
    if email is None:
        return Refusal(reason=f"the customer of Gorgias ticket {tid} has no usable email address")
    live = [
        c
        for c in customer.channels
        if c.type == "email" and _norm(c.address) == email and c.deleted_datetime is None
    ]
    if not live:
        return Refusal(
            reason=f"the customer of Gorgias ticket {tid} has no live email channel for their "
            "address (deleted or removed)"
        )
    first = first_customer_message(ticket)
    if first is None:
        return Refusal(reason=f"Gorgias ticket {tid} has no message from its customer")
    source = first.source
    if _name(first.via) != "email" or source is None or _name(source.type) != "email":
        return Refusal(
            reason=f"the first customer message of Gorgias ticket {tid} did not come in by email"
        )
    if first.channel is not None and _name(first.channel) != "email":
        return Refusal(
            reason=f"the first customer message of Gorgias ticket {tid} came in through "
            f"{_name(first.channel)!r}, not email"
        )
    sent_from = _norm(source.from_.address if source.from_ is not None else None)
    if sent_from is None:
        return Refusal(reason=f"Gorgias ticket {tid} does not record the address it came from")
    if sent_from != email:
        return Refusal(
            reason=f"Gorgias ticket {tid} was sent from another address than its customer's"
        )
    if first.sender is not None and first.sender.id is not None and first.sender.id != customer.id:
        return Refusal(
            reason=f"the first message of Gorgias ticket {tid} was sent by another customer "
            "than the ticket's"
        )
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.gorgias_ticket,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.email_ticket,
            evidence=f"ticket {tid} received by email from {sent_from}, its customer's address "
            f"(customer {customer.id}; message {first.id}; not spam, not deleted)",
            other_participants=other_participants(ticket, email, customer.id),
        ),
    )


def other_participants(ticket: Ticket, email: str, customer_id: int) -> tuple[str, ...]:
    """Every outside person a reply could reach besides the customer.

    Customer messages: CC and BCC addresses, and any ``to`` address other than
    the mailbox that received it (a customer writing to a friend and support).
    Public agent messages: any ``to``/``cc``/``bcc`` address other than the
    customer's. Messages from any other customer.
    """
    found: dict[str, None] = {}

    def add(label: str, entries: list[Address], skip: set[str | None]) -> None:
        for entry in entries:
            address = _norm(entry.address)
            if address is None and entry.address:
                found[f"{label} {entry.address.strip()[:80]}"] = None
            elif address is not None and address not in skip:
                found[f"{label} {address}"] = None

    for message in ticket.messages:
        source = message.source
        if message.from_agent:
            if not message.public or source is None:
                continue
            own = {email, _norm(message.sender.email if message.sender else None)}
            own.add(_norm(source.from_.address if source.from_ else None))
            add("to", source.to, own)
            add("cc", [*source.cc, *source.bcc], own)
            continue
        sender = message.sender
        if sender is not None and sender.id is not None and sender.id != customer_id:
            found[f"customer {_norm(sender.email) or sender.id}"] = None
        if source is None:
            continue
        mailbox = {email, _norm(message.receiver.email if message.receiver else None)}
        add("to", source.to, mailbox)
        add("cc", [*source.cc, *source.bcc], {email})
    return tuple(found)
