"""The verification rules, as pure functions of what Zendesk answered.

See the README for the rule in words. Each function returns a
:class:`liveuser.VerifiedUser` (with its record, and every other outside
participant listed, so the pipeline refuses a shared conversation) or a
:class:`liveuser.Refusal` with a reason a person can read.
"""

from __future__ import annotations

from typing import Any, Final

from liveuser import (
    Channel,
    Mechanism,
    Refusal,
    VerificationRecord,
    VerifiedUser,
    normalize_email,
)

from .client import MessagingUser, Participant, TicketAnswer, User
from .messaging import LoginClaims

VENDOR: Final = "zendesk"

VIA_IDS: Final[dict[int, str]] = {
    0: "web",
    4: "email",
    5: "api",
    8: "rule",
    15: "iphone",
    16: "get_satisfaction",
    17: "dropbox",
    19: "merge",
    20: "batch",
    21: "recovered_from_suspended_tickets",
    23: "twitter_favorite",
    24: "topic",
    26: "twitter_dm",
    27: "closed_ticket",
    29: "chat",
    30: "twitter",
    31: "ticket_sharing",
    33: "voicemail",
    34: "phone_call_inbound",
    35: "phone_call_outbound",
    36: "blog",
    37: "text_message",
    38: "facebook_post",
    39: "import",
    41: "facebook_message",
}
"""Zendesk's numeric via types, named the way the API writes ``via.channel``."""

_SOCIAL: Final = frozenset(
    {
        "twitter",
        "twitter_dm",
        "twitter_favorite",
        "facebook",
        "facebook_post",
        "facebook_message",
        "instagram_dm",
        "whatsapp",
        "line",
        "wechat",
        "telegram",
        "viber",
        "any_channel",
        "blog",
        "get_satisfaction",
        "topic",
    }
)
_VOICE: Final = frozenset(
    {"voice", "voicemail", "phone_call_inbound", "phone_call_outbound", "text_message", "sms"}
)
_MESSAGING: Final = frozenset(
    {"chat", "native_messaging", "messaging", "web_widget", "mobile_sdk", "sdk", "chat_transcript"}
)
_STAFF: Final = frozenset({"agent", "admin"})


