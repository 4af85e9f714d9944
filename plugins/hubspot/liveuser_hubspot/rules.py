"""The HubSpot verification rules, as pure functions of what HubSpot answered.

**hubspot_email.** Verified only when the message being answered (the one the
conversation names, else the thread's latest) is an ``INCOMING`` ``MESSAGE``
on the email channel (``1002``) of a thread that started on email and is
neither spam nor archived; its single sender (``senderField`` ``FROM``) has a
``HS_EMAIL_ADDRESS`` delivery identifier, HubSpot's record of the address
the mail came from, which is the verified email; a ``V-`` sender actor is the
thread's associated contact. Any other address on the thread's email messages
besides that sender and the team's own ``support_addresses`` (CC, a second
sender, another To) is an outside participant, and the pipeline refuses.
:func:`judge_email` decides on the thread and its messages alone; with the
``confirm_contact_email`` setting, :func:`confirm_contact` also requires the
contact's ``email`` property to be that address.

**hubspot_chat.** HubSpot's data cannot show how a chat visitor was
identified, so only the host's attestation (checked by the plugin) proves
anything. These rules only check the thread's shape: a live-chat thread
(``1000``), not spam or archived, whose message being answered is an
``INCOMING`` chat ``MESSAGE`` from the visitor ``V-<associatedContactId>``;
any other visitor or email address on the thread is an outside participant.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveuser import Mechanism, Refusal, VerificationRecord, VerifiedUser, normalize_email
from liveuser.models import Channel

from .client import Contact, Message, Thread

VENDOR = "HubSpot"
EMAIL_CHANNEL = "1002"
CHAT_CHANNEL = "1000"
EMAIL_ID = "HS_EMAIL_ADDRESS"
STAFF_ACTORS = ("A-", "S-", "B-", "I-", "L-")
"""Agents, system, bots, integrations and HubSpot's AI agent: not outside people."""

CHAT_REASON = (
    "HubSpot live chat needs the host's attestation that this thread began on its "
    "logged-in page; a typed email, chatflow answer, contact or identification token "
    "is not proof"
)


@dataclass(frozen=True)
class ChatShape:
    """A live-chat thread fit for an attestation: its contact and outside participants."""

    contact_id: str
    message_id: str
    others: tuple[str, ...]


def check_thread(thread: Thread, thread_id: str, channel: Channel) -> Refusal | None:
    if thread.id != thread_id:
        return Refusal(reason=f"HubSpot answered about another thread than {thread_id}")
    email = channel is Channel.hubspot_email
    want, kind = (EMAIL_CHANNEL, "an email") if email else (CHAT_CHANNEL, "a live chat")
    if thread.original_channel_id != want:
        return Refusal(
            reason=f"HubSpot thread {thread_id} is not {kind} thread "
            f"(channel {thread.original_channel_id[:20]!r})"
        )
    if thread.spam:
        return Refusal(reason=f"HubSpot marked thread {thread_id} as spam")
    if thread.archived:
        return Refusal(reason=f"HubSpot thread {thread_id} is archived")
    if not (thread.associated_contact_id.isascii() and thread.associated_contact_id.isdigit()):
        return Refusal(reason=f"HubSpot thread {thread_id} has no contact yet")
    return None


def pick_message(
    messages: list[Message], thread_id: str, message_id: str | None, channel_id: str
) -> Message | Refusal:
    """The message being answered: the one named, else the thread's latest incoming one."""
    own = [m for m in messages if m.conversations_thread_id in (None, thread_id)]
    if message_id is not None:
        named = [m for m in own if m.id == message_id]
        if not named:
            return Refusal(
                reason=f"message {message_id[:40]!r} is not on HubSpot thread {thread_id}"
            )
        chosen = named[0]
    else:
        incoming = [m for m in own if m.type == "MESSAGE" and m.direction == "INCOMING"]
        if not incoming:
            return Refusal(reason=f"HubSpot thread {thread_id} has no incoming message")
        chosen = max(enumerate(incoming), key=lambda pair: (pair[1].created_at or "", pair[0]))[1]
    if chosen.type != "MESSAGE" or chosen.direction != "INCOMING":
        return Refusal(reason=f"the message answered on HubSpot thread {thread_id} is not incoming")
    if chosen.channel_id != channel_id:
        return Refusal(
            reason=f"the message answered on HubSpot thread {thread_id} came on channel "
            f"{(chosen.channel_id or '')[:20]!r}, not {channel_id}"
        )
    return chosen


