"""The Gorgias connector: channels ``gorgias_ticket`` (verified) and ``gorgias_chat`` (refused).

``gorgias_ticket``: the conversation id is the ticket id; one request
(``GET /api/tickets/{id}``, customer and messages embedded) decides, by the
rule in :mod:`liveuser_gorgias.rules`. ``gorgias_chat``: always refused, with
no request, since Gorgias Live Chat identity is whatever the visitor typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

from .settings import GorgiasSettings
from .webhooks import read_delivery

if TYPE_CHECKING:
    from .client import GorgiasClient

# The API client with its answer models and the rules are imported by the first
# verification: loading and building the plugin does not pay for them.


class GorgiasPlugin(Plugin[GorgiasSettings]):
    """Verifies the customer of an emailed Gorgias ticket; refuses Gorgias Live Chat."""

    name: ClassVar[str] = "gorgias"
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.gorgias_ticket, Channel.gorgias_chat}
    )
    settings_model = GorgiasSettings

    def __init__(self, settings: GorgiasSettings | None = None) -> None:
        super().__init__(settings)
        self._client: GorgiasClient | None = None
        self._seen = SeenDeliveries(ttl=86400.0)

    @property
    def client(self) -> GorgiasClient:
        if self._client is None:
            from .client import GorgiasClient

            self._client = GorgiasClient(self.http, self.settings, self.runtime.max_response_bytes)
        return self._client

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        from . import rules
        from .client import GorgiasFailure

        if conversation.channel is Channel.gorgias_chat:
            return Refusal(reason=rules.CHAT_REASON)
        if conversation.channel is not Channel.gorgias_ticket:
            return Refusal(
                reason=f"the gorgias connector does not own {conversation.channel.value}"
            )
        raw = conversation.conversation_id
        # Canonical digits only: "0153006801" would be a ticket under another conversation
        # key, whose cached verification no webhook about the ticket would ever drop.
        if not (raw.isascii() and raw.isdigit()) or raw.startswith("0") or len(raw) > 20:
            return Refusal(reason=f"{raw!r} is not a Gorgias ticket id")
        try:
            ticket = await self.client.ticket(int(raw))
        except GorgiasFailure as exc:
            return Refusal(reason=exc.reason)
        if ticket.id != int(raw):
            return Refusal(reason=f"Gorgias answered about another ticket than {raw}")
        return rules.judge_ticket(ticket, tenant=conversation.tenant)

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /`` (under ``/webhooks/gorgias/<tenant>/`` in ``liveuser serve``):
        the HTTP integration's deliveries, checked by :meth:`receive_webhook`,
        answered with the ticket they name
        (:func:`~liveuser.webhook_routes.named_conversations`)."""

        def handle(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            return named_conversations([self.receive_webhook(headers, body)])

        return [webhook_route("/", handle)]

    def receive_webhook(self, headers: Mapping[str, str], body: bytes) -> Conversation:
        """Check an HTTP-integration delivery's shared secret; return its ticket's conversation.

        The delivery is a hint only: the ticket's cached verification is
        dropped, so the next context reads the ticket again through the API.
        Raises :class:`liveuser.WebhookError` for a missing or wrong secret, a
        body without a ticket id, or a replayed message id, and
        :class:`liveuser.ConfigError` when no ``webhook_token`` is set.
        """
        token = self.settings.webhook_token
        if token is None:
            raise ConfigError(f"tenant {self.tenant}: gorgias webhook_token is not set")
        hint = read_delivery(
            token.get_secret_value(),
            headers,
            body,
            header=self.settings.webhook_header,
            seen=self._seen,
            namespace=self.tenant,
        )
        self.runtime.forget_verification(
            ConversationKey(
                tenant=self.tenant, channel=Channel.gorgias_ticket, conversation_id=hint.ticket_id
            )
        )
        return hint.conversation(self.tenant)
