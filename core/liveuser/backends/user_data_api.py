"""The built-in back-end: the business's own User Data API endpoint.

Contract: ``POST <url>`` with the configured header (``Authorization`` by
default) carrying the key, body ``{"identifier": "<email>"}``. The endpoint
answers within 10 s:

* 200 ``{"identifier": "<email>", "user_info": "<text>"}`` — the data;
* 404 — no such user: no data, nothing missing;
* 400, 401, 500 (any other status) — the source is missing, with the reason.

An answer whose ``identifier`` is not the one asked for is cross-talk: it is
discarded, logged, and the source reported missing.
"""

from __future__ import annotations

import functools
import logging
from typing import ClassVar

from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import SettingsConfigDict

from ..errors import BackendResponseError, BackendStatusError, CrossTalkError
from ..hookspecs import hookimpl
from ..identity import normalize_email
from ..models import UserData, VerifiedUser
from ..plugin import Plugin, PluginSettings

log = logging.getLogger("liveuser")

_STATUS_REASONS = {
    400: "rejected the request as malformed (HTTP 400)",
    401: "rejected the API key (HTTP 401)",
    403: "refused access (HTTP 403)",
}


class UserDataApiSettings(PluginSettings):
    """Where the User Data API is and how to authenticate to it."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_USER_DATA_API_", extra="forbid")

    url: HttpUrl = Field(description="The endpoint liveuser POSTs {identifier} to.")
    api_key: SecretStr = Field(description="The key sent in the auth header.")
    header_name: str = Field(
        "Authorization", min_length=1, description="Name of the header carrying the key."
    )


class UserDataApi(Plugin[UserDataApiSettings]):
    """Fetches ``user_info`` text for the verified user from the business's endpoint."""

    name: ClassVar[str] = "user_data_api"
    settings_model = UserDataApiSettings

    @functools.cached_property
    def _endpoint(self) -> tuple[str, dict[str, str]]:
        """The URL and the auth header, formatted once from the (fixed) settings."""
        settings = self.settings
        return str(settings.url), {settings.header_name: settings.api_key.get_secret_value()}

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> UserData | None:
        url, headers = self._endpoint
        answer = await self.http.request(
            self.name,
            "POST",
            url,
            json={"identifier": user.email},
            headers=headers,
            max_bytes=self.runtime.max_response_bytes,
            read=True,  # a lookup over POST: safe to retry
        )
        if answer.status == 404:
            return None
        if answer.status != 200:
            reason = _STATUS_REASONS.get(answer.status, f"answered HTTP {answer.status}")
            raise BackendStatusError(self.name, reason, answer.status)
        body = answer.json()
        if not isinstance(body, dict) or not isinstance(body.get("user_info"), str):
            raise BackendResponseError(self.name, "answered without a user_info string")
        identifier = body.get("identifier")
        try:
            same = isinstance(identifier, str) and normalize_email(identifier) == user.email
        except ValueError:
            same = False
        if not same:
            log.warning(
                "user_data_api answered for another identifier (tenant %s); discarded", self.tenant
            )
            raise CrossTalkError(self.name, "answered for another identifier; discarded")
        return UserData(source=self.name, kind="account", text=body["user_info"])
