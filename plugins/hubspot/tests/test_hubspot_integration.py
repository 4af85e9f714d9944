"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
import time

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Registry, Settings, TenantSettings
from liveuser.demo import DemoContext
from liveuser.tokens import KeyRing
from liveuser_hubspot import HubSpotPlugin
from liveuser_hubspot.demo import attestation
from liveuser_hubspot.fake import fake_settings, seed


@pytest.mark.parametrize(("confirm", "requests"), [(False, 2), (True, 3)])
async def test_email_thread_context_costs_two_requests_three_with_the_contact_check(
    make_setup: SetupFactory, fake: Fake, confirm: bool, requests: int
) -> None:
    setup = make_setup(confirm_contact_email=confirm)
    conv = Conversation(channel=Channel.hubspot_email, conversation_id=seed.EMAIL_VERIFIED)
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "dana.reyes@example.com" in ctx.text
    assert fake.requests - before == requests
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert again.verified
    assert fake.requests - before == requests  # the verification is cached


async def test_attested_chat_context_costs_three_requests(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    token = attestation(setup.keys, "dana.reyes@example.com", seed.CHAT_DANA)
    conv = Conversation(
        channel=Channel.hubspot_chat, conversation_id=seed.CHAT_DANA, claims={"attestation": token}
    )
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert fake.requests - before == 3


async def test_unattested_chat_context_says_why(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.hubspot_chat, conversation_id=seed.CHAT_TYPED_EMAIL)
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "attestation" in ctx.refusal
    assert "ann@example.com" not in ctx.text
    assert fake.requests == before


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("hubspot") == "liveuser_hubspot.plugin:HubSpotPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "hubspot" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"hubspot": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    assert isinstance(tenant.plugins.get("hubspot"), HubSpotPlugin)
    assert tenant.owners[Channel.hubspot_email].name == "hubspot"
    assert tenant.owners[Channel.hubspot_chat].name == "hubspot"


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "hubspot" not in tenant.plugins


async def test_demo_steps_verify_and_refuse_as_titled(fake: Fake) -> None:
    from liveuser import Ledger, Pipeline
    from liveuser_hubspot.demo import demo

    keys = {"k": "x" * 32}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing(keys)))
        assert sandbox.plugin == "hubspot"
        assert {s.conversation.channel for s in sandbox.steps} == {
            Channel.hubspot_email,
            Channel.hubspot_chat,
        }
        assert sandbox.requests() == 0
        settings = Settings(
            tenants={
                "default": TenantSettings(host_keys=keys, plugins={"hubspot": sandbox.settings})
            },
        )
        registry = Registry(settings, discover=False, builtins=[HubSpotPlugin])
        ledger = Ledger(":memory:", b"k" * 32)
        pipeline = Pipeline(registry, ledger)
        for step in sandbox.steps:
            before = sandbox.requests()
            verdict = await pipeline.verify(step.conversation)
            refused = step.title.startswith("Refused")
            assert hasattr(verdict, "reason") == refused, (step.title, verdict)
            titled = re.search(r"\((\d+) requests?\)", step.title)
            if titled:  # a title that counts the requests tells the truth
                assert sandbox.requests() - before == int(titled[1]), step.title
        await registry.aclose()
        await ledger.aclose()
    assert time.monotonic() - started < 2.0
