"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import time

from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Registry, Settings, TenantSettings
from liveuser.demo import DemoContext
from liveuser.tokens import KeyRing
from liveuser_intercom import IntercomPlugin
from liveuser_intercom.demo import messenger_jwt
from liveuser_intercom.fake import fake_settings, seed


async def test_email_conversation_context_costs_exactly_two_requests(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.intercom, conversation_id=seed.EMAIL_VERIFIED)
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "ann@example.com" in ctx.text
    assert fake.requests - before == 2
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert again.verified
    assert fake.requests - before == 2  # the verification is cached


async def test_messenger_jwt_context_costs_two_requests(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    token = messenger_jwt("cust-chloe", "chloe@example.com")
    conv = Conversation(
        channel=Channel.intercom,
        conversation_id=seed.MESSENGER_CHLOE,
        claims={"intercom_user_jwt": token},
    )
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert fake.requests - before == 2


async def test_refused_lead_context_says_why(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.intercom, conversation_id=seed.LEAD_CHAT)
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "lead" in ctx.refusal
    assert "ann@example.com" not in ctx.text


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("intercom") == "liveuser_intercom.plugin:IntercomPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "intercom" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"intercom": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    assert isinstance(tenant.plugins.get("intercom"), IntercomPlugin)
    assert tenant.owners[Channel.intercom].name == "intercom"


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "intercom" not in tenant.plugins


def test_demo_factory_starts_the_fake_quickly() -> None:
    from liveuser_intercom.demo import demo

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"k": "x" * 32})))
        assert sandbox.plugin == "intercom"
        assert {step.conversation.channel for step in sandbox.steps} == {Channel.intercom}
        assert sandbox.requests() == 0
    assert time.monotonic() - started < 2.0
