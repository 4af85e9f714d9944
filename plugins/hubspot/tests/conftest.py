"""Fixtures for the HubSpot connector's tests: the fake served once, fresh tenants per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liveuser import Pipeline
from liveuser.registry import Tenant
from liveuser.sandbox import serve
from liveuser.testing import PluginHarness, ServedFake, isolated_settings, no_backoff
from liveuser.tokens import KeyRing
from liveuser_hubspot import HubSpotPlugin
from liveuser_hubspot.fake import create_fake_hubspot, fake_settings

HOST_KEY = "test-host-key-0123456789abcdef0123456789"


__all__ = ["isolated_settings", "no_backoff"]  # imported fixtures are active here

Fake = ServedFake


@pytest.fixture(scope="session")
def fake() -> Iterator[Fake]:
    """The fake HubSpot, served once per run on 127.0.0.1."""
    app = create_fake_hubspot()
    with serve(app) as url:
        yield Fake(url, app)


@pytest.fixture(autouse=True)
def _reset_fake_throttle(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake" in request.fixturenames:
        app = request.getfixturevalue("fake").app
        app.state.throttle = 0
        app.state.daily_exhausted = False
        app.state.window_ms = 10_000


@dataclass
class Setup:
    tenant: Tenant
    plugin: HubSpotPlugin
    pipeline: Pipeline
    keys: KeyRing


SetupFactory = Callable[..., Setup]


@pytest.fixture
async def make_setup(tmp_path: Path, fake: Fake) -> AsyncIterator[SetupFactory]:
    """A fresh registry, tenant and pipeline with the connector pointed at the fake."""
    async with PluginHarness(tmp_path, [HubSpotPlugin]) as harness:

        def factory(*, deadline: float = 10.0, **overrides: Any) -> Setup:
            built = harness.build(
                deadline_seconds=deadline,
                host_keys={"k1": HOST_KEY},
                plugins={"hubspot": fake_settings(fake.url, **overrides)},
            )
            assert isinstance(built.plugin, HubSpotPlugin)
            keys = built.tenant.host_keys
            assert keys is not None
            return Setup(built.tenant, built.plugin, built.pipeline, keys)

        yield factory
