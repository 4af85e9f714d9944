"""Zendesk's two APIs, as the connector reads them: Support (tickets) and Messaging.

Every call goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``): it is retried on 429 and 5xx within the deadline, waiting as
long as Zendesk asks (``Retry-After``, else ``ratelimit-reset``). Every way a
call can fail ends as a :class:`ZendeskFailure` whose ``reason`` a person can
read; the plugin turns it into a refusal.
"""

from __future__ import annotations

import base64
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from liveuser import BackendError, HttpAnswer, HttpClient
from liveuser.http import retry_after

from .settings import ZendeskSettings

SOURCE = "zendesk"
M = TypeVar("M", bound=BaseModel)


class ZendeskFailure(Exception):
    """A lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Via(_Lenient):
    channel: str | int | None = None
    source: dict[str, Any] | None = None


class Ticket(_Lenient):
    id: int
    requester_id: int
    submitter_id: int | None = None
    via: Via = Field(default_factory=Via)
    from_messaging_channel: StrictBool = False
    collaborator_ids: list[int] = Field(default_factory=list)
    email_cc_ids: list[int] = Field(default_factory=list)
    follower_ids: list[int] = Field(default_factory=list)


class User(_Lenient):
    """A Support user; the flags that decide are required, never defaulted."""

    id: int
    email: str | None = None
    role: str
    active: StrictBool
    suspended: StrictBool


class TicketAnswer(_Lenient):
    ticket: Ticket
    users: list[User] = Field(default_factory=list)


class Participant(_Lenient):
    user_id: str = Field(alias="userId")
    user_external_id: str | None = Field(None, alias="userExternalId")


class _Meta(_Lenient):
    has_more: StrictBool = Field(False, alias="hasMore")


class ParticipantsAnswer(_Lenient):
    participants: list[Participant]
    meta: _Meta = Field(default_factory=_Meta)


class Identity(_Lenient):
    type: str
    value: str
    verification: str | None = None


class MessagingUser(_Lenient):
    id: str
    external_id: str | None = Field(None, alias="externalId")
    authenticated: StrictBool
    zendesk_id: str | int | None = Field(None, alias="zendeskId")
    identities: list[Identity] = Field(default_factory=list)


class MessagingUserAnswer(_Lenient):
    user: MessagingUser


def wait_hint(answer: HttpAnswer) -> float | None:
    """How long Zendesk asks us to wait: ``Retry-After``, else ``ratelimit-reset`` seconds."""
    hint = retry_after(answer)
    if hint is not None:
        return hint
    reset = answer.headers.get("ratelimit-reset", "").strip()
    return float(reset) if reset.isdigit() else None


class ZendeskClient:
    """Reads tickets (Support API) and users/participants (Messaging API)."""

    def __init__(self, http: HttpClient, settings: ZendeskSettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes

    def support_headers(self) -> dict[str, str]:
        s = self._settings
        if s.auth == "oauth":
            assert s.oauth_token is not None  # checked by the settings model
            return {"Authorization": f"Bearer {s.oauth_token.get_secret_value()}"}
        assert s.email is not None and s.api_token is not None
        raw = f"{s.email}/token:{s.api_token.get_secret_value()}".encode()
        return {"Authorization": f"Basic {base64.b64encode(raw).decode('ascii')}"}

    def messaging_headers(self) -> dict[str, str]:
        s = self._settings
        if s.messaging_key_id is None or s.messaging_key_secret is None:
            raise ZendeskFailure("the Zendesk Messaging API is not configured for this tenant")
        raw = f"{s.messaging_key_id}:{s.messaging_key_secret.get_secret_value()}".encode()
        return {"Authorization": f"Basic {base64.b64encode(raw).decode('ascii')}"}

    async def ticket(self, ticket_id: int) -> TicketAnswer:
        """``GET /api/v2/tickets/{id}?include=users``: the ticket and its people, one request."""
        url = f"{self._settings.api_base}/api/v2/tickets/{ticket_id}"
        return await self._get(
            url, {"include": "users"}, self.support_headers(), f"ticket {ticket_id}", TicketAnswer
        )

    async def participants(self, conversation_id: str) -> ParticipantsAnswer:
        """``GET /sc/v2/apps/{app}/conversations/{id}/participants``."""
        url = f"{self._app_url()}/conversations/{_segment(conversation_id)}/participants"
        return await self._get(
            url,
            None,
            self.messaging_headers(),
            f"messaging conversation {conversation_id}",
            ParticipantsAnswer,
            api="messaging",
        )

    async def messaging_user(self, user_id: str) -> MessagingUser:
        """``GET /sc/v2/apps/{app}/users/{id}``: whether Zendesk authenticated the user."""
        url = f"{self._app_url()}/users/{_segment(user_id)}"
        answer = await self._get(
            url,
            None,
            self.messaging_headers(),
            f"messaging user {user_id}",
            MessagingUserAnswer,
            api="messaging",
        )
        return answer.user

    def _app_url(self) -> str:
        app = self._settings.messaging_app_id
        if app is None:
            raise ZendeskFailure("the Zendesk Messaging API is not configured for this tenant")
        return f"{self._settings.messaging_base}/v2/apps/{_segment(app)}"

    async def _get(
        self,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        what: str,
        model: type[M],
        api: Literal["support", "messaging"] = "support",
    ) -> M:
        name = "Zendesk" if api == "support" else "Zendesk Messaging"
        try:
            return await self._http.get_model(
                SOURCE,
                url,
                model,
                vendor=name,
                what=what,
                headers=headers,
                params=params,
                max_bytes=self._max_bytes,
                wait_hint=wait_hint,
            )
        except BackendError as exc:
            raise ZendeskFailure(exc.reason) from None


def _segment(value: str) -> str:
    """A path segment; ids with a slash or other URL syntax are refused, not escaped."""
    if not value or not all(ch.isalnum() or ch in "-_.~" for ch in value) or value in (".", ".."):
        raise ZendeskFailure(f"{value!r} is not a Zendesk id")
    return value
