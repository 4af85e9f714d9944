"""The Zendesk connector: channels ``zendesk_ticket`` and ``zendesk_messaging``.

``zendesk_ticket``: the conversation id is the ticket id; one request
(``GET /api/v2/tickets/{id}?include=users``) decides. ``zendesk_messaging``:
the conversation id is the Sunshine Conversations conversation id; the
participants are read, then either the host-passed login JWT
(``claims["messaging_jwt"]``) is checked locally (one request in all) or the
author's Messaging user is read for Zendesk's own ``authenticated`` record
(two requests). The rules themselves are in :mod:`liveuser_zendesk.rules`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from liveuser import (
    Channel,
    Conversation,
    ConversationKey,
    Plugin,
    Refusal,
    VerifiedUser,
    hookimpl,
)
from liveuser.webhook_routes import named_conversations, webhook_route
from liveuser.webhooks import SeenDeliveries

from .settings import ZendeskSettings
from .webhooks import (
    MessagingHint,
    SupportEvent,
    verify_messaging_webhook,
    verify_support_webhook,
)

if TYPE_CHECKING:
    from .client import ZendeskClient

# The API client with its answer models, the rules and the login-token check are
# imported by the first verification: loading and building the plugin does not pay for them.

_MAX_TRACKED_USERS = 50_000


class ZendeskPlugin(Plugin[ZendeskSettings]):
    """Verifies Zendesk email-ticket requesters and authenticated Messaging users."""

    name: ClassVar[str] = "zendesk"
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.zendesk_ticket, Channel.zendesk_messaging}
    )
    settings_model = ZendeskSettings

    def __init__(self, settings: ZendeskSettings | None = None) -> None:
        super().__init__(settings)
        self._client: ZendeskClient | None = None
        self._seen = SeenDeliveries(ttl=2 * self.settings.webhook_tolerance_seconds)
        # Zendesk user id -> conversations verified for that user (for user webhooks).
        self._by_user: OrderedDict[str, set[ConversationKey]] = OrderedDict()

    @property
    def client(self) -> ZendeskClient:
        if self._client is None:
            from .client import ZendeskClient

            self._client = ZendeskClient(self.http, self.settings, self.runtime.max_response_bytes)
        return self._client

    # -- verification --------------------------------------------------------

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from .client import ZendeskFailure

        try:
            if conversation.channel is Channel.zendesk_ticket:
                return await self._verify_ticket(conversation)
            if conversation.channel is Channel.zendesk_messaging:
                return await self._verify_messaging(conversation)
        except ZendeskFailure as exc:
            return Refusal(reason=exc.reason)
        return Refusal(reason=f"the zendesk connector does not own {conversation.channel.value}")

    async def _verify_ticket(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules

        raw = conversation.conversation_id
        # Canonical digits only: "01001" would be ticket 1001 under another conversation key,
        # whose cached verification no webhook about ticket 1001 would ever drop.
        if not (raw.isascii() and raw.isdigit()) or raw.startswith("0") or len(raw) > 20:
            return Refusal(reason=f"{raw!r} is not a Zendesk ticket id")
        answer = await self.client.ticket(int(raw))
        if answer.ticket.id != int(raw):
            return Refusal(reason=f"Zendesk answered about another ticket than {raw}")
        verdict = rules.judge_ticket(answer, tenant=conversation.tenant)
        if isinstance(verdict, VerifiedUser):
            self._track(str(answer.ticket.requester_id), conversation.key)
        return verdict

    async def _verify_messaging(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules
        from .messaging import LoginTokenError, check_login_jwt

        if not self.settings.messaging_api_configured:
            return Refusal(reason="Zendesk Messaging is not configured for this tenant")
        cid = conversation.conversation_id
        hinted = conversation.payload.get("user_id")
        if hinted is not None and not isinstance(hinted, str):
            return Refusal(reason="the messaging author id is not a string")
        listed = await self.client.participants(cid)
        if listed.meta.has_more:
            return Refusal(
                reason=f"Zendesk Messaging conversation {cid} has many participants, so user "
                "data would reach them too"
            )
        picked = rules.pick_author(listed.participants, hinted, cid)
        if isinstance(picked, Refusal):
            return picked
        author, others = picked
        token = conversation.claims.get("messaging_jwt")
        if token:
            try:
                claims = check_login_jwt(
                    token,
                    self.settings.messaging_jwt_keys,
                    leeway=self.settings.messaging_jwt_leeway_seconds,
                )
            except LoginTokenError as exc:
                return Refusal(reason=str(exc))
            return rules.judge_login_token(
                claims, author, others, tenant=conversation.tenant, conversation_id=cid
            )
        user = await self.client.messaging_user(author.user_id)
        verdict = rules.judge_messaging_user(
            user, author, others, tenant=conversation.tenant, conversation_id=cid
        )
        if isinstance(verdict, VerifiedUser) and user.zendesk_id is not None:
            self._track(str(user.zendesk_id), conversation.key)
        return verdict

    def _track(self, user_id: str, key: ConversationKey) -> None:
        keys = self._by_user.pop(user_id, set())
        keys.add(key)
        self._by_user[user_id] = keys
        while len(self._by_user) > _MAX_TRACKED_USERS:
            self._by_user.popitem(last=False)

    # -- webhooks ------------------------------------------------------------

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /support`` and ``POST /messaging`` (under ``/webhooks/zendesk/<tenant>/``
        in ``liveuser serve``): deliveries checked by :meth:`receive_support_webhook`
        and :meth:`receive_messaging_webhook`, answered with the conversations
        they name (:func:`~liveuser.webhook_routes.named_conversations`)."""

        def support(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations([self.receive_support_webhook(headers, body)])

        def messaging(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations(self.receive_messaging_webhook(headers, body))

        return [webhook_route("/support", support), webhook_route("/messaging", messaging)]

    def receive_support_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> Conversation | None:
        """Verify a Support webhook; drop cached verifications it makes stale.

        Returns the ticket conversation it is about (None for user events).
        Raises :class:`liveuser.WebhookError` for a forged, altered, stale or
        replayed delivery, and :class:`liveuser.ConfigError` without a secret.
        """
        event = self._support_event(headers, body, now)
        if event.forgets_ticket and event.ticket_id is not None:
            self.runtime.forget_verification(
                ConversationKey(
                    tenant=self.tenant,
                    channel=Channel.zendesk_ticket,
                    conversation_id=event.ticket_id,
                )
            )
        if event.forgets_user and event.user_id is not None:
            for key in self._by_user.pop(event.user_id, set()):
                self.runtime.forget_verification(key)
        return event.conversation(self.tenant)

    def _support_event(
        self, headers: Mapping[str, str], body: bytes, now: float | None
    ) -> SupportEvent:
        from liveuser import ConfigError

        secret = self.settings.webhook_secret
        if secret is None:
            raise ConfigError(f"tenant {self.tenant}: zendesk webhook_secret is not set")
        return verify_support_webhook(
            secret.get_secret_value(),
            headers,
            body,
            seen=self._seen,
            tolerance=self.settings.webhook_tolerance_seconds,
            now=now,
            namespace=self.tenant,
        )

    def receive_messaging_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[Conversation]:
        """Check a Messaging webhook's key; one conversation per new user message.

        Each conversation names the author only as a hint: verification reads
        the participants and the user again through the API.
        """
        from liveuser import ConfigError

        secret = self.settings.messaging_webhook_secret
        if secret is None:
            raise ConfigError(f"tenant {self.tenant}: zendesk messaging_webhook_secret is not set")
        hints: list[MessagingHint] = verify_messaging_webhook(
            secret.get_secret_value(), headers, body, seen=self._seen, namespace=self.tenant
        )
        return [hint.conversation(self.tenant) for hint in hints]
