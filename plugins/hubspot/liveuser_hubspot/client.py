"""HubSpot's Conversations v3 and CRM Contacts v3 APIs, as the connector reads them.

Every lookup goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``): retried on 429 and 5xx within the deadline, waiting as long
as HubSpot asks (:func:`wait_hint`). Every way a call can fail ends as a
:class:`HubSpotFailure` whose ``reason`` a person can read; the plugin turns
it into a refusal. Minting a visitor identification token is a write: never
retried.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from liveuser import BackendError, BackendStatusError, BackendTimeout, HttpAnswer, HttpClient
from liveuser.http import retry_after

from .settings import HubSpotSettings

SOURCE = "hubspot"
DAILY_LIMIT_WAIT = 86400.0
"""A daily-limit 429 asks for longer than any deadline: give up at once."""
M = TypeVar("M", bound=BaseModel)


class HubSpotFailure(Exception):
    """A lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class Thread(_Lenient):
    """``PublicThread``; the fields that decide are required, never defaulted."""

    id: StrictStr
    status: StrictStr
    associated_contact_id: StrictStr = Field(alias="associatedContactId")
    original_channel_id: StrictStr = Field(alias="originalChannelId")
    spam: StrictBool
    archived: StrictBool


class DeliveryIdentifier(_Lenient):
    type: StrictStr
    value: StrictStr


class Party(_Lenient):
    """A ``PublicSender`` or ``PublicRecipient``."""

    actor_id: StrictStr | None = Field(None, alias="actorId")
    name: str | None = None
    sender_field: str | None = Field(None, alias="senderField")
    recipient_field: str | None = Field(None, alias="recipientField")
    delivery_identifier: DeliveryIdentifier | None = Field(None, alias="deliveryIdentifier")


class Message(_Lenient):
    """One entry of a thread's messages; only ``type: MESSAGE`` entries carry parties."""

    type: StrictStr
    id: StrictStr
    conversations_thread_id: StrictStr | None = Field(None, alias="conversationsThreadId")
    created_at: str | None = Field(None, alias="createdAt")
    direction: StrictStr | None = None
    channel_id: StrictStr | None = Field(None, alias="channelId")
    senders: list[Party] = Field(default_factory=list)
    recipients: list[Party] = Field(default_factory=list)


class _Next(_Lenient):
    after: StrictStr


class _Paging(_Lenient):
    next: _Next | None = None


class MessagePage(_Lenient):
    results: list[Message]
    paging: _Paging | None = None


class Contact(_Lenient):
    """``SimplePublicObject`` of a contact: property values are strings or null."""

    id: StrictStr
    properties: dict[str, str | None]
    archived: StrictBool = False


class IdentificationToken(_Lenient):
    token: StrictStr = Field(min_length=1)


def wait_hint(answer: HttpAnswer) -> float | None:
    """How long HubSpot asks us to wait before retrying this answer.

    ``Retry-After`` when present; on a 429, the daily policy means "not
    before tomorrow" (the core then gives up at once), and an exhausted
    burst window means its ``X-HubSpot-RateLimit-Interval-Milliseconds``.
    """
    hint = retry_after(answer)
    if hint is not None or answer.status != 429:
        return hint
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    policy = body.get("policyName") if isinstance(body, dict) else None
    if policy == "DAILY" or answer.headers.get("x-hubspot-ratelimit-daily-remaining") == "0":
        return DAILY_LIMIT_WAIT
    interval = answer.headers.get("x-hubspot-ratelimit-interval-milliseconds", "").strip()
    if answer.headers.get("x-hubspot-ratelimit-remaining") == "0" and interval.isdigit():
        return int(interval) / 1000
    return None


