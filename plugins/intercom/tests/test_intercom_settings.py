"""Settings: validated, secret, and read from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from liveuser_intercom import IntercomSettings


def test_defaults_point_at_the_us_region_with_a_pinned_version() -> None:
    s = IntercomSettings(access_token="tok-secret")  # type: ignore[arg-type]
    assert s.api_base == "https://api.intercom.io"
    assert s.api_version == "2.15"
    assert s.messenger_security == "off"
    assert "tok-secret" not in repr(s)


def test_environment_sets_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_INTERCOM_ACCESS_TOKEN", "tok")
    monkeypatch.setenv("LIVEUSER_INTERCOM_BASE_URL", "https://api.eu.intercom.io")
    monkeypatch.setenv("LIVEUSER_INTERCOM_MESSENGER_SECURITY", "jwt")
    s = IntercomSettings()  # type: ignore[call-arg]
    assert s.access_token.get_secret_value() == "tok"
    assert s.api_base == "https://api.eu.intercom.io"
    assert s.messenger_security == "jwt"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"access_token": " "},
        {"access_token": "t", "base_url": "api.intercom.io"},
        {"access_token": "t", "api_version": "latest"},
        {"access_token": "t", "messenger_security": "on"},
        {"access_token": "t", "client_secret": ""},
        {"access_token": "t", "unknown": 1},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IntercomSettings(**bad)  # type: ignore[arg-type]
