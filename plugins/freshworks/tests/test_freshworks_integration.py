"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import time

from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Registry, Settings, TenantSettings
from liveuser.demo import DemoContext
from liveuser.tokens import KeyRing
from liveuser_freshworks import FreshworksPlugin
from liveuser_freshworks.demo import user_jwt
from liveuser_freshworks.fake import fake_settings, seed


async def test_email_ticket_context_costs_exactly_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(seed.EMAIL_VERIFIED))
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "ann@example.com" in ctx.text
    assert fake.requests - before == 1
    assert fake.app.state.log[-1] == ("GET", f"/api/v2/tickets/{seed.EMAIL_VERIFIED}")
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert again.verified
    assert fake.requests - before == 1  # the verification is cached


async def test_phone_ticket_context_is_refused_with_its_reason(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(seed.PHONE))
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "phone call" in ctx.refusal
    assert "bob@example.com" not in ctx.text
    assert fake.requests - before == 1


async def test_authenticated_chat_context_costs_exactly_two_requests(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    token = user_jwt("cust-chloe", "chloe@example.com")
    conv = Conversation(
        channel=Channel.freshchat,
        conversation_id=seed.CONV_CHLOE,
        claims={"freshchat_jwt": token},
    )
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "chloe@example.com" in ctx.text
    assert fake.requests - before == 2
    assert fake.app.state.log[-2:] == [
        ("GET", f"/v2/conversations/{seed.CONV_CHLOE}"),
        ("GET", f"/v2/users/{seed.USER_CHLOE}"),
    ]


async def test_chat_without_token_is_refused_without_a_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshchat, conversation_id=seed.CONV_ANON)
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "anonymous or self-declared" in ctx.refusal
    assert "ann@example.com" not in ctx.text
    assert fake.requests == before


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("freshworks") == "liveuser_freshworks.plugin:FreshworksPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "freshworks" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"freshworks": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    assert isinstance(tenant.plugins.get("freshworks"), FreshworksPlugin)
    assert tenant.owners[Channel.freshdesk].name == "freshworks"
    assert tenant.owners[Channel.freshchat].name == "freshworks"


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "freshworks" not in tenant.plugins


def test_demo_factory_starts_the_fake_quickly() -> None:
    from liveuser_freshworks.demo import demo

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"k": "x" * 32})))
        assert sandbox.plugin == "freshworks"
        channels = {step.conversation.channel for step in sandbox.steps}
        assert channels == {Channel.freshdesk, Channel.freshchat}
        assert sandbox.requests() == 0
    assert time.monotonic() - started < 2.0
