"""The connector's settings (``[tenants.<t>.plugins.freshworks]`` or ``LIVEUSER_FRESHWORKS_*``).

Pointing the connector at the real Freshdesk and Freshchat instead of the fake
is a change of these values only: the domain (or base URLs) and credentials.
A tenant may configure Freshdesk, Freshchat or both; a channel that is not
configured refuses its conversations with that reason.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings

from .keys import load_public_key


class FreshworksSettings(PluginSettings):
    """Where the Freshdesk and Freshchat accounts are, how to call them, which keys to trust."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_FRESHWORKS_", extra="forbid")

    freshdesk_domain: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The Freshdesk account's subdomain: acme for https://acme.freshdesk.com.",
    )
    freshdesk_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+$",
        description="Freshdesk base URL instead of freshdesk_domain (the fake's URL in tests).",
    )
    freshdesk_api_key: SecretStr | None = Field(
        None,
        description="An agent's Freshdesk API key (HTTP Basic, the key as user, X as password).",
    )
    freshdesk_check_contact: bool = Field(
        False,
        description="Strict mode: also read GET /contacts/{requester_id} and refuse deleted or "
        "blocked contacts (2 requests per Freshdesk verification instead of 1).",
    )
    freshdesk_webhook_secret: SecretStr | None = Field(
        None,
        description="Shared secret (16+ characters) the Freshdesk automation webhook sends in "
        "X-Liveuser-Token.",
    )
    freshchat_api_url: str | None = Field(
        None,
        pattern=r"^https?://[^?#]+$",
        description="Freshchat API URL with its /v2, e.g. https://acme-123.freshchat.com/v2.",
    )
    freshchat_api_token: SecretStr | None = Field(
        None, description="Freshchat API token (Authorization: Bearer)."
    )
    freshchat_jwt_algorithm: Literal["HS256", "RS256"] = Field(
        "HS256",
        description="The one algorithm accepted for user-authentication JWTs: HS256 (current "
        "web chat) or RS256 (older widget and mobile SDKs).",
    )
    freshchat_jwt_secret: SecretStr | None = Field(
        None, description="Web chat user-authentication key (HS256)."
    )
    freshchat_jwt_public_key: str | None = Field(
        None, description="PEM public key of the business's RS256 user-authentication key pair."
    )
    freshchat_jwt_leeway_seconds: int = Field(
        30, ge=0, le=300, description="Clock leeway for the JWT's exp and iat, in seconds."
    )
    freshchat_webhook_public_key: str | None = Field(
        None,
        description="RSA public key from Freshchat's webhook settings (PEM, SPKI or PKCS#1).",
    )
    webhook_tolerance_seconds: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Largest age (or clock skew) of a Freshchat webhook's action_time, in seconds.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.freshdesk_domain is not None and self.freshdesk_base_url is not None:
            raise ValueError("set freshdesk_domain or freshdesk_base_url, not both")
        desk_where = self.freshdesk_domain is not None or self.freshdesk_base_url is not None
        if desk_where != (self.freshdesk_api_key is not None):
            raise ValueError(
                "Freshdesk needs freshdesk_domain (or freshdesk_base_url) and "
                "freshdesk_api_key together"
            )
        if (self.freshchat_api_url is None) != (self.freshchat_api_token is None):
            raise ValueError("set freshchat_api_url and freshchat_api_token together")
        secret = self.freshdesk_webhook_secret
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ValueError("freshdesk_webhook_secret must be at least 16 characters")
        if not desk_where and self.freshchat_api_url is None:
            raise ValueError("configure Freshdesk, Freshchat or both")
        for name in ("freshchat_jwt_public_key", "freshchat_webhook_public_key"):
            text = getattr(self, name)
            if text is not None:
                try:
                    load_public_key(text)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        if self.freshchat_api_url is not None:
            if self.freshchat_jwt_algorithm == "HS256" and self.freshchat_jwt_secret is None:
                raise ValueError("freshchat_jwt_algorithm HS256 needs freshchat_jwt_secret")
            if self.freshchat_jwt_algorithm == "RS256" and self.freshchat_jwt_public_key is None:
                raise ValueError("freshchat_jwt_algorithm RS256 needs freshchat_jwt_public_key")
        return self

    @property
    def freshdesk_configured(self) -> bool:
        return self.freshdesk_api_key is not None

    @property
    def freshchat_configured(self) -> bool:
        return self.freshchat_api_url is not None and self.freshchat_api_token is not None

    @property
    def freshdesk_api(self) -> str:
        """``https://{domain}.freshdesk.com/api/v2`` or ``{base_url}/api/v2``."""
        base = self.freshdesk_base_url or f"https://{self.freshdesk_domain}.freshdesk.com"
        return f"{base.rstrip('/')}/api/v2"

    @property
    def freshchat_api(self) -> str:
        return (self.freshchat_api_url or "").rstrip("/")
