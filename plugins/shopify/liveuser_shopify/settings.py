"""The Shopify back-end's settings (``[tenants.<t>.plugins.shopify]`` or ``LIVEUSER_SHOPIFY_*``).

Pointing the plugin at the real Shopify instead of the fake is a change of
these values only: ``shop`` (or ``base_url``) and ``access_token``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from liveuser import PluginSettings

DEFAULT_API_VERSION = "2026-07"
"""The Admin API version the queries were checked against (see the README)."""


class ShopifySettings(PluginSettings):
    """Which shop, which API version, which token, and how much to show."""

    model_config = SettingsConfigDict(env_prefix="LIVEUSER_SHOPIFY_", extra="forbid")

    shop: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The shop's handle: acme for https://acme.myshopify.com.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+$",
        description="Base URL of the shop instead of shop (the fake's URL in tests).",
    )
    api_version: str = Field(
        DEFAULT_API_VERSION,
        pattern=r"^(20[0-9]{2}-(01|04|07|10)|unstable)$",
        description="Pinned Admin API version (YYYY-MM); re-check the queries before moving it.",
    )
    access_token: SecretStr = Field(
        description="Admin API access token (shpat_…), sent as X-Shopify-Access-Token."
    )
    order_count: int = Field(
        5, ge=1, le=10, description="How many of the customer's most recent orders to fetch."
    )
    client_secret: SecretStr | None = Field(
        None, description="The app's client secret, which signs webhooks (X-Shopify-Hmac-Sha256)."
    )
    previous_client_secret: SecretStr | None = Field(
        None,
        description="The client secret before a rotation, accepted too while Shopify "
        "switches over (up to an hour).",
    )
    show_stock_counts: bool = Field(
        False, description="Let check_stock tell the model how many units are in stock."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_url is None and self.shop is None:
            raise ValueError("set shop or base_url")
        return self

    @property
    def graphql_url(self) -> str:
        """``{base}/admin/api/{version}/graphql.json``."""
        base = (self.base_url or f"https://{self.shop}.myshopify.com").rstrip("/")
        return f"{base}/admin/api/{self.api_version}/graphql.json"
