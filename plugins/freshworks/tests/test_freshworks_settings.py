"""Settings: consistent combinations only; the real vendor is a settings change."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from liveuser_freshworks import FreshworksSettings

DESK: dict[str, Any] = {"freshdesk_domain": "acme", "freshdesk_api_key": "k"}
CHAT: dict[str, Any] = {
    "freshchat_api_url": "https://acme-123.freshchat.com/v2/",
    "freshchat_api_token": "t",
    "freshchat_jwt_secret": "s",
}


def test_real_urls_come_from_the_domain() -> None:
    settings = FreshworksSettings(**DESK, **CHAT)
    assert settings.freshdesk_api == "https://acme.freshdesk.com/api/v2"
    assert settings.freshchat_api == "https://acme-123.freshchat.com/v2"
    assert settings.freshdesk_configured and settings.freshchat_configured


def test_either_product_alone_is_enough() -> None:
    assert not FreshworksSettings(**DESK).freshchat_configured
    assert not FreshworksSettings(**CHAT).freshdesk_configured


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"freshdesk_domain": "acme"},
        {"freshdesk_api_key": "k"},
        {**DESK, "freshdesk_base_url": "http://127.0.0.1:1"},
        {**DESK, "freshdesk_domain": "acme.evil.com"},
        {**DESK, "freshdesk_webhook_secret": "short"},
        {**DESK, "unknown": 1},
        {"freshchat_api_url": "https://x/v2", "freshchat_api_token": "t"},
        {**CHAT, "freshchat_jwt_algorithm": "RS256"},
        {**CHAT, "freshchat_jwt_algorithm": "none"},
        {**CHAT, "freshchat_api_token": None},
        {**CHAT, "freshchat_webhook_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END"},
        {
            **CHAT,
            "freshchat_jwt_algorithm": "RS256",
            "freshchat_jwt_public_key": "not a key",
        },
    ],
)
def test_inconsistent_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FreshworksSettings(**values)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_FRESHWORKS_FRESHDESK_DOMAIN", "acme")
    monkeypatch.setenv("LIVEUSER_FRESHWORKS_FRESHDESK_API_KEY", "zq-secret-key")
    settings = FreshworksSettings()
    assert settings.freshdesk_api == "https://acme.freshdesk.com/api/v2"
    assert "zq-secret-key" not in repr(settings)
