"""Through liveuser.Pipeline over loopback, and as an installed distribution."""

from __future__ import annotations

import contextlib
import importlib.metadata
import time
from pathlib import Path

from conftest import Fake, SetupFactory, host_conversation

from liveuser import (
    AWAITING,
    NOT_FOUND,
    ActionPolicy,
    Channel,
    Ledger,
    PendingConfirmation,
    Pipeline,
    Registry,
    Settings,
    TenantSettings,
    confirm,
)
from liveuser.demo import DemoContext
from liveuser.host import HostConnector
from liveuser.tokens import KeyRing
from liveuser_shopify import ShopifyPlugin
from liveuser_shopify.fake import fake_settings, seed


async def test_context_costs_exactly_one_graphql_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = host_conversation(seed.ALICE)
    before = fake.requests
    log_before = len(fake.app.state.log)
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert ctx.verified, ctx.refusal
    assert "#1042" in ctx.text
    assert fake.requests - before == 1
    assert fake.app.state.log[log_before:] == ["LiveUserCustomerOrders"]
    again = await setup.pipeline.context_for(conv, message_id="m2")
    assert "#1042" in again.text
    assert fake.requests - before == 1  # the data is cached for the tenant's TTL


async def test_refused_conversation_never_reaches_shopify(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    conv = host_conversation(seed.ALICE).model_copy(update={"claims": {}})
    before = fake.requests
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert fake.requests == before


def test_installed_distribution_is_discovered(fake: Fake) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="liveuser")}
    assert names.get("shopify") == "liveuser_shopify.plugin:ShopifyPlugin"
    demos = {ep.name for ep in importlib.metadata.entry_points(group="liveuser.demo")}
    assert "shopify" in demos
    settings = Settings(
        tenants={"default": TenantSettings(plugins={"shopify": fake_settings(fake.url)})}
    )
    tenant = Registry(settings).tenant()
    plugin = tenant.plugins.get("shopify")
    assert isinstance(plugin, ShopifyPlugin)
    assert plugin.channels == frozenset()  # a back-end owns no channel


def test_unconfigured_plugin_is_not_loaded() -> None:
    tenant = Registry(Settings(tenants={"default": TenantSettings()})).tenant()
    assert "shopify" not in tenant.plugins


def test_demo_factory_starts_the_fake_quickly() -> None:
    from liveuser_shopify.demo import demo

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"k": "x" * 32})))
        assert sandbox.plugin == "shopify"
        assert {step.conversation.channel for step in sandbox.steps} == {Channel.host}
        assert sandbox.requests() == 0
    assert time.monotonic() - started < 2.0


async def test_demo_steps_answer_with_one_request_per_customer(tmp_path: Path) -> None:
    from liveuser_shopify.demo import demo

    secret = "demo-secret-" + "x" * 32
    with contextlib.ExitStack() as stack:
        sandbox = demo(DemoContext(stack=stack, host_keys=KeyRing({"d": secret})))
        settings = Settings(
            ledger=tmp_path / "ledger.sqlite3",
            tenants={
                "default": TenantSettings(
                    host_keys={"d": secret},
                    plugins={"shopify": sandbox.settings},
                    actions=ActionPolicy(enabled=sandbox.actions),
                )
            },
        )
        registry = Registry(settings, discover=False, builtins=[HostConnector, ShopifyPlugin])
        ledger = Ledger(settings.ledger, b"k" * 32)
        pipeline = Pipeline(registry, ledger)
        counts: list[int] = []
        texts: list[str | None] = []
        pending: PendingConfirmation | None = None
        try:
            for n, step in enumerate(sandbox.steps):
                before = sandbox.requests()
                if step.confirm:
                    assert pending is not None
                    outcome = await confirm(
                        step.conversation, pending.confirmation_id, pipeline=pipeline
                    )
                    texts.append(f"{outcome.status}: {outcome.message}")
                elif step.tool is not None:
                    name, arguments = step.tool
                    result = await pipeline.call_tool_result(
                        step.conversation, f"m{n}", f"t{n}", name, arguments
                    )
                    pending = result.pending or pending
                    texts.append(result.text)
                else:
                    ctx = await pipeline.context_for(step.conversation, message_id=f"m{n}")
                    texts.append(ctx.text if ctx.verified else None)
                counts.append(sandbox.requests() - before)
        finally:
            await registry.aclose()
            await ledger.aclose()
    assert counts == [1, 0, 0, 1, 1, 1, 1, 1, 0, 3, 1, 0]
    assert texts[0] is not None and "estimated delivery" in texts[0] and "DHL" in texts[0]
    assert texts[5] is not None and "#1042" in texts[5]  # her own order, by number
    assert texts[6] == NOT_FOUND  # Bruno's order, asked from Alice's conversation
    assert texts[7] == AWAITING  # the address change, proposed
    assert texts[8] is not None and texts[8].startswith("Invalid arguments")  # self-confirm
    assert texts[9] == (
        "executed: Order #1045 now ships to 5 Avenida da Liberdade, 1250-096 Lisboa, PT."
    )
    assert texts[10] is not None and "ship to: Lisboa, PT" in texts[10]
    assert texts[-1] is None
