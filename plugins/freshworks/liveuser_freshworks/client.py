"""Freshdesk and Freshchat, as the connector reads them.

Every call goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``): it is retried on 429 and 5xx within the deadline, waiting as
long as the vendor asks (``Retry-After``). Every way a call can fail ends as a
:class:`FreshworksFailure` whose ``reason`` a person can read; the plugin
turns it into a refusal.
"""

from __future__ import annotations

import base64
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt

from liveuser import BackendError, HttpClient
from liveuser.http import retry_after

from .settings import FreshworksSettings

SOURCE = "freshworks"
M = TypeVar("M", bound=BaseModel)


class FreshworksFailure(Exception):
    """A lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Requester(_Lenient):
    """The ``requester`` embedded by ``include=requester``."""

    id: StrictInt
    name: str | None = None
    email: str | None = None


class Ticket(_Lenient):
    """A Freshdesk ticket; the fields that decide are required or fail closed."""

    id: StrictInt
    source: StrictInt
    requester_id: StrictInt
    spam: StrictBool | None = None
    deleted: StrictBool | None = None
    cc_emails: list[str] | None = None
    reply_cc_emails: list[str] | None = None
    fwd_emails: list[str] | None = None
    requester: Requester | None = None


class Contact(_Lenient):
    """A Freshdesk contact; ``deleted``/``blocked`` appear (true) only for such contacts."""

    id: StrictInt
    email: str | None = None
    other_emails: list[str] | None = None
    deleted: StrictBool | None = None
    blocked: StrictBool | None = None


class ChatUserRef(_Lenient):
    id: str


class ChatConversation(_Lenient):
    """A Freshchat conversation: its customer in ``user_id`` (or, older shape, ``users``)."""

    conversation_id: str
    user_id: str | None = None
    users: list[ChatUserRef] | None = None
    status: str | None = None

    def user_ids(self) -> list[str]:
        ids = [self.user_id] if self.user_id else []
        ids += [u.id for u in self.users or []]
        return [uid for uid in dict.fromkeys(ids) if uid]


class ChatUser(_Lenient):
    id: str
    email: str | None = None
    reference_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class FreshworksClient:
    """Reads Freshdesk tickets and Freshchat conversations and users."""

    def __init__(self, http: HttpClient, settings: FreshworksSettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes

    def freshdesk_headers(self) -> dict[str, str]:
        key = self._settings.freshdesk_api_key
        if key is None:
            raise FreshworksFailure("Freshdesk is not configured for this tenant")
        raw = f"{key.get_secret_value()}:X".encode()
        return {"Authorization": f"Basic {base64.b64encode(raw).decode('ascii')}"}

    def freshchat_headers(self) -> dict[str, str]:
        token = self._settings.freshchat_api_token
        if token is None:
            raise FreshworksFailure("Freshchat is not configured for this tenant")
        return {"Authorization": f"Bearer {token.get_secret_value()}"}

    async def ticket(self, ticket_id: int) -> Ticket:
        """``GET /api/v2/tickets/{id}?include=requester``: ticket and requester, one request."""
        url = f"{self._settings.freshdesk_api}/tickets/{ticket_id}"
        return await self._get(
            url,
            {"include": "requester"},
            self.freshdesk_headers(),
            f"ticket {ticket_id}",
            Ticket,
            "Freshdesk",
        )

    async def contact(self, contact_id: int) -> Contact:
        """``GET /api/v2/contacts/{id}`` (strict mode only)."""
        url = f"{self._settings.freshdesk_api}/contacts/{contact_id}"
        return await self._get(
            url, None, self.freshdesk_headers(), f"contact {contact_id}", Contact, "Freshdesk"
        )

    async def conversation(self, conversation_id: str) -> ChatConversation:
        """``GET /v2/conversations/{id}``."""
        url = f"{self._settings.freshchat_api}/conversations/{_segment(conversation_id)}"
        return await self._get(
            url,
            None,
            self.freshchat_headers(),
            f"conversation {conversation_id}",
            ChatConversation,
            "Freshchat",
        )

    async def user(self, user_id: str) -> ChatUser:
        """``GET /v2/users/{id}``."""
        url = f"{self._settings.freshchat_api}/users/{_segment(user_id)}"
        return await self._get(
            url, None, self.freshchat_headers(), f"user {user_id}", ChatUser, "Freshchat"
        )

    async def _get(
        self,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        what: str,
        model: type[M],
        name: str,
    ) -> M:
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
                wait_hint=retry_after,
            )
        except BackendError as exc:
            raise FreshworksFailure(exc.reason) from None


def _segment(value: str) -> str:
    """A path segment; ids with a slash or other URL syntax are refused, not escaped."""
    if (
        not value
        or len(value) > 200
        or not all(ch.isascii() and (ch.isalnum() or ch in "-_.~") for ch in value)
        or value in (".", "..")
    ):
        raise FreshworksFailure(f"{value!r} is not a Freshchat id")
    return value
