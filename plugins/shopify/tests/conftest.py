"""Fixtures for the Shopify back-end's tests: the fake served once, fresh tenants per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stamina
from starlette.applications import Starlette

from liveuser import Channel, Conversation, Ledger, Pipeline, Registry, Settings, TenantSettings
from liveuser.host import HostConnector
from liveuser.http import RETRY_ATTEMPTS
from liveuser.registry import Tenant
from liveuser.sandbox import serve
from liveuser.tokens import KeyRing, Purpose, mint_token
from liveuser_shopify import ShopifyPlugin
from liveuser_shopify.fake import create_fake_shopify, fake_settings, reset

HOST_KEY_ID = "test-1"
HOST_SECRET = "shopify-tests-host-secret-0123456789abcdef"


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
    """The fake Shopify, served once per run on 127.0.0.1."""
    app = create_fake_shopify()
    with serve(app) as url:
        yield Fake(url, app)


@pytest.fixture(autouse=True)
def _reset_fake(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake" in request.fixturenames:
        reset(request.getfixturevalue("fake").app)


def host_conversation(email: str, cid: str = "chat-1", tenant: str = "default") -> Conversation:
    """A host-channel conversation whose user the host vouches for."""
    keys = KeyRing({HOST_KEY_ID: HOST_SECRET})
    token = mint_token(keys, tenant=tenant, purpose=Purpose.identity, subject=email)
    return Conversation(
        tenant=tenant, channel=Channel.host, conversation_id=cid, claims={"token": token}
    )


@dataclass
class Setup:
    tenant: Tenant
    plugin: ShopifyPlugin
    pipeline: Pipeline


SetupFactory = Callable[..., Setup]


@pytest.fixture
async def make_setup(tmp_path: Path, fake: Fake) -> AsyncIterator[SetupFactory]:
    """A fresh registry, tenant and pipeline with the plugin pointed at the fake."""
    made: list[tuple[Registry, Ledger]] = []

    def factory(*, deadline: float = 10.0, **overrides: Any) -> Setup:
        settings = Settings(
            ledger=tmp_path / f"ledger{len(made)}.sqlite3",
            tenants={
                "default": TenantSettings(
                    deadline_seconds=deadline,
                    host_keys={HOST_KEY_ID: HOST_SECRET},
                    plugins={"shopify": fake_settings(fake.url, **overrides)},
                )
            },
        )
        registry = Registry(settings, discover=False, builtins=[HostConnector, ShopifyPlugin])
        ledger = Ledger(settings.ledger, b"k" * 32)
        made.append((registry, ledger))
        tenant = registry.tenant()
        plugin = tenant.plugins["shopify"]
        assert isinstance(plugin, ShopifyPlugin)
        return Setup(tenant, plugin, Pipeline(registry, ledger))

    yield factory
    for registry, ledger in made:
        await registry.aclose()
        await ledger.aclose()
