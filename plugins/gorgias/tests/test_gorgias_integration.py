"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import time

import httpx2
from conftest import Fake, SetupFactory

from liveuser import (
    Channel,
    Conversation,
    Refusal,
    Registry,
    Settings,
    TenantSettings,
    VerifiedUser,
)
from liveuser.demo import DemoContext
from liveuser.sandbox import serve
from liveuser.tokens import KeyRing
from liveuser_gorgias import GorgiasPlugin
from liveuser_gorgias.fake import create_fake_gorgias, fake_settings, seed


async def test_email_ticket_context_costs_exactly_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "ann@example.com" in ctx.text
    assert fake.requests - before == 1
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert again.verified
    assert fake.requests - before == 1  # the verification is cached


async def test_refused_ticket_costs_one_request_and_says_why(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.CHAT))
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "Gorgias Live Chat" in ctx.refusal
    assert "bob@example.com" not in ctx.text
    assert fake.requests - before == 1


async def test_chat_context_costs_no_request(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    conv = Conversation(
        channel=Channel.gorgias_chat,
        conversation_id="chat-1",
        payload={"customer": {"email": "ann@example.com"}},
    )
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert "ann@example.com" not in ctx.text
    assert fake.requests == before


async def test_the_vendors_own_bucket_is_honoured_within_the_deadline(
    make_setup: SetupFactory,
) -> None:
    app = create_fake_gorgias(capacity=1, window=1.0)
    with serve(app) as url:
        setup = make_setup(url=url)
        first = await setup.pipeline.verify(
            Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
        )
        second = await setup.pipeline.verify(
            Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_MIXED_CASE))
        )
        assert app.state.requests == 3  # the second met a 429 (Retry-after 1) and its retry
        slow = make_setup(url=url, deadline=0.5)
        app.state.level = 1000.0  # a full bucket: Retry-after far past the deadline
        third = await slow.pipeline.verify(
            Conversation(channel=Channel.gorgias_ticket, conversation_id=str(seed.EMAIL_VERIFIED))
        )
    assert isinstance(first, VerifiedUser) and isinstance(second, VerifiedUser)
    assert app.state.requests == 4  # refused at once, no retry
    assert isinstance(third, Refusal)
    assert "rate limiting" in third.reason


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("gorgias") == "liveuser_gorgias.plugin:GorgiasPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "gorgias" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"gorgias": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    assert isinstance(tenant.plugins.get("gorgias"), GorgiasPlugin)
    assert tenant.owners[Channel.gorgias_ticket].name == "gorgias"
    assert tenant.owners[Channel.gorgias_chat].name == "gorgias"


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "gorgias" not in tenant.plugins


def test_demo_factory_starts_the_fake_quickly() -> None:
    from liveuser_gorgias.demo import demo

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"k": "x" * 32})))
        assert sandbox.plugin == "gorgias"
        channels = {step.conversation.channel for step in sandbox.steps}
        assert channels == {Channel.gorgias_ticket, Channel.gorgias_chat}
        assert sandbox.requests() == 0
    assert time.monotonic() - started < 2.0


def test_demo_fake_keeps_the_vendor_rate_limit_unless_a_suite_lifts_it() -> None:
    # Suites that send many requests in a few seconds (the reliability suite) lift it.
    from liveuser_gorgias.demo import demo

    def statuses(rate_limits: bool) -> set[int]:
        with contextlib.ExitStack() as stack:
            keys = KeyRing({"k": "x" * 32})
            sandbox = demo(DemoContext(stack=stack, host_keys=keys, rate_limits=rate_limits))
            auth = (sandbox.settings["email"], sandbox.settings["api_key"])
            url = f"{sandbox.settings['base_url']}/api/customers/{seed.ANN}"
            with httpx2.Client(auth=auth) as client:
                return {client.get(url).status_code for _ in range(45)}

    assert 429 in statuses(rate_limits=True)  # 40 requests a 20 s window
    assert statuses(rate_limits=False) == {200}
