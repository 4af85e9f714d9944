"""The built-in ``host`` connector, and host attestations for vendor connectors.

**Verification rule (channel ``host``).** A host application that logged its
own user in opens a conversation with ``claims={"token": <identity JWT>}``,
signed with the tenant's host key (:func:`liveuser.tokens.mint_token`,
purpose ``identity``). The token's subject is the verified user. A missing,
unsigned, expired, tampered, wrong-audience or wrong-tenant token is refused
with the reason. If the host lists other people in the chat
(``payload["participants"]``), they are recorded and the pipeline refuses.

**Attestations.** For a vendor live chat whose own data cannot prove who is
typing, the host may present ``claims={"attestation": <JWT>}`` binding that
vendor conversation (channel and conversation id) to its logged-in user.
Connectors call :func:`verify_host_attestation` and, when the subject matches
the conversation's contact, accept it as proof.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, ClassVar

from .errors import TokenError
from .hookspecs import hookimpl
from .models import (
    Channel,
    Conversation,
    Mechanism,
    Refusal,
    VerificationRecord,
    VerifiedUser,
)
from .plugin import NoSettings, Plugin
from .tokens import HostClaims, KeyRing, Purpose, verify_attestation, verify_token


class _VerifiedTokens:
    """Identity tokens this tenant verified lately, until each one expires.

    A host sends the same token with every message of a session; its
    signature and claims cannot change, so they are checked once, and the
    VerifiedUser they prove (frozen) is built once. The time is checked on
    every use, and a rotated key ring starts a new cache.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[int, str, str], tuple[HostClaims, VerifiedUser]] = (
            OrderedDict()
        )
        self._max = max_entries

    def verify(self, keys: KeyRing, token: str, conversation: Conversation) -> VerifiedUser:
        """The user ``token`` proves for ``conversation``; a TokenError when it proves none."""
        key = (id(keys), token, conversation.channel.value)
        seen = self._seen.get(key)
        if seen is not None and seen[0].expires_at > datetime.now(UTC):
            self._seen.move_to_end(key)
            return seen[1]
        claims = verify_token(keys, token, tenant=conversation.tenant, purpose=Purpose.identity)
        user = VerifiedUser(
            tenant=conversation.tenant,
            email=claims.subject,
            channel=conversation.channel,
            record=VerificationRecord(
                vendor="host",
                mechanism=Mechanism.host_token,
                evidence=f"identity token {claims.token_id}",
                key_id=claims.key_id,
                expires_at=claims.expires_at,
            ),
        )
        self._seen[key] = (claims, user)
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return user

    def forget(self, email: str) -> int:
        """Drop every remembered token that verified ``email``; how many."""
        gone = [key for key, (_, user) in self._seen.items() if user.email == email]
        for key in gone:
            del self._seen[key]
        return len(gone)


class HostConnector(Plugin[NoSettings]):
    """Verifies the host application's own users by their identity token."""

    name: ClassVar[str] = "host"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.host})

    def __init__(self, settings: NoSettings | None = None) -> None:
        super().__init__(settings)
        self._tokens = _VerifiedTokens()

    @hookimpl
    def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        keys = self.runtime.host_keys
        if keys is None:
            return Refusal(reason=f"host tokens are not configured for tenant {self.tenant}")
        token = conversation.claims.get("token")
        if not token:
            return Refusal(reason="the host sent no identity token")
        try:
            user = self._tokens.verify(keys, token, conversation)
        except TokenError as exc:
            return Refusal(reason=f"host identity token refused: {exc}")
        others = _other_participants(conversation.payload, user.email)
        if not others:
            return user
        record = user.record.model_copy(update={"other_participants": others})
        return user.model_copy(update={"record": record})

    def forget(self, email: str) -> int:
        """Drop the verified tokens remembered for ``email`` (the normalised address)."""
        return self._tokens.forget(email)


def _other_participants(payload: Any, subject: str) -> tuple[str, ...]:
    listed = payload.get("participants", ()) if hasattr(payload, "get") else ()
    if not listed:
        return ()
    from .identity import normalize_email

    others = []
    for who in listed if isinstance(listed, list | tuple) else [listed]:
        try:
            email = normalize_email(str(who))
        except ValueError:
            email = str(who)
        if email != subject:
            others.append(email)
    return tuple(others)


def verify_host_attestation(
    keys: KeyRing | None, conversation: Conversation, *, vendor: str, contact: str | None
) -> VerifiedUser | Refusal | None:
    """Check ``conversation.claims["attestation"]``; None when there is none.

    ``contact`` is the normalised email the vendor records as this
    conversation's contact: an attestation proves who the host's user is, and
    the conversation must be theirs, so a different (or unknown) contact is a
    refusal.
    """
    token = conversation.claims.get("attestation")
    if not token:
        return None
    if keys is None:
        return Refusal(reason=f"host tokens are not configured for tenant {conversation.tenant}")
    try:
        claims = verify_attestation(
            keys,
            token,
            tenant=conversation.tenant,
            channel=conversation.channel,
            conversation_id=conversation.conversation_id,
        )
    except TokenError as exc:
        return Refusal(reason=f"host attestation refused: {exc}")
    if contact is None or contact != claims.subject:
        return Refusal(reason=f"the host's user is not this {vendor} conversation's contact")
    return VerifiedUser(
        tenant=conversation.tenant,
        email=claims.subject,
        channel=conversation.channel,
        record=VerificationRecord(
            vendor=vendor,
            mechanism=Mechanism.host_attestation,
            evidence=f"host attestation {claims.token_id} for conversation "
            f"{conversation.conversation_id}",
            key_id=claims.key_id,
            expires_at=claims.expires_at,
        ),
    )