class HubSpotClient:
    """Reads threads, messages and contacts; mints visitor identification tokens."""

    def __init__(self, http: HttpClient, settings: HubSpotSettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes

    def _headers(self) -> dict[str, str]:
        token = self._settings.access_token.get_secret_value()
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def thread(self, thread_id: str) -> Thread:
        """``GET /conversations/v3/conversations/threads/{threadId}``."""
        url = f"{self._settings.api_base}/conversations/v3/conversations/threads/{thread_id}"
        return await self._get(url, None, f"thread {thread_id}", Thread)

    async def messages(self, thread_id: str) -> list[Message]:
        """``GET .../threads/{threadId}/messages``, following ``paging.next.after``."""
        url = (
            f"{self._settings.api_base}/conversations/v3/conversations/threads/{thread_id}/messages"
        )
        found: list[Message] = []
        after: str | None = None
        for _ in range(self._settings.max_message_pages):
            params = {"limit": "100"} if after is None else {"limit": "100", "after": after}
            page = await self._get(url, params, f"the messages of thread {thread_id}", MessagePage)
            found.extend(page.results)
            if page.paging is None or page.paging.next is None:
                return found
            after = page.paging.next.after
        raise HubSpotFailure(
            f"thread {thread_id} has more messages than liveuser reads "
            f"({self._settings.max_message_pages} pages)"
        )

    async def message(self, thread_id: str, message_id: str) -> Message:
        """``GET .../threads/{threadId}/messages/{messageId}``."""
        url = (
            f"{self._settings.api_base}/conversations/v3/conversations/threads/{thread_id}"
            f"/messages/{message_id}"
        )
        return await self._get(url, None, f"message {message_id[:40]!r}", Message)

    async def contact(self, contact_id: str) -> Contact:
        """``GET /crm/v3/objects/contacts/{contactId}?properties=email``."""
        url = f"{self._settings.api_base}/crm/v3/objects/contacts/{contact_id}"
        return await self._get(url, {"properties": "email"}, f"contact {contact_id}", Contact)

    async def identification_token(
        self, email: str, first_name: str | None = None, last_name: str | None = None
    ) -> str:
        """``POST /visitor-identification/v3/tokens/create`` (a write: never retried)."""
        body: dict[str, Any] = {"email": email, "hsCustomerAgentContext": {}}
        if first_name:
            body["firstName"] = first_name
        if last_name:
            body["lastName"] = last_name
        url = f"{self._settings.api_base}/visitor-identification/v3/tokens/create"
        answer = await self._call("POST", url, None, "a visitor identification token", body)
        return self._parse(answer, "a visitor identification token", IdentificationToken).token

    async def _get(self, url: str, params: dict[str, str] | None, what: str, model: type[M]) -> M:
        answer = await self._call("GET", url, params, what)
        return self._parse(answer, what, model)

    async def _call(
        self,
        method: Literal["GET", "POST"],
        url: str,
        params: dict[str, str] | None,
        what: str,
        body: Any = None,
    ) -> HttpAnswer:
        try:
            answer = await self._http.request(
                SOURCE,
                method,
                url,
                params=params,
                json=body,
                headers=self._headers(),
                read=method == "GET",
                max_bytes=self._max_bytes,
                wait_hint=wait_hint,
            )
        except BackendTimeout:
            raise HubSpotFailure(f"HubSpot did not answer about {what} in time") from None
        except BackendStatusError as exc:
            if exc.status == 429:
                raise HubSpotFailure(
                    "HubSpot is rate limiting liveuser (HTTP 429) and asked to wait past the "
                    "deadline"
                ) from None
            raise HubSpotFailure(
                f"HubSpot failed to answer about {what} (HTTP {exc.status})"
            ) from None
        except BackendError as exc:
            raise HubSpotFailure(f"HubSpot could not be reached ({exc.reason})") from None
        if answer.status in (401, 403):
            raise HubSpotFailure(
                f"HubSpot refused liveuser's credentials or scopes about {what} "
                f"(HTTP {answer.status}{_category(answer)}); check the settings"
            )
        if answer.status == 404:
            raise HubSpotFailure(f"{what} was not found in HubSpot")
        if answer.status == 429:
            raise HubSpotFailure("HubSpot is rate limiting liveuser (HTTP 429)")
        if answer.status not in (200, 201):
            raise HubSpotFailure(f"HubSpot answered HTTP {answer.status} about {what}")
        return answer

    @staticmethod
    def _parse(answer: HttpAnswer, what: str, model: type[M]) -> M:
        try:
            data = answer.json()
        except BackendError:
            raise HubSpotFailure(f"HubSpot answered malformed JSON about {what}") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise HubSpotFailure(
                f"HubSpot's answer about {what} is not what liveuser expects ({where}: "
                f"{first['msg']})"
            ) from None


def _category(answer: HttpAnswer) -> str:
    try:
        body = answer.json()
    except BackendError:
        return ""
    category = body.get("category") if isinstance(body, dict) else None
    return f", {category}" if isinstance(category, str) and category.isidentifier() else ""


def check_message_id(value: str) -> str:
    """A HubSpot message id (hex or alphanumeric) as a path segment, else a failure."""
    if not (value.isascii() and value.isalnum()) or len(value) > 100:
        raise HubSpotFailure(f"{value[:40]!r} is not a HubSpot message id")
    return value


def check_id(value: str, what: str) -> str:
    """A numeric HubSpot id as a path segment; anything else is refused, not escaped."""
    if not (value.isascii() and value.isdigit()) or len(value) > 20 or int(value) == 0:
        raise HubSpotFailure(f"{value[:40]!r} is not a HubSpot {what} id")
    return value