def _address(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError:
        return value[:80]


def judge_email(
    thread: Thread,
    messages: list[Message],
    *,
    tenant: str,
    message_id: str | None,
    support_addresses: frozenset[str],
) -> VerifiedUser | Refusal:
    """Apply the hubspot_email rule (module docstring) to the thread and its messages.

    The verified email is the answered message's ``HS_EMAIL_ADDRESS`` sender;
    the contact is not consulted (see :func:`confirm_contact`).
    """
    tid = thread.id
    chosen = pick_message(messages, tid, message_id, EMAIL_CHANNEL)
    if isinstance(chosen, Refusal):
        return chosen
    if len(chosen.senders) != 1:
        return Refusal(
            reason=f"the email answered on HubSpot thread {tid} has {len(chosen.senders)} "
            "senders (forwarded or relayed mail), so its author is ambiguous"
        )
    sender = chosen.senders[0]
    if sender.sender_field not in (None, "FROM"):
        return Refusal(reason=f"the email answered on HubSpot thread {tid} has no From sender")
    ident = sender.delivery_identifier
    if ident is None or ident.type != EMAIL_ID:
        return Refusal(
            reason=f"the sender of the email answered on HubSpot thread {tid} has no email address"
        )
    try:
        email = normalize_email(ident.value)
    except ValueError:
        return Refusal(reason=f"HubSpot's sender address on thread {tid} is not an email address")
    actor = sender.actor_id or ""
    if actor.startswith("V-") and actor != f"V-{thread.associated_contact_id}":
        return Refusal(reason=f"the sender of HubSpot thread {tid} is not its contact")
    others: set[str] = set()
    for msg in messages:
        if msg.type != "MESSAGE" or msg.channel_id != EMAIL_CHANNEL:
            continue
        for party in (*msg.senders, *msg.recipients):
            if party.delivery_identifier is not None and party.delivery_identifier.type == EMAIL_ID:
                addr = _address(party.delivery_identifier.value)
                if addr != email and addr not in support_addresses:
                    others.add(addr)
            elif (party.actor_id or "").startswith(("V-", "E-")) and party.actor_id != (
                f"V-{thread.associated_contact_id}"
            ):
                others.add((party.actor_id or "")[:80])
    return VerifiedUser(
        tenant=tenant,
        email=email,
        channel=Channel.hubspot_email,
        record=VerificationRecord(
            vendor=VENDOR,
            mechanism=Mechanism.email_ticket,
            evidence=f"incoming email {chosen.id} on thread {tid} from its HS_EMAIL_ADDRESS "
            f"sender (thread contact {thread.associated_contact_id})",
            other_participants=tuple(sorted(others)),
        ),
    )


def confirm_contact(
    verdict: VerifiedUser, thread: Thread, contact: Contact
) -> VerifiedUser | Refusal:
    """The ``confirm_contact_email`` cross-check of an email ``verdict`` of :func:`judge_email`.

    The thread's contact must be the one read, not archived, and its ``email``
    property (normalised) must be the verified sender's address, else a
    refusal; a confirmed verdict's evidence says the contact was read.
    """
    tid = thread.id
    if contact.id != thread.associated_contact_id or contact.archived:
        return Refusal(reason=f"HubSpot thread {tid}'s contact could not be read")
    try:
        contact_email = normalize_email(contact.properties.get("email") or "")
    except ValueError:
        return Refusal(reason=f"HubSpot thread {tid}'s contact has no email address")
    if contact_email != verdict.email:
        return Refusal(
            reason=f"the sender of HubSpot thread {tid} is not the email address of its contact"
        )
    record = verdict.record.model_copy(
        update={"evidence": f"{verdict.record.evidence}, whose email property matches"}
    )
    return verdict.model_copy(update={"record": record})


def check_chat(
    thread: Thread, messages: list[Message], *, message_id: str | None
) -> ChatShape | Refusal:
    """Apply the hubspot_chat shape checks (module docstring) to HubSpot's answers."""
    tid = thread.id
    chosen = pick_message(messages, tid, message_id, CHAT_CHANNEL)
    if isinstance(chosen, Refusal):
        return chosen
    visitor = f"V-{thread.associated_contact_id}"
    if [s.actor_id for s in chosen.senders] != [visitor]:
        return Refusal(
            reason=f"the chat message answered on HubSpot thread {tid} is not from its contact"
        )
    others: set[str] = set()
    for msg in messages:
        for party in (*msg.senders, *msg.recipients):
            actor = party.actor_id or ""
            if actor == visitor or actor.startswith(STAFF_ACTORS):
                continue
            ident = party.delivery_identifier
            if actor:
                others.add(actor[:80])
            elif ident is not None and ident.type == EMAIL_ID:
                others.add(_address(ident.value))
    return ChatShape(thread.associated_contact_id, chosen.id, tuple(sorted(others)))
