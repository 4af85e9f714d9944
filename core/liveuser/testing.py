"""Test helpers for liveuser plugins: fakes on loopback, fresh tenants, no backoff.

A plugin's ``tests/conftest.py`` imports the fixtures it wants (importing a
fixture into a conftest activates it there) and builds its tenants with
:class:`PluginHarness`::

    from liveuser.testing import ServedFake, PluginHarness, isolated_settings, no_backoff

    @pytest.fixture(scope="session")
    def fake() -> Iterator[ServedFake]:
        with ServedFake.serve(create_fake_acme()) as served:
            yield served

    @pytest.fixture
    async def make_setup(tmp_path, fake):
        async with PluginHarness(tmp_path, [AcmePlugin]) as harness:
            yield lambda **o: harness.build(plugins={"acme": fake_settings(fake.url, **o)})

A plugin's webhook routes are tested as ``liveuser serve`` mounts them with
:func:`served_app`, in process (no socket)::

    async with served_app(setup.pipeline) as client:
        answer = await client.post("/webhooks/acme/default/", content=body, headers=headers)

Nothing here is imported by liveuser itself; it needs pytest.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import stamina
from starlette.applications import Starlette

from .http import RETRY_ATTEMPTS
from .metering import Ledger
from .pipeline import Pipeline
from .plugin import Plugin
from .registry import Registry, Tenant
from .sandbox import serve
from .settings import Settings, TenantSettings


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """Retries run without backoff in tests, as many attempts as in production."""
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS - 1):
        yield


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's liveuser.toml or LIVEUSER_* variables."""
    for name in list(os.environ):
        if name.startswith("LIVEUSER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@dataclass
class ServedFake:
    """A vendor fake served on 127.0.0.1; ``requests`` is what it has received so far."""

    url: str
    app: Starlette

    @property
    def requests(self) -> int:
        return int(self.app.state.requests)

    @classmethod
    @contextmanager
    def serve(cls, app: Starlette) -> Iterator[ServedFake]:
        with serve(app) as url:
            yield cls(url, app)


@asynccontextmanager
async def served_app(pipeline: Pipeline) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of ``liveuser serve``'s app over ``pipeline``'s registry and ledger.

    Requests go through :class:`httpx2.ASGITransport` to the app in this
    process (base URL ``http://serve``); the registry and ledger stay the
    caller's to close. Needs the ``serve`` extra.
    """
    from .serve import create_app

    registry = pipeline.registry
    app = create_app(registry.settings, registry=registry, ledger=pipeline.ledger)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://serve") as client:
        yield client


@dataclass
class Harness:
    """One fresh tenant with the plugin under test, and a pipeline over it."""

    tenant: Tenant
    plugin: Plugin[Any]
    pipeline: Pipeline


@dataclass
class PluginHarness:
    """Builds fresh registries (no entry-point discovery) and closes them afterwards."""

    tmp_path: Path
    plugin_classes: Sequence[type[Plugin[Any]]]
    _made: list[tuple[Registry, Ledger]] = field(default_factory=list)

    def build(self, *, plugin: str | None = None, **tenant_options: Any) -> Harness:
        """A ``default`` tenant built from ``tenant_options`` (TenantSettings fields).

        ``plugin`` names the plugin returned in :attr:`Harness.plugin` (default:
        the last class given).
        """
        n = len(self._made)
        settings = Settings(
            ledger=self.tmp_path / f"ledger{n}.sqlite3",
            tenants={"default": TenantSettings(**tenant_options)},
        )
        registry = Registry(settings, discover=False, builtins=list(self.plugin_classes))
        ledger = Ledger(settings.ledger, b"k" * 32)
        self._made.append((registry, ledger))
        tenant = registry.tenant()
        name = plugin or self.plugin_classes[-1].name
        return Harness(tenant, tenant.plugins[name], Pipeline(registry, ledger))

    async def aclose(self) -> None:
        for registry, ledger in self._made:
            await registry.aclose()
            await ledger.aclose()
        self._made.clear()

    async def __aenter__(self) -> PluginHarness:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
