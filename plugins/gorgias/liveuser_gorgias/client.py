"""The Gorgias REST API, as the connector reads it: one ticket, customer and messages included.

Every call goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``): it is retried on 429 and 5xx within the deadline, waiting as
long as Gorgias asks (``Retry-after``). Every way a call can fail ends as a
:class:`GorgiasFailure` whose ``reason`` a person can read; the plugin turns
it into a refusal.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from liveuser import BackendError, HttpAnswer, HttpClient
from liveuser.http import retry_after

from .settings import GorgiasSettings

SOURCE = "gorgias"
NAME = "Gorgias"


class GorgiasFailure(Exception):
    """A lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Address(_Lenient):
    address: str | None = None
    name: str | None = None


class Source(_Lenient):
    type: str | None = None
    from_: Address | None = Field(None, alias="from")
    to: list[Address] = Field(default_factory=list)
    cc: list[Address] = Field(default_factory=list)
    bcc: list[Address] = Field(default_factory=list)


class Person(_Lenient):
    id: StrictInt | None = None
    email: str | None = None


class Message(_Lenient):
    """One ticket message; the fields that decide are required, never defaulted."""

    id: StrictInt
    from_agent: StrictBool
    public: StrictBool = True
    channel: str | None = None
    via: str | None = None
    source: Source | None = None
    sender: Person | None = None
    receiver: Person | None = None
    created_datetime: str
    auth_customer_identity: dict[str, Any] | None = None


class CustomerChannel(_Lenient):
    type: str
    address: str | None = None
    deleted_datetime: str | None = None


class Customer(_Lenient):
    id: StrictInt
    email: str | None = None
    channels: list[CustomerChannel] = Field(default_factory=list)


class Ticket(_Lenient):
    """``GET /api/tickets/{id}``: the ticket with its customer and every message."""

    id: StrictInt
    channel: str | None
    via: str | None
    from_agent: StrictBool
    spam: StrictBool
    deleted_datetime: str | None
    customer: Customer | None
    messages: list[Message]


def wait_hint(answer: HttpAnswer) -> float | None:
    """How long Gorgias asks us to wait: its ``Retry-after`` header, in seconds."""
    return retry_after(answer)


class GorgiasClient:
    """Reads tickets from the account's own domain with HTTP Basic (email, API key)."""

    def __init__(self, http: HttpClient, settings: GorgiasSettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes

    def headers(self) -> dict[str, str]:
        s = self._settings
        raw = f"{s.email}:{s.api_key.get_secret_value()}".encode()
        return {
            "Authorization": f"Basic {base64.b64encode(raw).decode('ascii')}",
            "Accept": "application/json",
        }

    async def ticket(self, ticket_id: int) -> Ticket:
        """``GET /api/tickets/{id}``: one request for everything the rule reads."""
        what = f"ticket {ticket_id}"
        url = f"{self._settings.api_base}/api/tickets/{ticket_id}"
        try:
            return await self._http.get_model(
                SOURCE,
                url,
                Ticket,
                vendor=NAME,
                what=what,
                headers=self.headers(),
                max_bytes=self._max_bytes,
                wait_hint=wait_hint,
            )
        except BackendError as exc:
            raise GorgiasFailure(exc.reason) from None


def parse_ticket(data: Any, what: str = "the ticket") -> Ticket:
    """Validate a ticket answer; anything unexpected is a :class:`GorgiasFailure`."""
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise GorgiasFailure(
            f"{NAME}'s answer about {what} is not what liveuser expects ({where}: {first['msg']})"
        ) from None
