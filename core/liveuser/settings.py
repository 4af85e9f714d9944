"""Settings: one liveuser.toml plus environment variables.

The file is found at ``$LIVEUSER_CONFIG``, else ``./liveuser.toml``; without
one, liveuser runs with a single tenant, ``default``, and no configuration.
Environment variables (prefix ``LIVEUSER_``, ``__`` between nested names)
override the file: ``LIVEUSER_TENANTS__DEFAULT__DEADLINE_SECONDS=5``.

```toml
ledger = "liveuser-ledger.sqlite3"   # or, shared by several workers:
# database_url = "postgresql://liveuser:…@db.internal/liveuser"
# redis_url = "redis://cache.internal:6379/0"       # shared caches and request budgets
# rate_limits = { "acme.zendesk.com" = "700/minute" }

[tenants.default]
deadline_seconds = 10
cache_ttl_seconds = 60
monthly_cap = "50.00"

[tenants.default.host_keys]          # key id -> secret; two during a rotation
k2025 = "…at least 32 bytes…"

[tenants.default.api_keys]           # `liveuser serve` callers: key id -> secret
platform = "…at least 32 characters, not a host key…"

[tenants.default.plugins.user_data_api]
url = "https://api.example.com/liveuser"
api_key = "…"
```

Each plugin's own settings live under ``[tenants.<name>.plugins.<plugin>]``
and are validated by the plugin's settings model; for the ``default`` tenant
that model may also read its own environment variables
(``LIVEUSER_<PLUGIN>_<FIELD>``), which the file's values override.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .actions.policy import ActionPolicy
from .errors import ConfigError

DEFAULT_TENANT = "default"
MIN_API_KEY_CHARS = 32


class TenantSettings(BaseModel):
    """What one tenant (one business) configures."""

    model_config = ConfigDict(extra="forbid")

    deadline_seconds: float = Field(
        10.0, gt=0, le=10.0, description="Assembly deadline for all back-ends of one context."
    )
    cache_ttl_seconds: float = Field(
        60.0, ge=0, le=3600, description="How long fetched data (and so a verification) is reused."
    )
    max_response_bytes: int = Field(
        1_000_000,
        gt=0,
        description="Largest back-end response body read, enforced while streaming.",
    )
    budget_chars: int = Field(
        6_000, ge=200, description="Largest context handed to the model, in characters."
    )
    charge_threshold_chars: int = Field(
        1_500, ge=0, description="A delivery over this many characters is charged as a tool."
    )
    price_per_message: Decimal = Field(
        Decimal("0.02"), ge=0, description="Charge for a message whose delivery is over threshold."
    )
    monthly_cap: Decimal | None = Field(
        None,
        ge=0,
        description="Spending cap per month; past it contexts stay within the free size.",
    )
    host_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Host token keys by key id; the last one mints."
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="`liveuser serve` API keys of this tenant by key id (32+ characters); "
        "never a host key.",
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each plugin's settings, by plugin name.",
        # Raw input that may hold secrets: the plugin's own model (SecretStr) is what is
        # kept and shown, so this dict is neither printed nor dumped.
        repr=False,
        exclude=True,
    )
    disabled_plugins: list[str] = Field(
        default_factory=list, description="Installed plugins this tenant does not load."
    )
    # -- actions (liveuser.actions.policy): every action is off until enabled here --
    actions: ActionPolicy = Field(
        default_factory=ActionPolicy,
        description="Actions the customer confirms: which are on, refund limit, states.",
    )

    @model_validator(mode="after")
    def _api_keys_are_their_own(self) -> TenantSettings:
        host = {secret.get_secret_value() for secret in self.host_keys.values()}
        for key_id, secret in self.api_keys.items():
            value = secret.get_secret_value()
            if len(value) < MIN_API_KEY_CHARS:
                raise ValueError(
                    f"api key {key_id!r} is shorter than {MIN_API_KEY_CHARS} characters"
                )
            if value in host:
                raise ValueError(f"api key {key_id!r} is a host key; give the service its own")
        return self


class Settings(BaseSettings):
    """Process-wide settings and every tenant's."""

    model_config = SettingsConfigDict(
        env_prefix="LIVEUSER_", env_nested_delimiter="__", extra="forbid"
    )

    config: Path | None = Field(None, description="The liveuser.toml read, if any.")
    ledger: Path = Field(
        Path("liveuser-ledger.sqlite3"), description="SQLite metering ledger (WAL)."
    )
    ledger_key: SecretStr | None = Field(
        None,
        description="Key for the ledger's identity hashes; default: a key file beside the ledger.",
    )
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL ledger shared by several workers (postgresql://…); "
        "unset: the SQLite file `ledger`.",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="Redis shared by several workers (redis://…) for the data and "
        "verification caches and the request budgets; unset: each process its own.",
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description="Request budget per vendor API host, e.g. "
        '{"acme.zendesk.com" = "700/minute"}, shared by every worker on one Redis.',
    )
    recovery_interval_seconds: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="How often each `liveuser serve` worker settles the action records a "
        "crash left in flight (it also does at start-up).",
    )
    tenants: dict[str, TenantSettings] = Field(
        default_factory=lambda: {DEFAULT_TENANT: TenantSettings()},
        description="Tenants by name.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        from .metering import is_database_url  # only a configured database needs the ledger

        if not is_database_url(value.get_secret_value()):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _api_keys_are_unique(self) -> Settings:
        owners: dict[str, str] = {}
        for name, tenant in self.tenants.items():
            for secret in tenant.api_keys.values():
                other = owners.setdefault(secret.get_secret_value(), name)
                if other != name:
                    raise ValueError(f"tenants {other!r} and {name!r} share an api key")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            return value
        from limits import parse_many  # slow to import: only where budgets are set

        for host, limit in value.items():
            try:
                parse_many(limit)
            except ValueError:
                raise ValueError(
                    f"{host}: {limit!r} is not a rate such as '10/second' or '700/minute'"
                ) from None
        return value

    @property
    def ledger_target(self) -> str | Path:
        """Where the ledger lives: the PostgreSQL URL if set, else the SQLite file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.ledger

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _config_path() -> Path | None:
    named = os.environ.get("LIVEUSER_CONFIG")
    if named:
        return Path(named)
    local = Path("liveuser.toml")
    return local if local.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any problem into a one-line :class:`ConfigError`."""
    path = _config_path()
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "settings")) from None
    except (ValueError, OSError) as exc:  # TOML syntax errors and unreadable files
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if DEFAULT_TENANT not in settings.tenants and not settings.tenants:
        settings.tenants[DEFAULT_TENANT] = TenantSettings()
    return settings.model_copy(update={"config": path})


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """Summarise a pydantic error as ``what: field.path: message`` (first error only)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{what}: {where}: {first['msg']}{more}"
