"""The hook contract: documented, awaited in one place, one owner per channel."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel

from liveuser import (
    NOT_FOUND,
    Budget,
    Channel,
    Conversation,
    Mechanism,
    Plugin,
    PluginError,
    Tool,
    ToolCall,
    UserData,
    VerificationRecord,
    VerifiedUser,
    hookimpl,
    hookspecs,
)
from liveuser.registry import discover_plugins

from .conftest import PipelineFactory, host_conversation

HOOKS = ["verify_user", "fetch_user_data", "render_context", "register_tools"]


def test_every_hook_is_documented_and_tested() -> None:
    specs = [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "liveuser_spec")
    ]
    assert sorted(specs) == sorted(HOOKS)
    here = Path(__file__).read_text()
    for name in specs:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example::" in doc and "Return" in doc and len(doc) > 300, name
        assert f"def test_hook_{name}" in here, f"test_hook_{name} is missing"


def _record() -> VerificationRecord:
    return VerificationRecord(vendor="t", mechanism=Mechanism.signed_jwt, evidence="t")


class SyncConnector(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "sync_connector"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.intercom})

    @hookimpl
    def verify_user(self, conversation: Conversation) -> VerifiedUser:
        return VerifiedUser(
            tenant=conversation.tenant,
            email="sync@example.com",
            channel=conversation.channel,
            record=_record(),
        )


class AsyncConnector(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "async_connector"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.zendesk_ticket})

    @hookimpl
    async def verify_user(self, conversation: Conversation) -> VerifiedUser:
        return VerifiedUser(
            tenant=conversation.tenant,
            email="async@example.com",
            channel=conversation.channel,
            record=_record(),
        )


@pytest.mark.parametrize(
    "order", [(SyncConnector, AsyncConnector), (AsyncConnector, SyncConnector)]
)
async def test_hook_verify_user(make_pipeline: PipelineFactory, order: tuple[type, type]) -> None:
    pipeline = make_pipeline()
    for cls in order:
        pipeline.registry.register(cls())
    sync = await pipeline.verify(Conversation(channel=Channel.intercom, conversation_id="1"))
    asyn = await pipeline.verify(Conversation(channel=Channel.zendesk_ticket, conversation_id="1"))
    assert isinstance(sync, VerifiedUser) and sync.email == "sync@example.com"
    assert isinstance(asyn, VerifiedUser) and asyn.email == "async@example.com"


def test_two_connectors_claiming_one_channel_is_a_load_error(
    make_pipeline: PipelineFactory,
) -> None:
    class Other(SyncConnector):
        name: ClassVar[str] = "other"

    registry = make_pipeline().registry
    registry.register(SyncConnector())
    with pytest.raises(PluginError, match="both claim channel intercom"):
        registry.register(Other())


class SyncBackend(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "sync_backend"

    @hookimpl
    def fetch_user_data(self, user: VerifiedUser) -> UserData:
        return UserData(source=self.name, fields={"plan": "gold"})


class AsyncBackend(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "async_backend"

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> list[UserData]:
        return [UserData(source=self.name, kind="orders", items=[{"number": "#7"}])]


class WrongSource(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "wrong_source"

    @hookimpl
    def fetch_user_data(self, user: VerifiedUser) -> UserData:
        return UserData(source="sync_backend", fields={"plan": "forged"})


class NotData(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "not_data"

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> dict[str, str]:
        return {"plan": "dict"}


async def test_hook_fetch_user_data(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    for cls in (SyncBackend, AsyncBackend, WrongSource, NotData):
        pipeline.registry.register(cls())
    ctx = await pipeline.context_for(host_conversation("ann@example.com"), "m1")
    assert ctx.sources == ("async_backend", "sync_backend")
    assert ctx.missing == {
        "wrong_source": "answered data under another source's name",
        "not_data": "answered something that is not user data",
    }
    assert "plan: gold" in ctx.text and "number: #7" in ctx.text and "forged" not in ctx.text


class SyncRenderer(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "sync_renderer"

    @hookimpl
    def render_context(self, user: VerifiedUser, data: Sequence[UserData], budget: Budget) -> str:
        return "SYNC"


class AsyncRenderer(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "async_renderer"

    @hookimpl
    async def render_context(
        self, user: VerifiedUser, data: Sequence[UserData], budget: Budget
    ) -> str:
        return "ASYNC"


class PassRenderer(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "pass_renderer"

    @hookimpl
    async def render_context(
        self, user: VerifiedUser, data: Sequence[UserData], budget: Budget
    ) -> None:
        return None


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ((SyncRenderer, AsyncRenderer), "ASYNC"),
        ((AsyncRenderer, SyncRenderer), "SYNC"),
        ((SyncRenderer, PassRenderer), "SYNC"),
        ((PassRenderer,), "default"),
    ],
)
async def test_hook_render_context(
    make_pipeline: PipelineFactory, order: tuple[type, ...], expected: str
) -> None:
    pipeline = make_pipeline()
    for cls in order:
        pipeline.registry.register(cls())
    ctx = await pipeline.context_for(host_conversation("ann@example.com"), "m1")
    body = ctx.text.splitlines()[2]
    if expected == "default":
        assert body == "No data was found for this customer."
    else:
        assert body == expected


class OrderArgs(BaseModel):
    number: str


ORDERS = {"#1": "ann@example.com", "#2": "bob@example.com"}


class Orders(Plugin):  # type: ignore[type-arg]
    name: ClassVar[str] = "orders"

    @hookimpl
    async def register_tools(self) -> list[Tool]:
        async def lookup(call: ToolCall) -> UserData | None:
            args = call.arguments
            assert isinstance(args, OrderArgs)
            if ORDERS.get(args.number) != call.user.email:
                return None
            return UserData(
                source=self.name,
                fields={"number": args.number, "owner_phone": "555"},
                private=frozenset({"owner_phone"}),
            )

        return [
            Tool(
                name="order",
                description="Look an order up by number",
                parameters=OrderArgs,
                run=lookup,
            )
        ]


async def test_hook_register_tools(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Orders())
    ann = host_conversation("ann@example.com")
    mine = await pipeline.call_tool(ann, "m1", "c1", "order", {"number": "#1"})
    assert "number: #1" in mine and "555" not in mine
    not_mine = await pipeline.call_tool(ann, "m1", "c2", "order", {"number": "#2"})
    missing = await pipeline.call_tool(ann, "m1", "c3", "order", {"number": "#9"})
    assert not_mine == missing == NOT_FOUND
    bad = await pipeline.call_tool(ann, "m1", "c4", "order", {"nope": 1})
    assert bad.startswith("Invalid arguments for order: number")
    unknown = await pipeline.call_tool(ann, "m1", "c5", "refund", {})
    assert unknown == "Unknown tool 'refund'."


@pytest.mark.parametrize("field", ["email", "customer_email", "identifier", "user_id", "customer"])
def test_tool_parameters_cannot_carry_an_identity(field: str) -> None:
    model = type("Args", (BaseModel,), {"__annotations__": {field: str}})

    async def run(call: ToolCall) -> str:
        return ""

    with pytest.raises(PluginError, match="looks like an identity"):
        Tool(name="t", description="d", parameters=model, run=run)


def test_broken_entry_point_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib.metadata as md

    broken = md.EntryPoint(name="broken", value="no_such_module:Plugin", group="liveuser")
    not_plugin = md.EntryPoint(name="notplugin", value="json:dumps", group="liveuser")
    monkeypatch.setattr(md, "entry_points", lambda group: [broken, not_plugin])
    with caplog.at_level(logging.WARNING, logger="liveuser"):
        assert discover_plugins() == []
    text = caplog.text
    assert "'broken' failed to load" in text and "'notplugin' failed to load" in text


def test_installed_example_plugin_is_discovered() -> None:
    names = {cls.name: cls for cls in discover_plugins()}
    assert "example_crm" in names, "pip install -e examples/liveuser-example-crm"
    assert names["example_crm"]._liveuser_dist_version == "0.1.0"  # type: ignore[attr-defined]
