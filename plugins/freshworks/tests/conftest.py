"""Fixtures for the Freshworks connector's tests: the fake served once, fresh tenants per test."""

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
from liveuser_freshworks import FreshworksPlugin
from liveuser_freshworks.fake import create_fake_freshworks, fake_settings

__all__ = ["isolated_settings", "no_backoff"]  # imported fixtures are active here

Fake = ServedFake


@pytest.fixture(scope="session")
def fake() -> Iterator[Fake]:
    """The fake Freshdesk and Freshchat, served once per run on 127.0.0.1."""
    app = create_fake_freshworks()
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
    plugin: FreshworksPlugin
    pipeline: Pipeline


SetupFactory = Callable[..., Setup]


@pytest.fixture
async def make_setup(tmp_path: Path, fake: Fake) -> AsyncIterator[SetupFactory]:
    """A fresh registry, tenant and pipeline with the connector pointed at the fake."""
    async with PluginHarness(tmp_path, [FreshworksPlugin]) as harness:

        def factory(*, deadline: float = 10.0, **overrides: Any) -> Setup:
            built = harness.build(
                deadline_seconds=deadline,
                plugins={"freshworks": fake_settings(fake.url, **overrides)},
            )
            assert isinstance(built.plugin, FreshworksPlugin)
            return Setup(built.tenant, built.plugin, built.pipeline)

        yield factory
