"""``liveuser demo``: the embedded sandbox, walked through step by step.

Starts the fake User Data API on 127.0.0.1, configures the ``default`` tenant
against it with a fresh host key and a throwaway ledger, and runs the
conversations a support agent meets: verified, cached, refused, back-end down,
slow, oversized, cross-talk, and metered. Nothing needs an account or a
network beyond loopback.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

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


@dataclass
class Step:
    """One conversation of the walk-through."""

    title: str
    question: str
    email: str
    conversation_id: str
    claims: dict[str, str] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    channel: Channel = Channel.host
    tenant: str = "default"


def _steps(keys: KeyRing) -> list[Step]:
    def token(email: str, tenant: str = "default") -> dict[str, str]:
        return {"token": mint_token(keys, tenant=tenant, purpose=Purpose.identity, subject=email)}

    good = token(ANN_EMAIL)["token"]
    head, body, sig = good.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    return [
        Step("Verified user", "Where is my order?", ANN_EMAIL, "chat-1", token(ANN_EMAIL)),
        Step(
            "Same conversation, next message (served from cache)",
            "When can I expect delivery?",
            ANN_EMAIL,
            "chat-1",
            token(ANN_EMAIL),
        ),
        Step(
            "Verified user, stock question",
            "Is the grinder back in stock?",
            BOB_EMAIL,
            "chat-2",
            token(BOB_EMAIL),
        ),
        Step(
            "Refused: tampered token",
            "Where is my order?",
            ANN_EMAIL,
            "chat-3",
            {"token": tampered},
        ),
        Step("Refused: no token at all", "Where is my order?", ANN_EMAIL, "chat-4"),
        Step(
            "Refused: someone else is in the chat",
            "Where is my order?",
            ANN_EMAIL,
            "chat-5",
            token(ANN_EMAIL),
            payload={"participants": [ANN_EMAIL, "friend@example.org"]},
        ),
        Step(
            "Refused: unknown tenant",
            "Where is my order?",
            ANN_EMAIL,
            "chat-6",
            token(ANN_EMAIL),
            tenant="nobody",
        ),
        Step(
            "Refused: a channel with no connector installed",
            "Where is my order?",
            ANN_EMAIL,
            "ticket-7",
            channel=Channel.gorgias_chat,
        ),
        Step(
            "Back-end down (HTTP 500)",
            "Where is my order?",
            DOWN_EMAIL,
            "chat-8",
            token(DOWN_EMAIL),
        ),
        Step(
            f"Back-end drips its answer past the {DEMO_DEADLINE:g} s deadline",
            "Where is my order?",
            DRIP_EMAIL,
            "chat-9",
            token(DRIP_EMAIL),
        ),
        Step(
            "Back-end answer over the 1 MB cap",
            "Where is my order?",
            HUGE_EMAIL,
            "chat-10",
            token(HUGE_EMAIL),
        ),
        Step(
            "Back-end answers about someone else (discarded)",
            "Where is my order?",
            WRONG_EMAIL,
            "chat-11",
            token(WRONG_EMAIL),
        ),
        Step(
            "Long order history: over 1,500 characters, metered",
            "Where are my orders?",
            LONG_EMAIL,
            "chat-12",
            token(LONG_EMAIL),
        ),
    ]


def _summary(ctx: Context) -> str:
    if not ctx.verified:
        return f"[red]refused[/red]: {ctx.refusal}"
    parts = [f"[green]verified[/green]; sources: {', '.join(ctx.sources) or 'none'}"]
    parts += [f"[yellow]missing {s}[/yellow]: {r}" for s, r in ctx.missing.items()]
    if ctx.trimmed:
        parts.append(f"trimmed {len(ctx.trimmed)} item(s)")
    return "\n".join(parts)


async def run_demo(console: Console) -> Decimal:
    """Run the walk-through, printing each step; return the total charged."""
    app = create_user_data_api()
    keys = KeyRing({"demo-1": secrets.token_urlsafe(32)})
    with serve(app) as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            ledger=Path(tmp) / "ledger.sqlite3",
            tenants={
                "default": TenantSettings(
                    host_keys={"demo-1": keys.secret("demo-1").decode()},  # type: ignore[union-attr]
                    deadline_seconds=DEMO_DEADLINE,
                    plugins={
                        "user_data_api": {"url": f"{url}/user-data", "api_key": SANDBOX_API_KEY}
                    },
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
        total = Decimal("0")
        try:
            for n, step in enumerate(_steps(keys), 1):
                before = app.state.requests
                conversation = Conversation(
                    tenant=step.tenant,
                    channel=step.channel,
                    conversation_id=step.conversation_id,
                    claims=step.claims,
                    payload=step.payload,
                )
                ctx = await pipeline.context_for(conversation, message_id=f"m{n}")
                total += ctx.amount
                fetched = app.state.requests - before
                console.rule(f"{n}. {step.title}")
                console.print(
                    f"[bold]{step.email}[/bold] on {step.channel.value}: “{step.question}”"
                )
                console.print(_summary(ctx))
                console.print(
                    f"back-end requests: {fetched}; context: {ctx.chars} characters, "
                    + (f"[magenta]charged ${ctx.amount}[/magenta]" if ctx.charged else "free")
                )
                shown = ctx.text if len(ctx.text) <= 1200 else ctx.text[:1200] + "\n…"
                console.print(
                    Panel(
                        Text(shown, overflow="fold"), title="what the model receives", expand=False
                    ),
                    soft_wrap=False,
                )
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
