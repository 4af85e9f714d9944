"""Intercom's REST API, as the connector reads it.

Every call goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``) with ``Authorization: Bearer`` and the pinned
``Intercom-Version``: it is retried on 429 and 5xx within the deadline,
waiting as long as Intercom asks (``Retry-After`` if ever sent, else until
``X-RateLimit-Reset``). Every way a call can fail ends as an
:class:`IntercomFailure` whose ``reason`` a person can read; the plugin turns
it into a refusal.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError, field_validator

from liveuser import BackendError, HttpAnswer, HttpClient
from liveuser.http import retry_after

from .settings import IntercomSettings

SOURCE = "intercom"
M = TypeVar("M", bound=BaseModel)
MAX_RESET_WAIT = 60.0


class IntercomFailure(Exception):
    """A lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class Author(_Lenient):
    type: str
    id: str | None = None
    email: str | None = None

    _blank = field_validator("email", "id", mode="before")(_blank_to_none)


class Source(_Lenient):
    type: str
    delivered_as: str | None = None
    author: Author


class ContactRef(_Lenient):
    type: str = "contact"
    id: str
    external_id: str | None = None


class ContactRefs(_Lenient):
    contacts: list[ContactRef]


class IntercomConversation(_Lenient):
    """A conversation; the fields that decide are required, never defaulted."""

    id: str
    source: Source
    contacts: ContactRefs


class Contact(_Lenient):
    id: str
    role: str
    email: str | None = None
    external_id: str | None = None

    _blank = field_validator("email", "external_id", mode="before")(_blank_to_none)


class App(_Lenient):
    id_code: str | None = None
    identity_verification: StrictBool


class Me(_Lenient):
    app: App


def wait_hint(answer: HttpAnswer) -> float | None:
    """How long Intercom asks us to wait: ``Retry-After``, else until ``X-RateLimit-Reset``.

    ``X-RateLimit-Reset`` is a unix timestamp (windows are 10 s long), read
    on a 429 only (Intercom sends it on every answer); a value that is not
    one, or lies over a minute ahead, gives no hint.
    """
    hint = retry_after(answer)
    if hint is not None or answer.status != 429:
        return hint
    reset = answer.headers.get("x-ratelimit-reset", "").strip()
    if not reset.isdigit() or len(reset) > 12:
        return None
    wait = float(reset) - time.time()
    if wait > MAX_RESET_WAIT:
        return None
    return max(wait, 0.0)


class IntercomClient:
    """Reads conversations, contacts and the workspace's settings."""

    def __init__(self, http: HttpClient, settings: IntercomSettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._settings.access_token.get_secret_value()}",
            "Intercom-Version": self._settings.api_version,
            "Accept": "application/json",
        }

    async def conversation(self, conversation_id: str) -> IntercomConversation:
        """``GET /conversations/{id}``: source, author and contact references."""
        url = f"{self._settings.api_base}/conversations/{_segment(conversation_id, 'conversation')}"
        return await self._get(
            url,
            {"display_as": "plaintext"},
            f"conversation {conversation_id}",
            IntercomConversation,
        )

    async def contact(self, contact_id: str) -> Contact:
        """``GET /contacts/{id}``: role, email and external_id."""
        url = f"{self._settings.api_base}/contacts/{_segment(contact_id, 'contact')}"
        return await self._get(url, None, f"contact {contact_id}", Contact)

    async def me(self) -> Me:
        """``GET /me``: the token's admin and the app, with ``identity_verification``."""
        return await self._get(f"{self._settings.api_base}/me", None, "the workspace", Me)

    async def _get(self, url: str, params: dict[str, str] | None, what: str, model: type[M]) -> M:
        try:
            return await self._http.get_model(
                SOURCE,
                url,
                model,
                vendor="Intercom",
                what=what,
                headers=self.headers(),
                params=params,
                max_bytes=self._max_bytes,
                wait_hint=wait_hint,
                not_found=(404, 410),  # 410: deleted or archived
            )
        except BackendError as exc:
            raise IntercomFailure(exc.reason) from None


def parse(model: type[M], data: Any, what: str) -> M:
    """``data`` as ``model``, or an :class:`IntercomFailure` naming the field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise IntercomFailure(
            f"Intercom's answer about {what} is not what liveuser expects ({where}: {first['msg']})"
        ) from None


def _segment(value: str, what: str) -> str:
    """A path segment; ids with a slash or other URL syntax are refused, not escaped."""
    if (
        not value
        or len(value) > 100
        or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value)
    ):
        raise IntercomFailure(f"{value!r} is not an Intercom {what} id")
    return value
