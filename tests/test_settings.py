"""Settings: liveuser.toml plus environment; every mistake is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveuser import ConfigError, Registry, load_settings
from liveuser.sandbox import SANDBOX_API_KEY


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "liveuser.toml"
    path.write_text(text)
    return path


def test_no_configuration_gives_one_default_tenant() -> None:
    settings = load_settings()
    assert list(settings.tenants) == ["default"]
    assert settings.tenants["default"].deadline_seconds == 10
    assert settings.tenants["default"].cache_ttl_seconds == 60


def test_file_configures_tenants_and_plugins(tmp_path: Path) -> None:
    _write(
        tmp_path,
        f"""
ledger = "ledger.sqlite3"
[tenants.default]
deadline_seconds = 3
[tenants.default.plugins.user_data_api]
url = "https://api.example.com/users"
api_key = "{SANDBOX_API_KEY}"
[tenants.acme]
monthly_cap = "12.50"
""",
    )
    settings = load_settings()
    assert settings.config == Path("liveuser.toml")
    assert settings.tenants["default"].deadline_seconds == 3
    assert str(settings.tenants["acme"].monthly_cap) == "12.50"
    registry = Registry(settings, discover=False)
    plugin = registry.tenant("default").plugins["user_data_api"]
    assert plugin.settings.api_key.get_secret_value() == SANDBOX_API_KEY  # type: ignore[attr-defined]
    assert SANDBOX_API_KEY not in repr(plugin.settings)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "[tenants.default]\ndeadline_seconds = 3\n")
    monkeypatch.setenv("LIVEUSER_TENANTS__DEFAULT__DEADLINE_SECONDS", "4")
    assert load_settings().tenants["default"].deadline_seconds == 4


def test_plugin_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_USER_DATA_API_URL", "https://api.example.com/u")
    monkeypatch.setenv("LIVEUSER_USER_DATA_API_API_KEY", "k")
    registry = Registry(load_settings(), discover=False)
    assert "user_data_api" in registry.tenant().plugins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tenants.default\n", "cannot read liveuser.toml"),
        (
            "[tenants.default]\ndeadline_seconds = 30\n",
            "settings: tenants.default.deadline_seconds: Input should be less than or equal to 10",
        ),
        ("[tenants.default]\nspeed = 1\n", "settings: tenants.default.speed: Extra inputs"),
        ('[tenants.default]\nmonthly_cap = "lots"\n', "tenants.default.monthly_cap"),
    ],
)
def test_bad_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEUSER_CONFIG", "/nonexistent/liveuser.toml")
    with pytest.raises(ConfigError, match=r"config file not found: /nonexistent/liveuser\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('url = "https://x.example.com"', "plugin user_data_api settings: api_key: Field required"),
        ('url = "not a url"\napi_key = "k"', "plugin user_data_api settings: url:"),
        (
            'url = "https://x.example.com"\napi_key = "k"\ncolour = "red"',
            "plugin user_data_api settings: colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_plugin_settings_name_the_tenant_and_plugin(
    tmp_path: Path, section: str, message: str
) -> None:
    _write(tmp_path, f"[tenants.default.plugins.user_data_api]\n{section}\n")
    registry = Registry(load_settings(), discover=False)
    with pytest.raises(ConfigError) as info:
        registry.tenant()
    assert str(info.value).startswith("tenant default: ")
    assert message in str(info.value)


def test_short_host_key_is_a_config_error(tmp_path: Path) -> None:
    _write(tmp_path, '[tenants.default.host_keys]\nk1 = "short"\n')
    with pytest.raises(ConfigError, match="k1"):
        Registry(load_settings(), discover=False).tenant()


def test_installed_example_plugin_is_configured_per_tenant(tmp_path: Path) -> None:
    customers = tmp_path / "customers.json"
    customers.write_text('{"ann@example.com": {"plan": "Gold"}}')
    _write(
        tmp_path,
        f'[tenants.default.plugins.example_crm]\ncustomers_file = "{customers}"\n[tenants.acme]\n',
    )
    registry = Registry(load_settings())
    assert "example_crm" in registry.tenant("default").plugins
    assert "example_crm" not in registry.tenant("acme").plugins  # not configured there
