"""The Intercom connector: channel ``intercom`` (conversation id = Intercom's).

Two requests decide (``GET /conversations/{id}``, then ``GET
/contacts/{contact}``); one when the conversation arrives as a signed webhook
(its body is the conversation). A Messenger user verified on the workspace's
enforced security also needs ``GET /me``, once per ``workspace_check_ttl``.
The rules themselves are in :mod:`liveuser_intercom.rules`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from liveuser import (
    Channel,
    ConfigError,
    Conversation,
    ConversationKey,
    Plugin,
    Refusal,
    VerifiedUser,
    WebhookError,
    hookimpl,
    normalize_email,
)
from liveuser.host import verify_host_attestation
from liveuser.webhook_routes import named_conversations, webhook_route
from liveuser.webhooks import SeenDeliveries

from .settings import IntercomSettings
from .webhooks import (
    BODY_KEY,
    FORGET_CONTACT_TOPICS,
    FORGET_CONVERSATION_TOPICS,
    SIGNATURE_HEADER,
    SIGNATURE_KEY,
    conversation_for,
    header,
    verify_notification,
)

if TYPE_CHECKING:
    from .client import Contact, IntercomClient, IntercomConversation, Me

# The API client with its answer models, the rules and the Messenger checks are
# imported by the first verification: loading and building the plugin does not pay for them.

_MAX_TRACKED_CONTACTS = 50_000


class IntercomPlugin(Plugin[IntercomSettings]):
    """Verifies Intercom email senders and identity-verified Messenger users."""

    name: ClassVar[str] = "intercom"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.intercom})
    settings_model = IntercomSettings

    def __init__(self, settings: IntercomSettings | None = None) -> None:
        super().__init__(settings)
        self._client: IntercomClient | None = None
        self._seen = SeenDeliveries(ttl=2 * self.settings.webhook_max_age_seconds)
        self._me: tuple[float, datetime, Me] | None = None
        # Intercom contact id -> conversations verified for that contact (contact webhooks).
        self._by_contact: OrderedDict[str, set[ConversationKey]] = OrderedDict()

    @property
    def client(self) -> IntercomClient:
        if self._client is None:
            from .client import IntercomClient

            self._client = IntercomClient(self.http, self.settings, self.runtime.max_response_bytes)
        return self._client

    # -- verification --------------------------------------------------------

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from .client import IntercomFailure

        if conversation.channel is not Channel.intercom:
            return Refusal(
                reason=f"the intercom connector does not own {conversation.channel.value}"
            )
        try:
            verdict = await self._verify(conversation)
        except IntercomFailure as exc:
            return Refusal(reason=exc.reason)
        return verdict

    async def _verify(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules

        cid = conversation.conversation_id
        conv = self._signed_conversation(conversation)
        if isinstance(conv, Refusal):
            return conv
        if conv is None:
            conv = await self.client.conversation(cid)
        ref = rules.pick_contact(conv, cid)
        if isinstance(ref, Refusal):
            return ref
        contact = await self.client.contact(ref.id)
        mismatch = rules.check_contact(contact, ref, cid)
        if mismatch is not None:
            return mismatch
        if conv.source.type == rules.EMAIL:
            verdict = rules.judge_email(conv, contact, tenant=conversation.tenant)
        else:
            verdict = await self._verify_messenger(conversation, contact)
        if isinstance(verdict, VerifiedUser):
            self._track(contact.id, conversation.key)
        return verdict

    def _signed_conversation(
        self, conversation: Conversation
    ) -> IntercomConversation | Refusal | None:
        """The conversation from a signed webhook body in the payload; None without one."""
        from .client import IntercomConversation, parse

        body = conversation.payload.get(BODY_KEY)
        if body is None:
            return None
        signature = conversation.payload.get(SIGNATURE_KEY)
        secret = self.settings.client_secret
        if secret is None:
            return Refusal(reason="Intercom webhooks are not configured for this tenant")
        if not isinstance(body, str) or not (signature is None or isinstance(signature, str)):
            return Refusal(reason="Intercom webhook refused: the payload is not a raw body")
        try:
            notification = verify_notification(
                secret.get_secret_value(),
                body.encode("utf-8"),
                signature,
                max_age=self.settings.webhook_max_age_seconds,
            )
        except WebhookError as exc:
            return Refusal(reason=f"Intercom webhook refused: {exc}")
        if notification.item_id != conversation.conversation_id:
            return Refusal(reason="the Intercom webhook is about another conversation")
        return parse(IntercomConversation, notification.item, "the webhook's conversation")

    async def _verify_messenger(
        self, conversation: Conversation, contact: Contact
    ) -> VerifiedUser | Refusal:
        from . import rules
        from .messenger import MessengerTokenError, check_messenger_jwt, check_user_hash

        cid = conversation.conversation_id
        refused = rules.check_messenger_contact(contact, cid)
        if refused is not None:
            return refused
        claims = conversation.claims
        if claims.get("attestation"):
            try:
                email = normalize_email(contact.email or "")
            except ValueError:
                email = None
            attested = verify_host_attestation(
                self.runtime.host_keys, conversation, vendor="Intercom", contact=email
            )
            assert attested is not None
            return attested
        token = claims.get("intercom_user_jwt")
        if token:
            secret = self.settings.messenger_jwt_secret
            if secret is None:
                return Refusal(reason="Messenger JWTs cannot be checked: no messenger_jwt_secret")
            try:
                checked = check_messenger_jwt(
                    token, secret.get_secret_value(), leeway=self.settings.jwt_leeway_seconds
                )
            except MessengerTokenError as exc:
                return Refusal(reason=str(exc))
            return rules.judge_messenger_jwt(
                checked, contact, tenant=conversation.tenant, conversation_id=cid
            )
        hashed = claims.get("intercom_user_hash")
        if hashed:
            key = self.settings.identity_verification_secret
            if key is None:
                return Refusal(
                    reason="a user_hash cannot be checked: no identity_verification_secret"
                )
            user_id = claims.get("intercom_user_id", "")
            if user_id != contact.external_id:
                return Refusal(
                    reason="the user_hash belongs to another user than this Intercom "
                    "conversation's contact"
                )
            try:
                check_user_hash(key.get_secret_value(), user_id, hashed)
            except MessengerTokenError as exc:
                return Refusal(reason=str(exc))
        security = self.settings.messenger_security
        if security == "off":
            return Refusal(
                reason="this tenant's Intercom Messenger does not enforce identity "
                "verification, so a Messenger user's identity is unproven (a user_hash alone "
                "never suffices)"
                if hashed
                else "this tenant's Intercom Messenger does not enforce identity verification, "
                "so a Messenger user's identity is unproven"
            )
        if not self.settings.messenger_email_locked:
            return Refusal(
                reason="this tenant has not declared the Intercom contact's email locked "
                "(signed in the Messenger JWT, Messenger updates disabled), so the email on a "
                "Messenger user's record may be one they typed; the host must pass the "
                "Messenger JWT or an attestation"
            )
        me, recheck_at = await self._workspace()
        if not me.app.identity_verification:
            return Refusal(
                reason="Intercom reports identity verification off for this workspace, though "
                "the tenant setting says the Messenger enforces it"
            )
        return rules.judge_secured_messenger(
            contact,
            tenant=conversation.tenant,
            conversation_id=cid,
            security=security,
            app_id=me.app.id_code,
            recheck_at=recheck_at,
            user_hash_checked=bool(hashed),
        )

    async def _workspace(self) -> tuple[Me, datetime]:
        """``GET /me``, reused for ``workspace_check_ttl_seconds``; failures are not kept."""
        now = time.monotonic()
        if self._me is not None and self._me[0] > now:
            return self._me[2], self._me[1]
        me = await self.client.me()
        ttl = self.settings.workspace_check_ttl_seconds
        recheck_at = datetime.now(UTC) + timedelta(seconds=ttl)
        self._me = (now + ttl, recheck_at, me)
        return me, recheck_at

    def _track(self, contact_id: str, key: ConversationKey) -> None:
        keys = self._by_contact.pop(contact_id, set())
        keys.add(key)
        self._by_contact[contact_id] = keys
        while len(self._by_contact) > _MAX_TRACKED_CONTACTS:
            self._by_contact.popitem(last=False)

    # -- webhooks ------------------------------------------------------------

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /`` (under ``/webhooks/intercom/<tenant>/`` in ``liveuser serve``):
        notifications checked by :meth:`receive_webhook`, answered with the
        conversation a user wrote in (its signed body is never echoed), or ``{}``."""

        def handle(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations([self.receive_webhook(headers, body)])

        return [webhook_route("/", handle)]

    def receive_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Conversation | None:
        """Verify a webhook delivery; drop cached verifications it makes stale.

        Returns the conversation to answer for ``conversation.user.created`` and
        ``conversation.user.replied`` (carrying the signed body), else None.
        Raises :class:`liveuser.WebhookError` for a forged, altered, stale or
        replayed delivery, and :class:`liveuser.ConfigError` without a secret.
        """
        secret = self.settings.client_secret
        if secret is None:
            raise ConfigError(f"tenant {self.tenant}: intercom client_secret is not set")
        signature = header(headers, SIGNATURE_HEADER)
        notification = verify_notification(
            secret.get_secret_value(),
            body,
            signature,
            max_age=self.settings.webhook_max_age_seconds,
            now=now,
            seen=self._seen,
            namespace=self.tenant,
        )
        item_id = notification.item_id
        if notification.topic in FORGET_CONVERSATION_TOPICS and item_id is not None:
            self.runtime.forget_verification(
                ConversationKey(
                    tenant=self.tenant, channel=Channel.intercom, conversation_id=item_id
                )
            )
        if notification.topic in FORGET_CONTACT_TOPICS and item_id is not None:
            for key in self._by_contact.pop(item_id, set()):
                self.runtime.forget_verification(key)
        assert signature is not None
        return conversation_for(self.tenant, notification, body, signature)
