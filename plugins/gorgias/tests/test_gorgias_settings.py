"""Settings: where the account is and how to authenticate."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from liveuser_gorgias import GorgiasSettings


def test_account_gives_its_own_domain() -> None:
    s = GorgiasSettings(account="acme", email="bot@acme.example", api_key="k")
    assert s.api_base == "https://acme.gorgias.com"


def test_base_url_wins_and_loses_its_trailing_slash() -> None:
    s = GorgiasSettings(base_url="http://127.0.0.1:8123/", email="bot@acme.example", api_key="k")
    assert s.api_base == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "bot@acme.example", "api_key": "k"},
        {"account": "acme", "api_key": "k"},
        {"account": "acme", "email": "bot@acme.example"},
        {"account": "Acme.evil", "email": "bot@acme.example", "api_key": "k"},
        {"base_url": "https://x.example/path", "email": "bot@acme.example", "api_key": "k"},
        {"account": "acme", "email": "b@a.e", "api_key": "k", "webhook_token": "short"},
        {"account": "acme", "email": "b@a.e", "api_key": "k", "unknown": 1},
    ],
)
def test_bad_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GorgiasSettings(**fields)  # type: ignore[arg-type]


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_GORGIAS_ACCOUNT", "acme")
    monkeypatch.setenv("LIVEUSER_GORGIAS_EMAIL", "bot@acme.example")
    monkeypatch.setenv("LIVEUSER_GORGIAS_API_KEY", "secret-key")
    s = GorgiasSettings()  # type: ignore[call-arg]
    assert s.api_key.get_secret_value() == "secret-key"
    assert "secret-key" not in repr(s)
