"""Cross-talk under load: thousands of interleaved conversations on every channel at once.

Two tenants in one registry, through one :class:`~liveuser.Pipeline`, with
every connector against its fake (each behind a proxy adding random latency
and a share of 503s) and two back-ends: the User Data API (a server that
answers each person with a marker naming them, after a random delay, failing
now and then) in both, and Shopify's fake (each customer's own order numbers)
in the default tenant, which caches verifications and data for 30 s (the
other tenant for one second, so its caches expire and refill all along).
The conversations are every demo conversation of every connector, verified
or refused, and host conversations for many people, with context turns and
tool calls (``get_user_data``, ``order_status`` for any customer's order)
interleaved at random. Each context and tool result is checked to hold the
data of its own verified person at most, and a refusal nobody's. Every turn is
in the ledger exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from liveuser import (
    Channel,
    Conversation,
    Ledger,
    Pipeline,
    Registry,
    Settings,
    TenantSettings,
)
from liveuser.adapters import GET_USER_DATA
from liveuser.backends.user_data_api import UserDataApi
from liveuser.host import HostConnector
from liveuser.sandbox import SANDBOX_API_KEY, serve
from liveuser.tokens import KeyRing, Purpose, mint_token

from .fault_server import ProxyState, create_fault_proxy, rebase
from .tally import TALLY
from .vendors import HOST_KEY_ID, HOST_KEYS, Vendor, start_vendors, tenant_settings

pytestmark = pytest.mark.reliability

TURNS = 2000
CONCURRENCY = 48
SEED = 20261125
ACME_SECRET = "reliability-acme-load-secret-8Jw2Nx5Qr7Tb1Vm4"
ACME_KEYS = KeyRing({HOST_KEY_ID: ACME_SECRET})
HOST_PEOPLE = [f"load{n}@people.example" for n in range(40)]
SHOPIFY_ORDERS = {  # each customer's order numbers in the Shopify fake's seed
    "alice@example.com": ("#1042", "#1038", "#1031"),
    "bruno@example.com": ("#1045", "#1040", "#1036"),
}


def marker(email: str) -> str:
    return f"UDA-MARK[{email}]"


def create_marker_api(rng: random.Random) -> Starlette:
    """A User Data API answering ``UDA-MARK[<identifier>]``; random delays, some 503s."""

    async def handle(request: Request) -> Response:
        identifier = json.loads(await request.body())["identifier"]
        await asyncio.sleep(rng.random() * 0.01)
        if rng.random() < 0.05:
            return JSONResponse({"error": "busy"}, 503)
        return JSONResponse({"identifier": identifier, "user_info": marker(identifier)})

    return Starlette(routes=[Route("/user-data", handle, methods=["POST"])])


@dataclass(frozen=True)
class Case:
    """One conversation of the pool and whose data it may hold (None: nobody's)."""

    conversation: Conversation
    owner: str | None
    tool: tuple[str, dict[str, Any]] | None = None


def host_case(email: str, tenant: str, cid: str, tool: tuple[str, dict[str, Any]] | None) -> Case:
    keys = ACME_KEYS if tenant == "acme" else HOST_KEYS
    token = mint_token(keys, tenant=tenant, purpose=Purpose.identity, subject=email, ttl=3600)
    conversation = Conversation(
        tenant=tenant, channel=Channel.host, conversation_id=cid, claims={"token": token}
    )
    return Case(conversation, email, tool)


def build_pool(vendors: dict[str, Vendor], rng: random.Random) -> list[Case]:
    pool: list[Case] = []
    for vendor in vendors.values():
        for step in vendor.sandbox.steps:
            if step.conversation.channel is Channel.host:
                continue  # host people are made below, for both tenants
            refused = step.title.startswith("Refused")
            pool.append(Case(step.conversation, None if refused else step.who))
            # The same vendor conversation in the other tenant; an attestation is the
            # default tenant's, so there it proves nothing.
            acme = step.conversation.model_copy(update={"tenant": "acme"})
            attested = "attestation" in step.conversation.claims
            pool.append(Case(acme, None if refused or attested else step.who))
    orders = [number for numbers in SHOPIFY_ORDERS.values() for number in numbers]
    people = [*HOST_PEOPLE, "alice@example.com", "bruno@example.com", "chen@example.com"]
    for email in people:
        for tenant in ("default", "acme"):
            for n in range(2):  # two conversations each, and ids shared across tenants
                cid = f"load-{email.split('@')[0]}-{n}"
                pool.append(host_case(email, tenant, cid, None))
                pool.append(host_case(email, tenant, cid, (GET_USER_DATA, {})))
                if email in SHOPIFY_ORDERS or email in people[:4]:  # one query per call
                    order = {"order_number": rng.choice(orders)}
                    pool.append(host_case(email, tenant, cid, ("order_status", order)))
    # No token at all, or one of another tenant: refused, on the same conversation ids.
    for email in people[:10]:
        stolen = host_case(email, "default", f"load-{email.split('@')[0]}-0", None)
        pool.append(Case(stolen.conversation.model_copy(update={"tenant": "acme"}), None))
        pool.append(Case(stolen.conversation.model_copy(update={"claims": {}}), None))
    return pool


@pytest.fixture(scope="module")
def vendors() -> Iterator[dict[str, Vendor]]:
    with contextlib.ExitStack() as stack:
        yield start_vendors(stack)


@pytest.fixture(scope="module")
def chaos(vendors: dict[str, Vendor]) -> Iterator[dict[str, tuple[str, ProxyState]]]:
    """A proxy with random latency and 503s in front of every vendor's fake."""
    with contextlib.ExitStack() as stack:
        found: dict[str, tuple[str, ProxyState]] = {}
        for name, vendor in vendors.items():
            app = create_fault_proxy(vendor.url, name)
            state: ProxyState = app.state.proxy
            state.rng = random.Random(f"{SEED}-{name}")
            state.set("chaos")
            found[name] = (stack.enter_context(serve(app)), state)
        yield found


def leaks(text: str, owner: str | None, everyone: set[str], tool: bool) -> list[str]:
    """Anything of anybody but ``owner`` in ``text``."""
    found = [e for e in everyone if e != owner and (e in text or marker(e) in text)]
    if not tool:  # a tool call may name any order number; a context only its owner's
        found += [
            number
            for email, numbers in SHOPIFY_ORDERS.items()
            if email != owner
            for number in numbers
            if number in text
        ]
    return found


async def test_thousands_of_interleaved_conversations_never_cross_talk(
    tmp_path: Path,
    vendors: dict[str, Vendor],
    chaos: dict[str, tuple[str, ProxyState]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(SEED)
    with serve(create_marker_api(random.Random(SEED + 1))) as api:
        plugins: dict[str, dict[str, Any]] = {
            name: rebase(vendor.settings, vendor.url, chaos[name][0])
            for name, vendor in vendors.items()
        }
        plugins["user_data_api"] = {"url": f"{api}/user-data", "api_key": SANDBOX_API_KEY}
        settings = Settings(
            ledger=tmp_path / "ledger.sqlite3",
            tenants={
                "default": TenantSettings(
                    **tenant_settings(plugins, deadline_seconds=3.0, cache_ttl_seconds=30)
                ),
                "acme": TenantSettings(
                    host_keys={HOST_KEY_ID: ACME_SECRET},
                    plugins={k: v for k, v in plugins.items() if k != "shopify"},
                    deadline_seconds=3.0,
                    cache_ttl_seconds=1,
                ),
            },
        )
        builtins = [HostConnector, UserDataApi, *(v.cls for v in vendors.values())]
        registry = Registry(settings, discover=False, builtins=builtins)
        ledger = Ledger(settings.ledger, b"crosstalk-ledger-key-0123456789ab")
        pipeline = Pipeline(registry, ledger)
        pool = build_pool(vendors, rng)
        turns = [rng.choice(pool) for _ in range(TURNS)]
        everyone = {case.owner for case in pool if case.owner} | {"ann@example.com"}
        gate = asyncio.Semaphore(CONCURRENCY)
        delays = [rng.random() * 0.01 for _ in turns]

        async def turn(n: int, case: Case) -> tuple[str, bool, str | None]:
            async with gate:
                await asyncio.sleep(delays[n])
                if case.tool is not None:
                    name, arguments = case.tool
                    text = await pipeline.call_tool(
                        case.conversation, f"m{n}", f"call{n}", name, arguments
                    )
                    return text, True, None
                context = await pipeline.context_for(case.conversation, f"m{n}")
                assert context.key == case.conversation.key
                return context.text, False, context.refusal

        try:
            results = await asyncio.gather(*(turn(n, case) for n, case in enumerate(turns)))
        finally:
            await registry.aclose()
            await ledger.aclose()

    leaked, verified, refused = [], 0, 0
    for case, (text, tool, refusal) in zip(turns, results, strict=True):
        TALLY.crosstalk_checks += 1
        owner = case.owner if refusal is None else None
        if case.owner is None and not tool:
            assert refusal is not None, f"verified a conversation nobody owns: {text[:200]}"
        if refusal is not None:
            refused += 1
        else:
            verified += 1
        found = leaks(text, owner, everyone, tool)
        if found:
            leaked.append((case.conversation.key, found))
    TALLY.leaked += len(leaked)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as conn:
        rows = conn.execute("SELECT message_id, tool_call_id FROM deliveries").fetchall()
    TALLY.ledger_records_checked += len(rows)
    lost = TURNS - len(set(rows))
    TALLY.lost += max(lost, 0)
    with capsys.disabled():
        print(
            f"\ncross-talk: {TURNS} turns ({verified} answered, {refused} refused), "
            f"checks {len(results)}, leaked {len(leaked)}, ledger rows {len(rows)}"
        )
    assert not leaked, leaked[:5]
    assert len(rows) == len(set(rows)) == TURNS
    assert verified > TURNS // 3 and refused > 0  # both sides were really exercised
