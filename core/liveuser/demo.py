"""``liveuser demo``: the embedded sandbox, walked through step by step.

Starts the fake User Data API on 127.0.0.1, configures the ``default`` tenant
against it with a fresh host key and a throwaway ledger, and runs the
conversations a support agent meets: verified, cached, refused, back-end down,
slow, oversized, cross-talk, and metered. Nothing needs an account or a
network beyond loopback.

Connector plugins join in through the entry-point group ``liveuser.demo``: a
:data:`DemoFactory` starts the plugin's fake (on the given exit stack), and
returns its settings and its own verified and refused conversations, which run
after the core's.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from .actions.model import ConfirmResult, PendingConfirmation
from .actions.policy import ActionPolicy
from .actions.protocol import confirm
from .metering import Ledger
from .models import Channel, Context, Conversation
from .pipeline import Pipeline
from .registry import Registry
from .sandbox import (
    ANN_EMAIL,
    BOB_EMAIL,
    DOWN_EMAIL,
    DRIP_EMAIL,
    HUGE_EMAIL,
    LONG_EMAIL,
    SANDBOX_API_KEY,
    WRONG_EMAIL,
    create_user_data_api,
    serve,
)
from .settings import Settings, TenantSettings
from .tokens import KeyRing, Purpose, mint_token

DEMO_DEADLINE = 2.0
log = logging.getLogger("liveuser")


DEMO_ENTRY_POINT_GROUP = "liveuser.demo"
"""Entry points naming a :data:`DemoFactory`: how a connector joins ``liveuser demo``."""


@dataclass
class DemoStep:
    """One conversation of the walk-through."""

    title: str
    question: str
    who: str
    conversation: Conversation
    tool: tuple[str, dict[str, Any]] | None = None
    """A tool call (name, arguments) the model makes instead of reading the context."""
    confirm: bool = False
    """The customer presses Confirm: the host confirms the conversation's last proposal."""


@dataclass
class DemoSandbox:
    """A plugin's part of the demo: its running fake, its settings, its conversations."""

    plugin: str
    """The plugin's name: ``settings`` go under ``[tenants.default.plugins.<plugin>]``."""
    settings: dict[str, Any]
    steps: list[DemoStep]
    requests: Callable[[], int] = lambda: 0
    """How many requests the plugin's fake has received so far."""
    actions: list[str] = field(default_factory=list)
    """Actions the demo tenant turns on for this plugin's steps."""


UNLIMITED = 10**9
"""A rate limit no suite reaches: what a fake gets for ``DemoContext.rate_limits=False``."""


@dataclass
class DemoContext:
    """What a :data:`DemoFactory` gets: somewhere to start its fake, and the host keys."""

    stack: contextlib.ExitStack
    """Enter the fake's server here (``stack.enter_context(serve(app))``)."""
    host_keys: KeyRing
    """The default tenant's host keys, to mint attestations for live-chat steps."""
    rate_limits: bool = True
    """False: start the fake with its vendor's rate limit lifted, for suites that send
    many requests in a few seconds (the plugin's own tests keep the limit)."""


DemoFactory = Callable[[DemoContext], DemoSandbox]
"""Start a plugin's fake and describe its demo conversations."""


