"""The Gorgias connector's settings (``[tenants.<t>.plugins.gorgias]`` or ``LIVEUSER_GORGIAS_*``).

Pointing the connector at the real Gorgias instead of the fake is a change of
these values only: ``account`` (or ``base_url``), ``email`` and ``api_key``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings


class GorgiasSettings(PluginSettings):
    """Where the Gorgias account is and how to authenticate to it."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_GORGIAS_", extra="forbid")

    account: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The account's name: acme for https://acme.gorgias.com.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+/?$",
        description="Base URL of the account instead of account (the fake's URL in tests).",
    )
    email: str = Field(
        min_length=3, description="Email of the Gorgias user the API key belongs to (username)."
    )
    api_key: SecretStr = Field(description="The REST API key (HTTP Basic password).")
    webhook_token: SecretStr | None = Field(
        None,
        description="Shared secret the HTTP integration sends in webhook_header (32+ chars).",
    )
    webhook_header: str = Field(
        "X-Liveuser-Token",
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Header of the HTTP integration that carries webhook_token.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_url is None and self.account is None:
            raise ValueError("set account or base_url")
        token = self.webhook_token
        if token is not None and len(token.get_secret_value()) < 32:
            raise ValueError("webhook_token must be at least 32 characters")
        return self

    @property
    def api_base(self) -> str:
        """``https://{account}.gorgias.com`` or ``base_url``, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://{self.account}.gorgias.com"
