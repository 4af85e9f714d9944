"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import time

from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Registry, Settings, TenantSettings
from liveuser.demo import DemoContext
from liveuser.tokens import KeyRing
from liveuser_zendesk import ZendeskPlugin
from liveuser_zendesk.fake import fake_settings, seed


async def test_email_ticket_context_costs_exactly_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "ann@example.com" in ctx.text
    assert fake.requests - before == 1
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert again.verified
    assert fake.requests - before == 1  # the verification is cached


async def test_refused_ticket_context_says_why(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(seed.WEB_FORM))
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "web form" in ctx.refusal
    assert "bob@example.com" not in ctx.text


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("zendesk") == "liveuser_zendesk.plugin:ZendeskPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "zendesk" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"zendesk": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    assert isinstance(tenant.plugins.get("zendesk"), ZendeskPlugin)
    assert tenant.owners[Channel.zendesk_ticket].name == "zendesk"
    assert tenant.owners[Channel.zendesk_messaging].name == "zendesk"


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "zendesk" not in tenant.plugins


def test_demo_factory_starts_the_fake_quickly() -> None:
    from liveuser_zendesk.demo import demo

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"k": "x" * 32})))
        assert sandbox.plugin == "zendesk"
        channels = {step.conversation.channel for step in sandbox.steps}
        assert channels == {Channel.zendesk_ticket, Channel.zendesk_messaging}
        assert sandbox.requests() == 0
    assert time.monotonic() - started < 2.0
