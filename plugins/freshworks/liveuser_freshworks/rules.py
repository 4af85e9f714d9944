"""The verification rules, as pure functions of what Freshdesk and Freshchat answered.

See the README for the rule in words. Each function returns a
:class:`liveuser.VerifiedUser` (with its record, every other outside
participant listed so the pipeline refuses a shared conversation) or a
:class:`liveuser.Refusal` with a reason a person can read.
"""

from __future__ import annotations

from typing import Final

from liveuser import (
    Channel,
    Mechanism,
    Refusal,
    VerificationRecord,
    VerifiedUser,
    normalize_email,
)

from .chat_token import ChatClaims
from .client import ChatConversation, ChatUser, Contact, Ticket

EMAIL_SOURCE: Final = 1

REFUSED_SOURCES: Final[dict[int, str]] = {
    2: "was submitted through the support portal, where the email address can be typed by "
    "anyone and the API does not say whether the submitter was logged in",
    3: "was logged from a phone call, so its email address is whatever the agent typed",
    7: "came from a chat, whose identity the ticket does not show; use the freshchat channel, "
    "where a signed user token can be checked",
    8: "came from the Mobihelp mobile SDK, which proves no email address",
    9: "came from the feedback widget, where anyone can type any email address",
    10: "is an outbound email an agent started; the customer never wrote from that address",
}
"""Freshdesk ``source`` codes that are refused, and why (any other code is unknown)."""


def judge_ticket(ticket: Ticket, *, tenant: str) -> VerifiedUser | Refusal:
    """Verified only for an email ticket (source 1) from its requester: see the README."""
    tid = ticket.id
    if ticket.source != EMAIL_SOURCE:
        why = REFUSED_SOURCES.get(
            ticket.source,
            f"came in through source {ticket.source}, which liveuser does not know; only "
            "email tickets (source 1) are verified",
        )
        return Refusal(reason=f"Freshdesk ticket {tid} {why}")
    if ticket.spam is not False:
        if ticket.spam is None:
            return Refusal(reason=f"Freshdesk did not say whether ticket {tid} is spam")
        return Refusal(reason=f"Freshdesk ticket {tid} is marked as spam")
    if ticket.deleted:
        return Refusal(reason=f"Freshdesk ticket {tid} has been deleted")
    requester = ticket.requester
    if requester is None:
        return Refusal(
            reason=f"Freshdesk did not include the requester of ticket {tid}, so it cannot be "
            "checked"
        )
    if requester.id != ticket.requester_id:
        return Refusal(reason=f"Freshdesk gave two different requesters for ticket {tid}")
    if not requester.email:
        return Refusal(reason=f"the requester of Freshdesk ticket {tid} has no email address")
    try:
        email = normalize_email(requester.email)
    except ValueError:
        return Refusal(
            reason=f"the requester of Freshdesk ticket {tid} has an address that is not an email"
        )
    if ticket.cc_emails is None:
        return Refusal(reason=f"Freshdesk did not list the CCs of ticket {tid}")
    others: list[str] = []
    for label, addresses in (
        ("cc", ticket.cc_emails),
        ("reply cc", ticket.reply_cc_emails or []),
        ("forwarded to", ticket.fwd_emails or []),
    ):
        for address in addresses:
            if _same_address(address, email):
                continue
            entry = f"{label} {address}"
            if entry not in others:
                others.append(entry)
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.freshdesk,
        record=VerificationRecord(
            vendor="freshdesk",
            mechanism=Mechanism.email_ticket,
            evidence=f"ticket {tid} created from an email (source 1) by its requester "
            f"{email} (contact {requester.id}); not spam, not deleted",
            other_participants=tuple(others),
        ),
    )


def judge_contact(verified: VerifiedUser, contact: Contact, ticket: Ticket) -> Refusal | None:
    """Strict mode: the requester's contact must exist, not deleted or blocked, same email."""
    tid = ticket.id
    if contact.id != ticket.requester_id:
        return Refusal(reason=f"Freshdesk answered about another contact than ticket {tid}'s")
    if contact.deleted:
        return Refusal(reason=f"the requester of Freshdesk ticket {tid} has been deleted")
    if contact.blocked:
        return Refusal(reason=f"the requester of Freshdesk ticket {tid} is blocked")
    addresses = [contact.email or "", *(contact.other_emails or [])]
    if not any(_same_address(address, verified.email) for address in addresses):
        return Refusal(
            reason=f"the requester's contact no longer has the address of Freshdesk ticket {tid}"
        )
    return None


def _same_address(address: str, email: str) -> bool:
    try:
        return normalize_email(address) == email
    except ValueError:
        return False


def pick_user(
    conversation: ChatConversation, hinted: str | None, conversation_id: str
) -> tuple[str, tuple[str, ...]] | Refusal:
    """The conversation's Freshchat user (the author) and every other user on it."""
    if conversation.conversation_id != conversation_id:
        return Refusal(
            reason=f"Freshchat answered about another conversation than {conversation_id}"
        )
    ids = conversation.user_ids()
    if not ids:
        return Refusal(reason=f"Freshchat conversation {conversation_id} has no user")
    if hinted is not None:
        if hinted not in ids:
            return Refusal(
                reason="the message's author is not the user of Freshchat conversation "
                f"{conversation_id}"
            )
        author = hinted
    else:
        author = ids[0]
    others = tuple(f"user {uid}" for uid in ids if uid != author)
    return author, others


def judge_chat_token(
    claims: ChatClaims,
    user: ChatUser,
    author: str,
    others: tuple[str, ...],
    *,
    tenant: str,
    conversation_id: str,
    key_id: str,
) -> VerifiedUser | Refusal:
    """A checked token proves the author only when its reference_id and email are theirs."""
    if user.id != author:
        return Refusal(reason="Freshchat answered about another user than asked")
    if not user.reference_id:
        return Refusal(
            reason="this Freshchat user has no reference_id, so they are anonymous or "
            "self-declared and the user token cannot be theirs"
        )
    if user.reference_id != claims.reference_id:
        return Refusal(
            reason="the Freshchat user token belongs to another user than this "
            "conversation's (reference_id differs)"
        )
    if not user.email or not _same_address(user.email, claims.email):
        return Refusal(
            reason="the Freshchat user token's email differs from the email Freshchat "
            "recorded for this conversation's user"
        )
    return VerifiedUser(
        tenant=tenant,
        email=claims.email,
        channel=Channel.freshchat,
        record=VerificationRecord(
            vendor="freshchat",
            mechanism=Mechanism.signed_jwt,
            evidence=f"Freshchat user-authentication JWT for reference_id {claims.reference_id} "
            f"checked by liveuser; matches user {user.id} of conversation {conversation_id}",
            key_id=key_id,
            expires_at=claims.expires_at,
            other_participants=others,
        ),
    )