def channel_name(value: str | int | None) -> str:
    """``via.channel`` as a lowercase name; integer via types mapped, unknown kept as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return VIA_IDS.get(value, f"via type {value}")
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return "unknown"


def _who(user: User | None, user_id: int) -> str:
    if user is not None and user.email:
        return user.email
    return f"user {user_id}"


def judge_ticket(answer: TicketAnswer, *, tenant: str) -> VerifiedUser | Refusal:
    """Verified only when the ticket is an email from its requester: see the README."""
    ticket = answer.ticket
    tid = ticket.id
    users = {user.id: user for user in answer.users}
    requester = users.get(ticket.requester_id)
    submitter = users.get(ticket.submitter_id) if ticket.submitter_id is not None else None
    channel = channel_name(ticket.via.channel)

    if ticket.from_messaging_channel or channel in _MESSAGING:
        return Refusal(
            reason=f"Zendesk ticket {tid} is a messaging or chat conversation ({channel}); "
            "only an authenticated user on the zendesk_messaging channel is verified there"
        )
    agent_made = (
        ticket.submitter_id is not None
        and ticket.submitter_id != ticket.requester_id
        and submitter is not None
        and submitter.role in _STAFF
    )
    if channel != "email":
        if channel == "api":
            why = "was created through the API, so nothing shows the requester sent it"
        elif agent_made:
            why = "was created by an agent on the requester's behalf, not sent by them"
        elif channel in ("web", "web_form"):
            why = (
                "was submitted through a web form, where anyone can type any email address "
                "(a verified email on the requester does not prove who typed it)"
            )
        elif channel in _SOCIAL:
            why = f"came in through a social channel ({channel}), which proves no email address"
        elif channel in _VOICE:
            why = f"came in by phone or text ({channel}), which proves no email address"
        else:
            why = f"came in through channel {channel!r}; only email tickets are verified"
        return Refusal(reason=f"Zendesk ticket {tid} {why}")
    if agent_made:
        return Refusal(
            reason=f"Zendesk ticket {tid} was created by an agent on the requester's behalf, "
            "not sent by them"
        )
    if requester is None:
        return Refusal(
            reason=f"Zendesk did not include the requester of ticket {tid} (user "
            f"{ticket.requester_id}), so it cannot be checked"
        )
    if not requester.active:
        return Refusal(reason=f"the requester of Zendesk ticket {tid} has been deleted")
    if requester.suspended:
        return Refusal(reason=f"the requester of Zendesk ticket {tid} is suspended")
    if requester.role != "end-user":
        return Refusal(
            reason=f"the requester of Zendesk ticket {tid} is an {requester.role}, not a customer"
        )
    if not requester.email:
        return Refusal(reason=f"the requester of Zendesk ticket {tid} has no email address")
    sender = _sender(ticket.via.source)
    if sender is None:
        return Refusal(reason=f"Zendesk ticket {tid} does not record the address it came from")
    try:
        email = normalize_email(requester.email)
        sent_from = normalize_email(sender)
    except ValueError:
        return Refusal(reason=f"Zendesk ticket {tid} carries an address that is not an email")
    if sent_from != email:
        return Refusal(
            reason=f"Zendesk ticket {tid} was sent from another address than its requester's"
        )
    if ticket.submitter_id is not None and ticket.submitter_id != ticket.requester_id:
        return Refusal(
            reason=f"Zendesk ticket {tid} was submitted by {_who(submitter, ticket.submitter_id)},"
            " not by its requester"
        )
    others: list[str] = []
    for label, ids in (
        ("cc", [*ticket.email_cc_ids, *ticket.collaborator_ids]),
        ("follower", ticket.follower_ids),
    ):
        for uid in dict.fromkeys(ids):
            if uid != ticket.requester_id:
                entry = f"{label} {_who(users.get(uid), uid)}"
                if entry not in others:
                    others.append(entry)
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.zendesk_ticket,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.email_ticket,
            evidence=f"ticket {tid} via email from {sent_from}, its requester's address "
            f"(user {requester.id}, active end-user)",
            other_participants=tuple(others),
        ),
    )


def _sender(source: dict[str, Any] | None) -> str | None:
    sender = source.get("from") if isinstance(source, dict) else None
    address = sender.get("address") if isinstance(sender, dict) else None
    return address if isinstance(address, str) and address.strip() else None


def pick_author(
    participants: list[Participant], hinted: str | None, conversation_id: str
) -> tuple[Participant, tuple[str, ...]] | Refusal:
    """The author of the message being answered, and every other participant."""
    if not participants:
        return Refusal(reason=f"Zendesk Messaging conversation {conversation_id} has no user")
    if hinted is not None:
        author = next((p for p in participants if p.user_id == hinted), None)
        if author is None:
            return Refusal(
                reason="the message's author is not a participant of Zendesk Messaging "
                f"conversation {conversation_id}"
            )
    elif len(participants) == 1:
        author = participants[0]
    else:
        return Refusal(
            reason=f"Zendesk Messaging conversation {conversation_id} has several users and "
            "the message's author was not given"
        )
    others = tuple(
        f"participant {p.user_external_id or p.user_id}"
        for p in participants
        if p.user_id != author.user_id
    )
    return author, others


def judge_login_token(
    claims: LoginClaims,
    author: Participant,
    others: tuple[str, ...],
    *,
    tenant: str,
    conversation_id: str,
) -> VerifiedUser | Refusal:
    """A host-passed login JWT proves the author only when its external_id is theirs."""
    if author.user_external_id is None or author.user_external_id != claims.external_id:
        return Refusal(
            reason="the messaging login token belongs to another user than this Zendesk "
            "Messaging conversation's"
        )
    return VerifiedUser(
        tenant=tenant,
        email=claims.email,
        channel=Channel.zendesk_messaging,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.signed_jwt,
            evidence=f"messaging login JWT for external_id {claims.external_id} checked by "
            f"liveuser; author of conversation {conversation_id}",
            key_id=claims.key_id,
            expires_at=claims.expires_at,
            other_participants=others,
        ),
    )


def judge_messaging_user(
    user: MessagingUser,
    author: Participant,
    others: tuple[str, ...],
    *,
    tenant: str,
    conversation_id: str,
) -> VerifiedUser | Refusal:
    """Verified only when Zendesk itself records the user as authenticated."""
    if user.id != author.user_id:
        return Refusal(reason="Zendesk Messaging answered about another user than asked")
    if not user.authenticated:
        return Refusal(
            reason="this Zendesk Messaging user is anonymous (not signed in through messaging "
            "authentication); an email they typed or that Zendesk matched proves nothing"
        )
    if author.user_external_id is not None and user.external_id != author.user_external_id:
        return Refusal(reason="Zendesk Messaging gave two different external ids for the user")
    verified = {
        identity.value
        for identity in user.identities
        if identity.type == "email" and identity.verification == "verified"
    }
    if not verified:
        return Refusal(
            reason="this authenticated Zendesk Messaging user has no verified email address"
        )
    try:
        emails = {normalize_email(value) for value in verified}
    except ValueError:
        return Refusal(reason="Zendesk Messaging recorded an email that is not an address")
    if len(emails) != 1:
        return Refusal(
            reason="this Zendesk Messaging user has several verified email addresses; "
            "liveuser cannot tell which one is theirs"
        )
    (email,) = emails
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.zendesk_messaging,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.vendor_authenticated,
            evidence=f"Zendesk Messaging user {user.id} (external_id {user.external_id}) "
            f"authenticated by the business's login JWT; author of conversation "
            f"{conversation_id}",
            other_participants=others,
        ),
    )
