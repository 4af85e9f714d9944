"""The connector's settings: validated, secret, from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from liveuser_hubspot import HubSpotSettings


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_HUBSPOT_ACCESS_TOKEN", "pat-na1-abc")
    monkeypatch.setenv("LIVEUSER_HUBSPOT_SUPPORT_ADDRESSES", '["Support@Shop.example"]')
    settings = HubSpotSettings()
    assert settings.api_base == "https://api.hubapi.com"
    assert settings.support_addresses == frozenset({"support@shop.example"})
    assert "pat-na1-abc" not in repr(settings)
    assert settings.confirm_contact_email is False  # the contact is not read by default
    monkeypatch.setenv("LIVEUSER_HUBSPOT_CONFIRM_CONTACT_EMAIL", "true")
    assert HubSpotSettings().confirm_contact_email is True


def test_unknown_keys_and_bad_urls_are_refused() -> None:
    with pytest.raises(ValidationError):
        HubSpotSettings(access_token="t", hapikey="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        HubSpotSettings(access_token="t", base_url="ftp://api.hubapi.com")
    with pytest.raises(ValidationError):
        HubSpotSettings(access_token="t", support_addresses=["not an address"])
