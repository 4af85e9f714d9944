"""Fixtures for the Shopify back-end's tests: the fake served once, fresh tenants per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liveuser import Channel, Conversation, Pipeline
from liveuser.host import HostConnector
from liveuser.registry import Tenant
from liveuser.sandbox import serve
from liveuser.testing import PluginHarness, ServedFake, isolated_settings, no_backoff
from liveuser.tokens import KeyRing, Purpose, mint_token
from liveuser_shopify import ShopifyPlugin
from liveuser_shopify.fake import create_fake_shopify, fake_settings, reset

HOST_KEY_ID = "test-1"
HOST_SECRET = "shopify-tests-host-secret-0123456789abcdef"


__all__ = ["isolated_settings", "no_backoff"]  # imported fixtures are active here

Fake = ServedFake


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
    async with PluginHarness(tmp_path, [HostConnector, ShopifyPlugin]) as harness:

        def factory(*, deadline: float = 10.0, **overrides: Any) -> Setup:
            built = harness.build(
                deadline_seconds=deadline,
                host_keys={HOST_KEY_ID: HOST_SECRET},
                plugins={"shopify": fake_settings(fake.url, **overrides)},
            )
            assert isinstance(built.plugin, ShopifyPlugin)
            return Setup(built.tenant, built.plugin, built.pipeline)

        yield factory
