"""Settings: where the shop is, the pinned version, and nothing unknown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from liveuser_shopify import ShopifySettings


def test_shop_handle_builds_the_pinned_graphql_url() -> None:
    s = ShopifySettings(shop="acme", access_token="shpat_x")
    assert s.graphql_url == "https://acme.myshopify.com/admin/api/2026-07/graphql.json"


def test_token_is_never_shown() -> None:
    s = ShopifySettings(shop="acme", access_token="shpat_secret")
    assert "shpat_secret" not in repr(s)


@pytest.mark.parametrize(
    "values",
    [
        {"access_token": "x"},
        {"shop": "acme"},
        {"shop": "acme", "access_token": "x", "api_version": "2026-05"},
        {"shop": "acme", "access_token": "x", "order_count": 50},
        {"shop": "Acme Shop", "access_token": "x"},
        {"shop": "acme", "access_token": "x", "unknown": 1},
    ],
)
def test_bad_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ShopifySettings(**values)  # type: ignore[arg-type]


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_SHOPIFY_SHOP", "acme")
    monkeypatch.setenv("LIVEUSER_SHOPIFY_ACCESS_TOKEN", "shpat_env")
    assert ShopifySettings().access_token.get_secret_value() == "shpat_env"  # type: ignore[call-arg]
