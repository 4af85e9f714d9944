"""The HubSpot connector's settings (``[tenants.<t>.plugins.hubspot]`` or ``LIVEUSER_HUBSPOT_*``).

Pointing the connector at the real HubSpot instead of the fake is a change of
these values only: ``base_url`` (default ``https://api.hubapi.com``),
``access_token`` and, for webhooks, ``client_secret`` (and ``webhook_url`` to
receive them under ``liveuser serve``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings, normalize_email


class HubSpotSettings(PluginSettings):
    """Where HubSpot is, how to authenticate to it, and the team's own addresses."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_HUBSPOT_", extra="forbid")

    base_url: str = Field(
        "https://api.hubapi.com",
        pattern=r"^https?://[^/?#]+/?$",
        description="HubSpot's API base URL (the fake's URL in tests and the demo).",
    )
    access_token: SecretStr = Field(
        min_length=1,
        description="Private-app access token or OAuth access token (sent as a Bearer token).",
    )
    client_secret: SecretStr | None = Field(
        None, description="The app's client secret: the key of v3 webhook signatures."
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+(/[^#\s]*)?$",
        max_length=2000,
        description="The public URL HubSpot calls for this tenant's webhooks under liveuser "
        "serve (e.g. https://support.example.com/webhooks/hubspot/default/ behind a load "
        "balancer), exactly as set in the app's webhook settings: v3 signatures cover it.",
    )
    support_addresses: frozenset[str] = Field(
        default_factory=frozenset,
        description="The team's connected email addresses: on an email thread they are not "
        "outside participants. Any other address on the message answered refuses it.",
    )
    confirm_contact_email: bool = Field(
        False,
        description="Also read the email thread's contact (GET /crm/v3/objects/contacts/{id}, "
        "a third request) and refuse unless its email property is the sender's address. "
        "HubSpot resolves that contact from the same From address, so this adds no evidence "
        "of who wrote; it refuses mail whose contact was since edited, merged or removed.",
    )
    webhook_max_age_seconds: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Replay window of v3 webhook signatures (HubSpot's clients use 5 minutes).",
    )
    max_message_pages: int = Field(
        5, ge=1, le=50, description="At most this many pages of a thread's messages are read."
    )

    @field_validator("support_addresses", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(normalize_email(str(v).strip()) for v in value)
        return value

    @property
    def api_base(self) -> str:
        return self.base_url.rstrip("/")
