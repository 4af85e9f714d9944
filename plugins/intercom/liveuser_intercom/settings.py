"""The Intercom connector's settings (``[tenants.<t>.plugins.intercom]``, ``LIVEUSER_INTERCOM_*``).

Pointing the connector at the real Intercom instead of the fake is a change of
these values only: ``base_url`` (the workspace's regional host) and
``access_token``.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings


class IntercomSettings(PluginSettings):
    """Where the workspace is, how to authenticate, and what its Messenger enforces."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_INTERCOM_", extra="forbid")

    base_url: str = Field(
        "https://api.intercom.io",
        pattern=r"^https?://[^/?#]+$",
        description="API host of the workspace's region: https://api.intercom.io (US), "
        "https://api.eu.intercom.io, https://api.au.intercom.io, or the fake's URL.",
    )
    access_token: SecretStr = Field(
        description="Access token of the Intercom app (sent as Authorization: Bearer)."
    )
    api_version: str = Field(
        "2.15",
        pattern=r"^(?:[12]\.[0-9]{1,2}|Unstable)$",
        description="API version pinned in the Intercom-Version header of every request.",
    )
    client_secret: SecretStr | None = Field(
        None,
        description="The app's client secret: the key of the X-Hub-Signature on webhooks.",
    )
    webhook_max_age_seconds: float = Field(
        3600.0,
        gt=0,
        le=7 * 86400,
        description="Largest age of a webhook notification's created_at (Intercom signs no "
        "timestamp header; retries re-send the same body, so cover the retry schedule).",
    )
    messenger_security: Literal["off", "jwt", "identity_verification"] = Field(
        "off",
        description="What this workspace's Messenger ENFORCES for logged-in users: 'jwt' "
        "(Messenger security with JWTs), 'identity_verification' (legacy user_hash), or 'off'. "
        "Only when not 'off', and Intercom's GET /me agrees, is a Messenger user verified "
        "without a token checked by liveuser.",
    )
    messenger_email_locked: bool = Field(
        False,
        description="True only if the end user cannot set or change their email through the "
        "Messenger (email is a signed attribute of the Messenger JWT and Messenger updates of "
        "email are disabled). Without it, a logged-in user could set someone else's email on "
        "their own contact, so no Messenger user is verified on the workspace setting alone.",
    )
    workspace_check_ttl_seconds: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="How long Intercom's answer on identity verification (GET /me) is reused; "
        "a verification resting on it is reused no longer.",
    )
    messenger_jwt_secret: SecretStr | None = Field(
        None,
        description="Messenger API secret (Settings > Messenger > Security): lets liveuser "
        "check a Messenger JWT (intercom_user_jwt) the host passes itself.",
    )
    identity_verification_secret: SecretStr | None = Field(
        None,
        description="Legacy identity verification secret: lets liveuser check a user_hash the "
        "host passes (corroboration only; a user_hash never expires).",
    )
    jwt_leeway_seconds: int = Field(
        30, ge=0, le=300, description="Clock leeway for the Messenger JWT's exp/iat/nbf."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.access_token.get_secret_value().strip():
            raise ValueError("access_token must not be empty")
        for name in ("client_secret", "messenger_jwt_secret", "identity_verification_secret"):
            value = getattr(self, name)
            if value is not None and not value.get_secret_value():
                raise ValueError(f"{name} must not be empty when set")
        return self

    @property
    def api_base(self) -> str:
        return self.base_url.rstrip("/")
