"""The typed values that move through a conversation.

``Conversation`` comes in; ``verify_user`` turns it into a ``VerifiedUser``
(always with its ``VerificationRecord``) or a ``Refusal``; back-ends answer
``UserData``; the renderer and the meter produce a ``Context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .identity import normalize_email

Email = Annotated[str, AfterValidator(normalize_email)]
"""An email address, normalised by :func:`liveuser.identity.normalize_email`."""


class Channel(StrEnum):
    """Where a conversation happens. Exactly one plugin owns each channel."""

    zendesk_ticket = "zendesk_ticket"
    zendesk_messaging = "zendesk_messaging"
    intercom = "intercom"
    gorgias_ticket = "gorgias_ticket"
    gorgias_chat = "gorgias_chat"
    hubspot_email = "hubspot_email"
    hubspot_chat = "hubspot_chat"
    freshdesk = "freshdesk"
    freshchat = "freshchat"
    host = "host"


class Mechanism(StrEnum):
    """How a user's identity was established."""

    email_ticket = "email_ticket"
    """The vendor's record of an inbound email's requester."""
    signed_jwt = "signed_jwt"
    """A JWT the vendor (or the business, for the vendor) signed."""
    identity_hash = "identity_hash"
    """An HMAC identity-verification hash the vendor checked."""
    vendor_authenticated = "vendor_authenticated"
    """The vendor's own record that it authenticated the user (read from its API)."""
    host_token = "host_token"
    """A liveuser identity token minted by the host application."""
    host_attestation = "host_attestation"
    """A host token binding a vendor conversation to the host's logged-in user."""
    operator = "operator"
    """An operator's own check from the CLI; never reachable from a conversation."""


def _now() -> datetime:
    return datetime.now(UTC)


# Every model here has ``defer_build=True``: its validator is built when it is first
# used (the first conversation), not by ``import liveuser`` or building a tenant.
class ConversationKey(BaseModel):
    """What identifies one conversation, across every tenant and channel."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    tenant: str
    channel: Channel
    conversation_id: str


class Conversation(BaseModel):
    """A helpdesk conversation as it reaches liveuser.

    ``payload`` is the vendor's record (webhook body or API answer) and
    ``claims`` the credentials presented with it (a host identity token, an
    attestation, a vendor's signed user token). Neither is trusted until the
    channel's ``verify_user`` has checked it.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    tenant: str = "default"
    channel: Channel
    conversation_id: str = Field(min_length=1, max_length=200)
    payload: Mapping[str, Any] = Field(default_factory=dict)
    claims: Mapping[str, str] = Field(default_factory=dict, repr=False)

    @property
    def key(self) -> ConversationKey:
        # Validating three checked fields is cheaper than model_construct's Python loop.
        return ConversationKey(
            tenant=self.tenant, channel=self.channel, conversation_id=self.conversation_id
        )


class VerificationRecord(BaseModel):
    """How, with what evidence and when a user was verified.

    ``evidence`` is a short human-readable account of what was checked (never
    the secret or token itself). ``expires_at`` is when the evidence stops
    proving anything (a token's expiry): the verification is not reused past
    it. ``other_participants`` lists the outside
    participants the connector saw besides the author (CC, followers, group
    members); the pipeline refuses any conversation where it is not empty.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    vendor: str
    mechanism: Mechanism
    evidence: str
    key_id: str | None = None
    verified_at: datetime = Field(default_factory=_now)
    expires_at: datetime | None = None
    other_participants: tuple[str, ...] = ()


class VerifiedUser(BaseModel):
    """A person whose identity a connector established. Frozen; no defaults.

    Only a ``VerifiedUser`` opens a :class:`~liveuser.silo.Silo`, and every one
    carries its ``record``: there is no anonymous or fallback identity.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    tenant: str
    email: Email
    channel: Channel
    record: VerificationRecord


class Refusal(BaseModel):
    """No user data for this conversation, with a reason a person can read."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    reason: str


class UserData(BaseModel):
    """One back-end's answer about the verified user.

    ``fields`` are shown in their order, most important first; under a tight
    budget the last ones go first. ``items`` (orders, tickets, ...) are listed
    newest first; the oldest go first. Names in ``private`` may be used by
    tools but are never rendered for the model.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    source: str
    kind: str = "account"
    fields: dict[str, Any] = Field(default_factory=dict)
    items: list[dict[str, Any]] = Field(default_factory=list)
    text: str | None = None
    private: frozenset[str] = frozenset()


class Context(BaseModel):
    """The text handed to the model for one message, and what went into it.

    ``text`` is exactly what the model receives and ``chars`` its length in
    code points. ``missing`` maps each back-end left out to its reason and
    ``trimmed`` names what the budget dropped. A context belongs to the
    conversation in ``key``; :meth:`text_for` refuses any other.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    key: ConversationKey
    message_id: str
    text: str
    verified: bool
    refusal: str | None = None
    sources: tuple[str, ...] = ()
    missing: dict[str, str] = Field(default_factory=dict)
    trimmed: tuple[str, ...] = ()
    charged: bool = False
    amount: Decimal = Decimal("0")
    capped: bool = False

    @property
    def chars(self) -> int:
        return len(self.text)

    def text_for(self, conversation: Conversation | ConversationKey) -> str:
        """Return the text, only for the conversation it was built for."""
        from .errors import SiloViolation

        key = conversation.key if isinstance(conversation, Conversation) else conversation
        if key != self.key:
            raise SiloViolation("a context can only be handed to the conversation it was built for")
        return self.text


class MeterRecord(BaseModel):
    """One delivered context or tool result, as the ledger keeps it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    tenant: str
    conversation_id: str
    message_id: str
    tool_call_id: str = ""
    channel: str
    chars: int
    charged: bool
    amount: Decimal
    sources: tuple[str, ...] = ()
    identity_hash: str | None = None
    recorded_at: datetime = Field(default_factory=_now)