def _core_steps(keys: KeyRing) -> list[DemoStep]:
    def host(
        title: str,
        question: str,
        email: str,
        conversation_id: str,
        *,
        token: str | None = None,
        payload: dict[str, Any] | None = None,
        tenant: str = "default",
    ) -> DemoStep:
        claims = {} if token == "" else {"token": token or _token(keys, email)}
        return DemoStep(
            title,
            question,
            email,
            Conversation(
                tenant=tenant,
                channel=Channel.host,
                conversation_id=conversation_id,
                claims=claims,
                payload=payload or {},
            ),
        )

    good = _token(keys, ANN_EMAIL)
    head, body, sig = good.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    return [
        host("Verified user", "Where is my order?", ANN_EMAIL, "chat-1"),
        host(
            "Same conversation, next message (served from cache)",
            "When can I expect delivery?",
            ANN_EMAIL,
            "chat-1",
            token=good,
        ),
        host("Verified user, stock question", "Is the grinder back in stock?", BOB_EMAIL, "chat-2"),
        host("Refused: tampered token", "Where is my order?", ANN_EMAIL, "chat-3", token=tampered),
        host("Refused: no token at all", "Where is my order?", ANN_EMAIL, "chat-4", token=""),
        host(
            "Refused: someone else is in the chat",
            "Where is my order?",
            ANN_EMAIL,
            "chat-5",
            payload={"participants": [ANN_EMAIL, "friend@example.org"]},
        ),
        host("Refused: unknown tenant", "Where is my order?", ANN_EMAIL, "chat-6", tenant="nobody"),
        host("Back-end down (HTTP 500)", "Where is my order?", DOWN_EMAIL, "chat-8"),
        host(
            f"Back-end drips its answer past the {DEMO_DEADLINE:g} s deadline",
            "Where is my order?",
            DRIP_EMAIL,
            "chat-9",
        ),
        host("Back-end answer over the 1 MB cap", "Where is my order?", HUGE_EMAIL, "chat-10"),
        host(
            "Back-end answers about someone else (discarded)",
            "Where is my order?",
            WRONG_EMAIL,
            "chat-11",
        ),
        host(
            "Long order history: over 1,500 characters, metered",
            "Where are my orders?",
            LONG_EMAIL,
            "chat-12",
        ),
    ]


def _token(keys: KeyRing, email: str) -> str:
    return mint_token(keys, tenant="default", purpose=Purpose.identity, subject=email)


def _plugin_sandboxes(context: DemoContext) -> list[DemoSandbox]:
    """Every installed plugin's demo part; one that fails to start is logged and skipped."""
    found = []
    for ep in importlib.metadata.entry_points(group=DEMO_ENTRY_POINT_GROUP):
        try:
            found.append(ep.load()(context))
        except Exception as exc:
            log.warning("demo of %r failed to start and is skipped: %s", ep.name, exc)
    return found


def _summary(ctx: Context) -> str:
    if not ctx.verified:
        return f"[red]refused[/red]: {escape(ctx.refusal or '')}"
    parts = [f"[green]verified[/green]; sources: {', '.join(ctx.sources) or 'none'}"]
    parts += [f"[yellow]missing {s}[/yellow]: {escape(r)}" for s, r in ctx.missing.items()]
    if ctx.trimmed:
        parts.append(f"trimmed {len(ctx.trimmed)} item(s)")
    return "\n".join(parts)


