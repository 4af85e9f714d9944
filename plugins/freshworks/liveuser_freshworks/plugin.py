"""The Freshworks connector: channels ``freshdesk`` and ``freshchat``.

``freshdesk``: the conversation id is the ticket id; one request
(``GET /api/v2/tickets/{id}?include=requester``) decides. ``freshchat``: the
conversation id is the Freshchat conversation id; the host passes the
user-authentication JWT it signed (``claims["freshchat_jwt"]``), checked
locally first, then the conversation and its user are read (two requests) and
the token must name that user. The rules are in :mod:`liveuser_freshworks.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from liveuser import (
    Channel,
    ConfigError,
    Conversation,
    ConversationKey,
    Plugin,
    Refusal,
    VerifiedUser,
    hookimpl,
)
from liveuser.webhook_routes import named_conversations, webhook_route
from liveuser.webhooks import SeenDeliveries

from .settings import FreshworksSettings
from .webhooks import load_public_key, verify_freshchat_webhook, verify_freshdesk_webhook

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .client import FreshworksClient

# The API client with its answer models, the rules and the chat-token check are
# imported by the first verification: loading and building the plugin does not pay for them.

TOKEN_CLAIM = "freshchat_jwt"


class FreshworksPlugin(Plugin[FreshworksSettings]):
    """Verifies Freshdesk email-ticket requesters and JWT-authenticated Freshchat users."""

    name: ClassVar[str] = "freshworks"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.freshdesk, Channel.freshchat})
    settings_model = FreshworksSettings

    def __init__(self, settings: FreshworksSettings | None = None) -> None:
        super().__init__(settings)
        self._client: FreshworksClient | None = None
        self._seen = SeenDeliveries(ttl=2 * self.settings.webhook_tolerance_seconds)

    @property
    def client(self) -> FreshworksClient:
        if self._client is None:
            from .client import FreshworksClient

            self._client = FreshworksClient(
                self.http, self.settings, self.runtime.max_response_bytes
            )
        return self._client

    @cached_property
    def _jwt_key(self) -> Any:
        s = self.settings
        if s.freshchat_jwt_algorithm == "HS256":
            return s.freshchat_jwt_secret.get_secret_value() if s.freshchat_jwt_secret else None
        if s.freshchat_jwt_public_key is None:
            return None
        try:
            return load_public_key(s.freshchat_jwt_public_key)
        except ValueError as exc:
            raise ConfigError(f"freshworks: freshchat_jwt_public_key: {exc}") from None

    # -- verification --------------------------------------------------------

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from .client import FreshworksFailure

        try:
            if conversation.channel is Channel.freshdesk:
                return await self._verify_ticket(conversation)
            if conversation.channel is Channel.freshchat:
                return await self._verify_chat(conversation)
        except FreshworksFailure as exc:
            return Refusal(reason=exc.reason)
        return Refusal(reason=f"the freshworks connector does not own {conversation.channel.value}")

    async def _verify_ticket(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules

        if not self.settings.freshdesk_configured:
            return Refusal(reason="Freshdesk is not configured for this tenant")
        raw = conversation.conversation_id
        # Canonical digits only: "020" would be ticket 20 under another conversation key,
        # whose cached verification no webhook about ticket 20 would ever drop.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 20 or raw.startswith("0"):
            return Refusal(reason=f"{raw!r} is not a Freshdesk ticket id")
        ticket = await self.client.ticket(int(raw))
        if ticket.id != int(raw):
            return Refusal(reason=f"Freshdesk answered about another ticket than {raw}")
        verdict = rules.judge_ticket(ticket, tenant=conversation.tenant)
        if isinstance(verdict, VerifiedUser) and self.settings.freshdesk_check_contact:
            contact = await self.client.contact(ticket.requester_id)
            refused = rules.judge_contact(verdict, contact, ticket)
            if refused is not None:
                return refused
        return verdict

    async def _verify_chat(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules
        from .chat_token import ChatTokenError, check_chat_jwt

        s = self.settings
        if not s.freshchat_configured:
            return Refusal(reason="Freshchat is not configured for this tenant")
        cid = conversation.conversation_id
        token = conversation.claims.get(TOKEN_CLAIM)
        if not token:
            return Refusal(
                reason="no Freshchat user-authentication token was passed, so this user is "
                "anonymous or self-declared (Freshchat's API shows no authenticated flag)"
            )
        hinted = conversation.payload.get("user_id")
        if hinted is not None and not isinstance(hinted, str):
            return Refusal(reason="the Freshchat message author id is not a string")
        key = self._jwt_key
        if key is None:
            return Refusal(reason="no Freshchat user-authentication key is configured")
        try:
            claims = check_chat_jwt(
                token, s.freshchat_jwt_algorithm, key, leeway=s.freshchat_jwt_leeway_seconds
            )
        except ChatTokenError as exc:
            return Refusal(reason=str(exc))
        chat = await self.client.conversation(cid)
        picked = rules.pick_user(chat, hinted, cid)
        if isinstance(picked, Refusal):
            return picked
        author, others = picked
        user = await self.client.user(author)
        return rules.judge_chat_token(
            claims,
            user,
            author,
            others,
            tenant=conversation.tenant,
            conversation_id=cid,
            key_id=f"freshchat-{s.freshchat_jwt_algorithm.lower()}",
        )

    # -- webhooks ------------------------------------------------------------

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /freshchat`` and ``POST /freshdesk`` (under ``/webhooks/freshworks/<tenant>/``
        in ``liveuser serve``): deliveries checked by :meth:`receive_freshchat_webhook`
        and :meth:`receive_freshdesk_webhook`, answered with the conversation
        they name (:func:`~liveuser.webhook_routes.named_conversations`), or ``{}``."""

        def freshchat(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations([self.receive_freshchat_webhook(headers, body)])

        def freshdesk(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations([self.receive_freshdesk_webhook(headers, body)])

        return [webhook_route("/freshchat", freshchat), webhook_route("/freshdesk", freshdesk)]

    @cached_property
    def _webhook_key(self) -> rsa.RSAPublicKey:
        text = self.settings.freshchat_webhook_public_key
        if text is None:
            raise ConfigError(
                f"tenant {self.tenant}: freshworks freshchat_webhook_public_key is not set"
            )
        try:
            return load_public_key(text)
        except ValueError as exc:
            raise ConfigError(
                f"tenant {self.tenant}: freshworks freshchat_webhook_public_key: {exc}"
            ) from None

    def receive_freshchat_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Conversation | None:
        """Verify a Freshchat delivery; the conversation of the user message it reports.

        Returns None for events other than a user's ``message_create``. Raises
        :class:`liveuser.WebhookError` for a forged, altered, stale or replayed
        delivery, and :class:`liveuser.ConfigError` without the public key. The
        conversation still needs the host's user token to be verified.
        """
        message = verify_freshchat_webhook(
            self._webhook_key,
            headers,
            body,
            seen=self._seen,
            tolerance=self.settings.webhook_tolerance_seconds,
            now=now,
            namespace=self.tenant,
        )
        return None if message is None else message.conversation(self.tenant)

    def receive_freshdesk_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Conversation | None:
        """Check a Freshdesk automation webhook's shared secret; the ticket it names.

        The ticket's cached verification is dropped (the rule fired on an
        update), so the next message re-fetches the ticket. Returns None for a
        repeated delivery. Raises :class:`liveuser.WebhookError` for a missing
        or wrong secret, and :class:`liveuser.ConfigError` without one.
        """
        secret = self.settings.freshdesk_webhook_secret
        if secret is None:
            raise ConfigError(
                f"tenant {self.tenant}: freshworks freshdesk_webhook_secret is not set"
            )
        hint = verify_freshdesk_webhook(
            secret.get_secret_value(), headers, body, seen=self._seen, namespace=self.tenant
        )
        if hint is None:
            return None
        conversation = hint.conversation(self.tenant)
        self.runtime.forget_verification(
            ConversationKey(
                tenant=self.tenant, channel=Channel.freshdesk, conversation_id=hint.ticket_id
            )
        )
        return conversation
