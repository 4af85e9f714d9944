"""The HubSpot connector: channels ``hubspot_email`` and ``hubspot_chat``.

The conversation id is the conversations-inbox thread id; a conversation may
name the message being answered in ``payload["message_id"]`` (a webhook's
``messageId``), else the thread's latest incoming message is answered.
An email is decided by two requests, ``GET .../threads/{id}`` and ``GET
.../threads/{id}/messages``: the sender's address is HubSpot's record of the
mail's From, and the thread's contact is resolved from that same address, so
reading the contact proves nothing more. The ``confirm_contact_email`` setting
adds that read (``GET /crm/v3/objects/contacts/{contact}?properties=email``,
only once the messages verify) and refuses a contact whose email differs. An
attested chat takes three: the thread, its messages and the visitor's contact,
whose email the host's attestation is compared with. A refusal on the thread
alone (spam, archived, wrong channel) costs one request, and an unattested chat
none. The rules are in :mod:`liveuser_hubspot.rules`.
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
    TokenError,
    VerifiedUser,
    hookimpl,
    normalize_email,
)
from liveuser.host import verify_host_attestation
from liveuser.tokens import verify_attestation
from liveuser.webhook_routes import webhook_route
from liveuser.webhooks import SeenDeliveries

from .settings import HubSpotSettings
from .webhooks import FORGET_TYPES, HubSpotEvent, verify_delivery

if TYPE_CHECKING:
    from .client import HubSpotClient

# The API client with its answer models and the rules are imported by the first
# verification: loading and building the plugin does not pay for them.

MESSAGE_ID_KEY = "message_id"


class HubSpotPlugin(Plugin[HubSpotSettings]):
    """Verifies HubSpot inbound email senders, and chat visitors the host attests."""

    name: ClassVar[str] = "hubspot"
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.hubspot_email, Channel.hubspot_chat}
    )
    settings_model = HubSpotSettings

    def __init__(self, settings: HubSpotSettings | None = None) -> None:
        super().__init__(settings)
        self._client: HubSpotClient | None = None
        self._seen = SeenDeliveries(ttl=2 * self.settings.webhook_max_age_seconds)

    @property
    def client(self) -> HubSpotClient:
        if self._client is None:
            from .client import HubSpotClient

            self._client = HubSpotClient(self.http, self.settings, self.runtime.max_response_bytes)
        return self._client

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal:
        if conversation.channel not in self.channels:
            return Refusal(
                reason=f"the hubspot connector does not own {conversation.channel.value}"
            )
        message_id = conversation.payload.get(MESSAGE_ID_KEY)
        if message_id is not None and not (
            isinstance(message_id, str) and 0 < len(message_id) <= 100
        ):
            return Refusal(reason="the HubSpot message id in the payload is not a string")
        from .client import HubSpotFailure, check_id

        try:
            thread_id = check_id(conversation.conversation_id, "thread")
            if conversation.channel is Channel.hubspot_chat:
                return await self._verify_chat(conversation, thread_id, message_id)
            return await self._verify_email(conversation, thread_id, message_id)
        except HubSpotFailure as exc:
            return Refusal(reason=exc.reason)

    async def _verify_email(
        self, conversation: Conversation, thread_id: str, message_id: str | None
    ) -> VerifiedUser | Refusal:
        from . import rules

        thread = await self.client.thread(thread_id)
        refused = rules.check_thread(thread, thread_id, Channel.hubspot_email)
        if refused is not None:
            return refused
        messages = await self.client.messages(thread_id)
        verdict = rules.judge_email(
            thread,
            messages,
            tenant=conversation.tenant,
            message_id=message_id,
            support_addresses=self.settings.support_addresses,
        )
        if isinstance(verdict, Refusal) or not self.settings.confirm_contact_email:
            return verdict
        contact = await self.client.contact(thread.associated_contact_id)
        return rules.confirm_contact(verdict, thread, contact)

    async def _verify_chat(
        self, conversation: Conversation, thread_id: str, message_id: str | None
    ) -> VerifiedUser | Refusal:
        from . import rules

        if not conversation.claims.get("attestation"):
            return Refusal(reason=rules.CHAT_REASON)
        keys = self.runtime.host_keys
        if keys is None:
            return Refusal(reason=f"host tokens are not configured for tenant {self.tenant}")
        try:  # a forged or stale attestation costs no request
            verify_attestation(
                keys,
                conversation.claims["attestation"],
                tenant=conversation.tenant,
                channel=conversation.channel,
                conversation_id=conversation.conversation_id,
            )
        except TokenError as exc:
            return Refusal(reason=f"host attestation refused: {exc}")
        thread = await self.client.thread(thread_id)
        refused = rules.check_thread(thread, thread_id, Channel.hubspot_chat)
        if refused is not None:
            return refused
        messages = await self.client.messages(thread_id)
        shape = rules.check_chat(thread, messages, message_id=message_id)
        if isinstance(shape, Refusal):
            return shape
        contact = await self.client.contact(shape.contact_id)
        try:
            email: str | None = normalize_email(contact.properties.get("email") or "")
        except ValueError:
            email = None
        if contact.id != shape.contact_id or contact.archived:
            email = None
        verdict = verify_host_attestation(keys, conversation, vendor=rules.VENDOR, contact=email)
        if not isinstance(verdict, VerifiedUser):
            return verdict or Refusal(reason=rules.CHAT_REASON)
        record = verdict.record.model_copy(
            update={
                "evidence": f"{verdict.record.evidence}; visitor V-{shape.contact_id} wrote "
                f"message {shape.message_id}",
                "other_participants": shape.others,
            }
        )
        return verdict.model_copy(update={"record": record})

    async def identification_token(
        self, email: str, first_name: str | None = None, last_name: str | None = None
    ) -> str:
        """Mint a HubSpot visitor identification token for the host's logged-in user.

        The host puts it in ``window.hsConversationsSettings`` so HubSpot shows
        the right contact. It is never proof for liveuser: a chat is verified
        only by the host's attestation. Raises :class:`HubSpotFailure`.
        """
        return await self.client.identification_token(normalize_email(email), first_name, last_name)

    async def conversation_for_event(self, event: HubSpotEvent) -> Conversation | None:
        """The conversation a ``conversation.newMessage`` event asks to answer, or None.

        One request (``GET .../threads/{t}/messages/{m}``) tells the message's
        channel: ``1002`` is ``hubspot_email``, ``1000`` is ``hubspot_chat``;
        other channels, other events, comments and outgoing messages give None.
        Nothing in the event is trusted: verification reads the thread again.
        """
        if event.subscription_type != "conversation.newMessage" or event.message_id is None:
            return None
        if event.message_type not in (None, "MESSAGE"):
            return None
        from . import rules
        from .client import HubSpotFailure, check_id, check_message_id

        try:
            message = await self.client.message(
                check_id(event.thread_id, "thread"), check_message_id(event.message_id)
            )
        except HubSpotFailure:
            return None
        if message.type != "MESSAGE" or message.direction != "INCOMING":
            return None
        channel = {
            rules.EMAIL_CHANNEL: Channel.hubspot_email,
            rules.CHAT_CHANNEL: Channel.hubspot_chat,
        }.get(message.channel_id or "")
        return None if channel is None else conversation_for(self.tenant, event, channel)

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /`` (under ``/webhooks/hubspot/<tenant>/`` in ``liveuser serve``):
        deliveries checked by :meth:`receive_webhook` against ``webhook_url``.

        Answers ``{"events": [{"subscription_type", "thread_id"}, …]}`` (``{}``
        for none) without calling HubSpot: a new message's channel costs a
        request (:meth:`conversation_for_event`), and HubSpot wants its answer
        at once. Without ``webhook_url`` the route answers ``503``.
        """

        def handle(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
            url = self.settings.webhook_url
            if url is None:
                raise ConfigError(f"tenant {self.tenant}: hubspot webhook_url is not set")
            events = self.receive_webhook("POST", url, headers, body)
            named = [
                {"subscription_type": e.subscription_type, "thread_id": e.thread_id} for e in events
            ]
            return {"events": named} if named else {}

        return [webhook_route("/", handle)]

    def receive_webhook(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float | None = None,
    ) -> list[HubSpotEvent]:
        """Verify a delivery's v3 signature; drop cached verifications it makes stale.

        ``uri`` is the full public URL HubSpot called. Returns the delivery's
        conversation events; turn a ``conversation.newMessage`` into the
        conversation to answer with :meth:`conversation_for_event`. Raises
        :class:`liveuser.WebhookError` for a forged, altered, stale or replayed
        delivery, and :class:`liveuser.ConfigError` without a client secret.
        """
        secret = self.settings.client_secret
        if secret is None:
            raise ConfigError(f"tenant {self.tenant}: hubspot client_secret is not set")
        events = verify_delivery(
            secret.get_secret_value(),
            method,
            uri,
            headers,
            body,
            max_age=self.settings.webhook_max_age_seconds,
            now=now,
            seen=self._seen,
            namespace=self.tenant,
        )
        for event in events:
            if event.subscription_type in FORGET_TYPES:
                for channel in self.channels:
                    self.runtime.forget_verification(
                        ConversationKey(
                            tenant=self.tenant, channel=channel, conversation_id=event.thread_id
                        )
                    )
        return events


def conversation_for(tenant: str, event: HubSpotEvent, channel: Channel) -> Conversation:
    """The conversation a ``conversation.newMessage`` event asks to answer."""
    payload = {MESSAGE_ID_KEY: event.message_id} if event.message_id else {}
    return Conversation(
        tenant=tenant, channel=channel, conversation_id=event.thread_id, payload=payload
    )
