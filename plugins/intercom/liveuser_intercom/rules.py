"""The verification rules, as pure functions of what Intercom answered.

See the README for the rule in words. Each function returns a
:class:`liveuser.VerifiedUser` (always with its record) or a
:class:`liveuser.Refusal` with a reason a person can read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from liveuser import (
    Channel,
    Mechanism,
    Refusal,
    VerificationRecord,
    VerifiedUser,
    normalize_email,
)

from .client import Contact, ContactRef, IntercomConversation
from .messenger import MessengerClaims

VENDOR: Final = "intercom"
MESSENGER: Final = "conversation"
"""``source.type`` of a conversation started in the Messenger (web or mobile chat)."""
EMAIL: Final = "email"
_SOCIAL: Final = frozenset({"facebook", "instagram", "twitter", "whatsapp"})
_PHONE: Final = frozenset({"phone_call", "phone_switch", "sms"})


def pick_contact(conv: IntercomConversation, conversation_id: str) -> ContactRef | Refusal:
    """The contact who started this conversation, or why there is none to verify."""
    cid = conversation_id
    if conv.id != cid:
        return Refusal(reason=f"Intercom answered about another conversation than {cid}")
    kind = conv.source.type
    if kind not in (MESSENGER, EMAIL):
        if kind in _SOCIAL:
            why = f"came in through a social channel ({kind}), which proves no email address"
        elif kind in _PHONE:
            why = f"came in by phone or text ({kind}), which proves no email address"
        elif kind == "push":
            why = "was started by a push message, not by the customer"
        else:
            why = f"came in through channel {kind!r}; only email and Messenger are verified"
        return Refusal(reason=f"Intercom conversation {cid} {why}")
    if conv.source.delivered_as != "customer_initiated":
        return Refusal(
            reason=f"Intercom conversation {cid} was started by the business "
            f"({conv.source.delivered_as or 'unknown initiator'}), not by the customer"
        )
    refs = conv.contacts.contacts
    if not refs:
        return Refusal(reason=f"Intercom conversation {cid} has no contact")
    if len(refs) > 1:
        return Refusal(
            reason=f"Intercom conversation {cid} has {len(refs)} contacts, so user data would "
            "reach the others too"
        )
    (ref,) = refs
    author = conv.source.author
    allowed = ("user", "lead") if kind == EMAIL else ("user",)
    if author.type not in allowed:
        who = "a lead or visitor" if author.type in ("lead", "contact") else author.type
        return Refusal(
            reason=f"Intercom conversation {cid} was started by {who}, not an identified user"
            if kind == MESSENGER
            else f"Intercom conversation {cid} was started by {who}, not the customer"
        )
    if author.id != ref.id:
        return Refusal(
            reason=f"Intercom conversation {cid} was started by someone else than its contact"
        )
    return ref


def _email(contact: Contact, cid: str) -> str | Refusal:
    if not contact.email:
        return Refusal(reason=f"the contact of Intercom conversation {cid} has no email address")
    try:
        return normalize_email(contact.email)
    except ValueError:
        return Refusal(reason=f"the contact of Intercom conversation {cid} has no valid email")


def check_contact(contact: Contact, ref: ContactRef, cid: str) -> Refusal | None:
    """The contact Intercom answered is the one the conversation names."""
    if contact.id != ref.id:
        return Refusal(reason="Intercom answered about another contact than asked")
    if ref.external_id is not None and contact.external_id != ref.external_id:
        return Refusal(reason=f"Intercom gave two external ids for conversation {cid}'s contact")
    return None


def judge_email(
    conv: IntercomConversation, contact: Contact, *, tenant: str
) -> VerifiedUser | Refusal:
    """Verified when the email came from the address Intercom records for its contact."""
    cid = conv.id
    if conv.source.type != EMAIL or conv.source.delivered_as != "customer_initiated":
        return Refusal(reason=f"Intercom conversation {cid} is not an email from the customer")
    if contact.role not in ("user", "lead"):
        return Refusal(reason=f"the contact of Intercom conversation {cid} is a {contact.role}")
    email = _email(contact, cid)
    if isinstance(email, Refusal):
        return email
    sender = conv.source.author.email
    if sender is None:
        return Refusal(reason=f"Intercom conversation {cid} does not record the sender's address")
    try:
        sent_from = normalize_email(sender)
    except ValueError:
        return Refusal(reason=f"Intercom conversation {cid} records a sender that is not an email")
    if sent_from != email:
        return Refusal(
            reason=f"Intercom conversation {cid} was sent from another address than its contact's"
        )
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.intercom,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.email_ticket,
            evidence=f"conversation {cid} started by email from {sent_from}, its contact's "
            f"address (contact {contact.id}, {contact.role})",
        ),
    )


def check_messenger_contact(contact: Contact, cid: str) -> Refusal | None:
    """A Messenger conversation is only ever verified for an identified user."""
    if contact.role != "user":
        return Refusal(
            reason=f"the contact of Intercom Messenger conversation {cid} is a {contact.role} "
            "(an unidentified visitor); an email they typed proves nothing"
        )
    if contact.external_id is None:
        return Refusal(
            reason=f"the contact of Intercom Messenger conversation {cid} has no user id "
            "(external_id), so no Messenger security covered them"
        )
    return None


def judge_messenger_jwt(
    claims: MessengerClaims, contact: Contact, *, tenant: str, conversation_id: str
) -> VerifiedUser | Refusal:
    """A host-passed Messenger JWT proves the contact only when its user_id is theirs."""
    if claims.user_id != contact.external_id:
        return Refusal(
            reason="the Messenger JWT belongs to another user than this Intercom "
            "conversation's contact"
        )
    email = _email(contact, conversation_id)
    if isinstance(email, Refusal):
        return email
    if email != claims.email:
        return Refusal(
            reason="the Messenger JWT's email is not the one Intercom records for the contact"
        )
    return VerifiedUser(
        tenant=tenant,
        email=claims.email,
        channel=Channel.intercom,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.signed_jwt,
            evidence=f"Messenger JWT for user_id {claims.user_id} checked by liveuser; "
            f"contact {contact.id} started conversation {conversation_id}",
            expires_at=claims.expires_at,
        ),
    )


def judge_secured_messenger(
    contact: Contact,
    *,
    tenant: str,
    conversation_id: str,
    security: str,
    app_id: str | None,
    recheck_at: datetime,
    user_hash_checked: bool,
) -> VerifiedUser | Refusal:
    """Verified on the workspace's enforced Messenger security (setting + ``GET /me``)."""
    email = _email(contact, conversation_id)
    if isinstance(email, Refusal):
        return email
    hashed = "; user_hash checked by liveuser" if user_hash_checked else ""
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.intercom,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.identity_hash
            if user_hash_checked
            else Mechanism.vendor_authenticated,
            evidence=f"user {contact.external_id} (contact {contact.id}) started conversation "
            f"{conversation_id} in a Messenger enforcing {security} (tenant setting; Intercom "
            f"reports identity verification on for app {app_id or '?'}){hashed}",
            expires_at=recheck_at,
        ),
    )
