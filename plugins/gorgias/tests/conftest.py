"""Fixtures for the Gorgias connector's tests: the fake served once, fresh tenants per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stamina
from starlette.applications import Starlette

from liveuser import Ledger, Pipeline, Registry, Settings, TenantSettings
from liveuser.http import RETRY_ATTEMPTS
from liveuser.registry import Tenant
from liveuser.sandbox import serve
from liveuser_gorgias import GorgiasPlugin
from liveuser_gorgias.fake import create_fake_gorgias, fake_settings


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries run without backoff in tests, as many attempts as in production."""
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS - 1):
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LIVEUSER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@dataclass
class Fake:
    url: str
    app: Starlette

    @property
    def requests(self) -> int:
        return int(self.app.state.requests)


@pytest.fixture(scope="session")
def fake() -> Iterator[Fake]:
    """The fake Gorgias, served once per run on 127.0.0.1 (a bucket large enough for the run)."""
    app = create_fake_gorgias(capacity=100_000)
    with serve(app) as url:
        yield Fake(url, app)


@pytest.fixture(autouse=True)
def _reset_fake_throttle(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake" in request.fixturenames:
        app = request.getfixturevalue("fake").app
        app.state.throttle = 0
        app.state.retry_after = 1


@dataclass
class Setup:
    tenant: Tenant
    plugin: GorgiasPlugin
    pipeline: Pipeline


SetupFactory = Callable[..., Setup]


@pytest.fixture
async def make_setup(tmp_path: Path, fake: Fake) -> AsyncIterator[SetupFactory]:
    """A fresh registry, tenant and pipeline with the connector pointed at the fake."""
    made: list[tuple[Registry, Ledger]] = []

    def factory(*, deadline: float = 10.0, url: str | None = None, **overrides: Any) -> Setup:
        settings = Settings(
            ledger=tmp_path / f"ledger{len(made)}.sqlite3",
            tenants={
                "default": TenantSettings(
                    deadline_seconds=deadline,
                    plugins={"gorgias": fake_settings(url or fake.url, **overrides)},
                )
            },
        )
        registry = Registry(settings, discover=False, builtins=[GorgiasPlugin])
        ledger = Ledger(settings.ledger, b"k" * 32)
        made.append((registry, ledger))
        tenant = registry.tenant()
        plugin = tenant.plugins["gorgias"]
        assert isinstance(plugin, GorgiasPlugin)
        return Setup(tenant, plugin, Pipeline(registry, ledger))

    yield factory
    for registry, ledger in made:
        await registry.aclose()
        await ledger.aclose()