async def run_demo(console: Console) -> Decimal:
    """Run the walk-through, printing each step; return the total charged."""
    app = create_user_data_api()
    keys = KeyRing({"demo-1": secrets.token_urlsafe(32)})
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(serve(app))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        sandboxes = _plugin_sandboxes(DemoContext(stack=stack, host_keys=keys))
        plugins: dict[str, dict[str, Any]] = {
            "user_data_api": {"url": f"{url}/user-data", "api_key": SANDBOX_API_KEY}
        }
        for sandbox in sandboxes:
            plugins[sandbox.plugin] = sandbox.settings
        settings = Settings(
            ledger=Path(tmp) / "ledger.sqlite3",
            tenants={
                "default": TenantSettings(
                    host_keys={"demo-1": keys.secret("demo-1").decode()},  # type: ignore[union-attr]
                    deadline_seconds=DEMO_DEADLINE,
                    plugins=plugins,
                    actions=ActionPolicy(
                        enabled=[a for s in sandboxes for a in s.actions],
                        refund_limit=Decimal("100.00"),
                    ),
                )
            },
        )
        registry = Registry(settings)
        ledger = Ledger(settings.ledger, secrets.token_bytes(32))
        pipeline = Pipeline(registry, ledger)
        console.print(
            Panel.fit(
                f"liveuser sandbox: User Data API at {url}/user-data\n"
                f"plugins: {', '.join(registry.tenant().plugins)}",
                title="liveuser demo",
            )
        )
        parts: list[tuple[str, list[DemoStep], Callable[[], int]]] = [
            ("back-end", _core_steps(keys), lambda: int(app.state.requests))
        ]
        parts += [(f"{s.plugin} API", s.steps, s.requests) for s in sandboxes]
        total = Decimal("0")
        n = 0
        proposed: dict[str, PendingConfirmation] = {}
        try:
            for label, steps, requests in parts:
                for step in steps:
                    n += 1
                    before = requests()
                    cid = step.conversation.conversation_id
                    if step.confirm:
                        pending = proposed.pop(cid)
                        outcome = await confirm(
                            step.conversation, pending.confirmation_id, pipeline=pipeline
                        )
                        _show_confirmed(console, n, step, outcome, label, requests() - before)
                        continue
                    if step.tool is not None:
                        name, arguments = step.tool
                        called = await pipeline.call_tool_result(
                            step.conversation, f"m{n}", f"call-{n}", name, arguments
                        )
                        if called.pending is not None:
                            proposed[cid] = called.pending
                        _show_tool(console, n, step, called.text, label, requests() - before)
                        if called.pending is not None:
                            console.print(
                                Panel(
                                    Text(called.pending.summary, overflow="fold"),
                                    title="what the host shows the customer, beside [Confirm]",
                                    expand=False,
                                ),
                                soft_wrap=False,
                            )
                        continue
                    ctx = await pipeline.context_for(step.conversation, message_id=f"m{n}")
                    total += ctx.amount
                    _show(console, n, step, ctx, label, requests() - before)
            usage = await ledger.usage()
            console.rule("Usage")
            for row in usage:
                console.print(
                    f"{row.tenant} {row.day}: {row.deliveries} deliveries, "
                    f"{row.charged_messages} charged, ${row.amount}"
                )
        finally:
            await registry.aclose()
            await ledger.aclose()
    return total


def _show(console: Console, n: int, step: DemoStep, ctx: Context, label: str, fetched: int) -> None:
    console.rule(f"{n}. {escape(step.title)}")
    console.print(
        f"[bold]{escape(step.who)}[/bold] on {step.conversation.channel.value}: "
        f"“{escape(step.question)}”"
    )
    console.print(_summary(ctx))
    console.print(
        f"{label} requests: {fetched}; context: {ctx.chars} characters, "
        + (f"[magenta]charged ${ctx.amount}[/magenta]" if ctx.charged else "free")
    )
    shown = ctx.text if len(ctx.text) <= 1200 else ctx.text[:1200] + "\n…"
    console.print(
        Panel(Text(shown, overflow="fold"), title="what the model receives", expand=False),
        soft_wrap=False,
    )


def _show_tool(
    console: Console, n: int, step: DemoStep, result: str, label: str, fetched: int
) -> None:
    assert step.tool is not None
    name, arguments = step.tool
    console.rule(f"{n}. {escape(step.title)}")
    console.print(
        f"[bold]{escape(step.who)}[/bold] on {step.conversation.channel.value}: "
        f"“{escape(step.question)}” → the model calls {escape(name)}({escape(str(arguments))})"
    )
    console.print(f"{label} requests: {fetched}; tool result: {len(result)} characters")
    console.print(
        Panel(Text(result, overflow="fold"), title="what the model receives", expand=False),
        soft_wrap=False,
    )


def _show_confirmed(
    console: Console, n: int, step: DemoStep, outcome: ConfirmResult, label: str, fetched: int
) -> None:
    console.rule(f"{n}. {escape(step.title)}")
    console.print(
        f"[bold]{escape(step.who)}[/bold] presses Confirm; the host calls liveuser.confirm(...)"
    )
    colour = "green" if outcome.executed else "red"
    console.print(
        f"[{colour}]{outcome.status}[/{colour}]: {escape(outcome.message)}\n"
        f"{label} requests: {fetched} (checked again, changed once, read back)"
    )
