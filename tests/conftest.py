"""Fixtures for the core's tests: the sandbox server, tenants, ledgers, tokens."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from starlette.applications import Starlette

from liveuser import (
    Channel,
    Conversation,
    HttpClient,
    Ledger,
    Pipeline,
    Registry,
    Settings,
    TenantSettings,
)
from liveuser.http import RETRY_ATTEMPTS
from liveuser.sandbox import SANDBOX_API_KEY, create_user_data_api, serve
from liveuser.tokens import KeyRing, Purpose, mint_token

HOST_KEY = "k1"
HOST_SECRET = "default-tenant-host-secret-0123456789abcdef"
ACME_SECRET = "acme-tenant-host-secret-0123456789abcdefghij"
DEFAULT_KEYS = KeyRing({HOST_KEY: HOST_SECRET})
ACME_KEYS = KeyRing({HOST_KEY: ACME_SECRET})


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries run without backoff in tests, as many attempts as in production."""
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS - 1):
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's liveuser.toml or LIVEUSER_* variables."""
    for name in list(__import__("os").environ):
        if name.startswith("LIVEUSER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[tuple[str, Starlette]]:
    """The fake User Data API, served once per run on 127.0.0.1."""
    app = create_user_data_api()
    with serve(app) as url:
        yield f"{url}/user-data", app


def host_token(
    email: str, *, tenant: str = "default", keys: KeyRing = DEFAULT_KEYS, **kwargs: Any
) -> str:
    # An hour: some tokens are minted at collection time, minutes before their test runs.
    kwargs.setdefault("ttl", 3600)
    return mint_token(keys, tenant=tenant, purpose=Purpose.identity, subject=email, **kwargs)


def host_conversation(
    email: str,
    conversation_id: str | None = None,
    *,
    tenant: str = "default",
    keys: KeyRing | None = None,
    payload: dict[str, Any] | None = None,
) -> Conversation:
    keys = keys or (ACME_KEYS if tenant == "acme" else DEFAULT_KEYS)
    return Conversation(
        tenant=tenant,
        channel=Channel.host,
        conversation_id=conversation_id or f"conv-{secrets.token_hex(4)}",
        claims={"token": host_token(email, tenant=tenant, keys=keys)},
        payload=payload or {},
    )


def make_settings(
    tmp_path: Path, *, user_data_api_url: str | None = None, **tenant_options: Any
) -> Settings:
    plugins = tenant_options.pop("plugins", {})
    host_keys = tenant_options.pop("host_keys", {HOST_KEY: HOST_SECRET})
    if user_data_api_url:
        plugins["user_data_api"] = {"url": user_data_api_url, "api_key": SANDBOX_API_KEY}
    return Settings(
        ledger=tmp_path / "ledger.sqlite3",
        tenants={
            "default": TenantSettings(host_keys=host_keys, plugins=plugins, **tenant_options),
            "acme": TenantSettings(host_keys={HOST_KEY: ACME_SECRET}),
        },
    )


@pytest.fixture
def ledger_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
async def ledger(tmp_path: Path, ledger_key: bytes) -> AsyncIterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite3", ledger_key)
    yield led
    await led.aclose()


PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
async def make_pipeline(tmp_path: Path, ledger: Ledger) -> AsyncIterator[PipelineFactory]:
    """Build a pipeline over fresh tenants; ``transport`` swaps in an in-process HTTP stack."""
    registries: list[Registry] = []

    def factory(*, transport: Any = None, **options: Any) -> Pipeline:
        http = HttpClient(transport) if transport is not None else None
        registry = Registry(make_settings(tmp_path, **options), http=http, discover=False)
        registries.append(registry)
        return Pipeline(registry, ledger)

    yield factory
    for registry in registries:
        await registry.aclose()


# -- PostgreSQL and Redis (started by scripts/_services) -----------------------------

_MISSING_SERVICES: set[str] = set()


def _service_url(variable: str, what: str) -> str:
    """The URL scripts/_services exported; skipped loudly without it, failed under CI=true."""
    url = os.environ.get(variable)
    if url:
        return url
    reason = f"{what} is not available ({variable} unset; run the tests with bash scripts/test)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    _MISSING_SERVICES.add(what)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _service_url("LU_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _service_url("LU_TEST_REDIS_URL", "Redis")


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A URL whose connections see a fresh, empty schema of their own (dropped afterwards)."""
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for what in sorted(_MISSING_SERVICES):
        terminalreporter.write_line(
            f"WARNING: {what} was not available: its tests were SKIPPED "
            "(bash scripts/test installs and starts it; under CI=true this fails)",
            red=True,
            bold=True,
        )
