"""The Zendesk connector's settings (``[tenants.<t>.plugins.zendesk]`` or ``LIVEUSER_ZENDESK_*``).

Pointing the connector at the real Zendesk instead of the fake is a change of
these values only: ``base_url`` (or ``subdomain``) and the credentials.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings

TEST_WEBHOOK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
"""The static secret Zendesk signs "Test webhook" deliveries with; never accepted."""


class ZendeskSettings(PluginSettings):
    """Where the Zendesk account is, how to authenticate, and which keys to trust."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_ZENDESK_", extra="forbid")

    subdomain: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The account's subdomain: acme for https://acme.zendesk.com.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+$",
        description="Base URL of the account instead of subdomain (the fake's URL in tests).",
    )
    auth: Literal["api_token", "oauth"] = Field(
        "api_token",
        description="API token (Basic {email}/token:{token}) or OAuth bearer token.",
    )
    email: str | None = Field(
        None, description="Agent email the API token belongs to (auth = api_token)."
    )
    api_token: SecretStr | None = Field(None, description="Support API token (auth = api_token).")
    oauth_token: SecretStr | None = Field(None, description="OAuth access token (auth = oauth).")
    webhook_secret: SecretStr | None = Field(
        None, description="Signing secret of the Support webhook that calls liveuser."
    )
    webhook_tolerance_seconds: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Largest age (or clock skew) of a webhook's signed timestamp, in seconds.",
    )
    messaging_app_id: str | None = Field(
        None, description="Sunshine Conversations app id (zendesk_messaging channel)."
    )
    messaging_key_id: str | None = Field(
        None, description="Conversations API key id (app_…), used with messaging_key_secret."
    )
    messaging_key_secret: SecretStr | None = Field(
        None, description="Conversations API key secret (HTTP Basic with messaging_key_id)."
    )
    messaging_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^?#]+$",
        description="Conversations API base URL; default {base_url}/sc.",
    )
    messaging_webhook_secret: SecretStr | None = Field(
        None, description="Secret the Conversations webhook sends in its X-API-Key header."
    )
    messaging_jwt_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Messaging authentication signing keys by key id (kid, app_…): "
        "lets liveuser check a login JWT the host passes itself.",
    )
    messaging_jwt_leeway_seconds: int = Field(
        30, ge=0, le=300, description="Clock leeway for the login JWT's exp/iat/nbf."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_url is None and self.subdomain is None:
            raise ValueError("set subdomain or base_url")
        if self.auth == "api_token" and (self.email is None or self.api_token is None):
            raise ValueError("auth api_token needs email and api_token")
        if self.auth == "oauth" and self.oauth_token is None:
            raise ValueError("auth oauth needs oauth_token")
        if (self.messaging_key_id is None) != (self.messaging_key_secret is None):
            raise ValueError("set messaging_key_id and messaging_key_secret together")
        secret = self.webhook_secret
        if secret is not None and secret.get_secret_value() == TEST_WEBHOOK_SECRET:
            raise ValueError("webhook_secret is Zendesk's public test secret; use the real one")
        return self

    @property
    def api_base(self) -> str:
        """``https://{subdomain}.zendesk.com`` or ``base_url``, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"

    @property
    def messaging_base(self) -> str:
        return (self.messaging_base_url or f"{self.api_base}/sc").rstrip("/")

    @property
    def messaging_api_configured(self) -> bool:
        return self.messaging_app_id is not None and self.messaging_key_id is not None
