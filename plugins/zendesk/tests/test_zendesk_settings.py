"""Settings: one auth choice, credentials as secrets, never Zendesk's public test secret."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from liveuser import HttpClient
from liveuser_zendesk import ZendeskSettings
from liveuser_zendesk.client import ZendeskClient
from liveuser_zendesk.settings import TEST_WEBHOOK_SECRET


def test_api_token_auth_is_basic_with_the_token_suffix() -> None:
    s = ZendeskSettings(subdomain="acme", email="bot@acme.example", api_token="t0k")
    assert s.api_base == "https://acme.zendesk.com"
    assert s.messaging_base == "https://acme.zendesk.com/sc"
    header = ZendeskClient(HttpClient(), s, 1000).support_headers()["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"bot@acme.example/token:t0k"
    assert "t0k" not in repr(s)


def test_oauth_auth_is_a_bearer_token() -> None:
    s = ZendeskSettings(subdomain="acme", auth="oauth", oauth_token="abc")
    assert ZendeskClient(HttpClient(), s, 1000).support_headers() == {"Authorization": "Bearer abc"}


@pytest.mark.parametrize(
    "values",
    [
        {"email": "a@b.c", "api_token": "t"},  # no account
        {"subdomain": "acme", "api_token": "t"},  # token without email
        {"subdomain": "acme", "auth": "oauth"},  # oauth without token
        {"subdomain": "Acme/../x", "email": "a@b.c", "api_token": "t"},
        {"base_url": "https://acme.zendesk.com/api", "email": "a@b.c", "api_token": "t"},
        {"subdomain": "acme", "email": "a@b.c", "api_token": "t", "messaging_key_id": "k"},
        {"subdomain": "acme", "email": "a@b.c", "api_token": "t", "unknown": 1},
        {
            "subdomain": "acme",
            "email": "a@b.c",
            "api_token": "t",
            "webhook_secret": TEST_WEBHOOK_SECRET,
        },
    ],
)
def test_inconsistent_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ZendeskSettings(**values)  # type: ignore[arg-type]
