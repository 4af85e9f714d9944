"""Degrade, never block: every connector's verification and the Shopify back-end under faults.

Each plugin runs against its own fake, served on 127.0.0.1, through one
generic fault proxy (:mod:`.fault_server`) that the plugin's base-URL
settings point at. Every fault of the matrix applies to every request while it
is set. For each target and fault the turn ends within the deadline (plus a
margin), nothing is raised, and:

* a connector refuses with a one-line reason a person can read, and the
  context holds nobody's address or data;
* a back-end is named missing with its reason, the user still verified, and
  no other customer's data in the context.

Then the fault is cleared and the same conversation is answered in full: the
agent loop carries on. Connectors that verify in several requests also meet
each fault on their last request only, after good answers to the earlier
ones. The counts go to the suite's summary.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from liveuser import Ledger, Pipeline, Registry, Settings, TenantSettings
from liveuser.host import HostConnector
from liveuser.http import RETRY_ATTEMPTS
from liveuser.sandbox import serve

from .fault_server import (
    FAULTS,
    VENDOR_RESET_FAULTS,
    ProxyState,
    closed_port_url,
    create_fault_proxy,
    rebase,
    stalled_connect_url,
    vendor_reset,
)
from .tally import TALLY
from .vendors import Vendor, start_vendors, tenant_settings

pytestmark = pytest.mark.reliability

DEADLINE = 0.5
MARGIN = 3.0  # generous: two shared cores, thread-hosted servers sharing the GIL
ANY_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@dataclass(frozen=True)
class Target:
    name: str
    vendor: str
    step: str
    """The title of the vendor's demo step that verifies (connector) or fetches (back-end)."""
    victim: str
    """What ``other-user`` puts in place of the asked-about conversation id (or email)."""
    backend: bool = False
    victim_data: tuple[str, ...] = ()
    """What of the victim's must never show (a back-end's victim)."""


TARGETS = (
    Target("zendesk_ticket", "zendesk", "Zendesk email ticket from its requester", "1014"),
    Target(
        "zendesk_messaging", "zendesk", "Zendesk Messaging with the host's login JWT", "conv_bob"
    ),
    Target("intercom", "intercom", "Intercom email from its contact", "202"),
    Target("gorgias_ticket", "gorgias", "Gorgias email ticket from its customer", "153006815"),
    Target("hubspot_email", "hubspot", "HubSpot email from its contact", "7319246511"),
    Target("hubspot_chat", "hubspot", "HubSpot live chat, the host attests", "8400000002"),
    Target("freshdesk", "freshworks", "Freshdesk email ticket from its requester", "32"),
    Target(
        "freshchat",
        "freshworks",
        "Freshchat user authenticated",
        "7e673110-64fc-461f-bcec-cc8e9a47a502",
    ),
    Target(
        "shopify",
        "shopify",
        "Shopify orders: in transit",
        "bruno@example.com",
        backend=True,
        victim_data=("bruno@example.com", "#1045", "#1040", "Bruno"),
    ),
)


def _faults_for(target: Target) -> list[str]:
    return [
        f
        for f in FAULTS
        if f not in VENDOR_RESET_FAULTS or vendor_reset(target.vendor, far=True) is not None
    ]


CASES = [(t, f) for t in TARGETS for f in _faults_for(t)]


def expected_hits(fault: str, vendor: str) -> set[int]:
    """Requests the proxy should see: reads retried, hopeless waits and broken bodies not."""
    if fault in ("refused", "connect-stall"):
        return {0}
    if fault in ("429-retry-after-0", "429-no-retry-after", "burst-5xx"):
        return {RETRY_ATTEMPTS}
    if fault == "429-vendor-reset-0":
        # Shopify's throttled answers are HTTP 200: its own bound on waits applies.
        return {3} if vendor == "shopify" else {RETRY_ATTEMPTS}
    return {1}


@pytest.fixture(scope="module")
def vendors() -> Iterator[dict[str, Vendor]]:
    with contextlib.ExitStack() as stack:
        yield start_vendors(stack)


@pytest.fixture(scope="module")
def proxies(vendors: dict[str, Vendor]) -> Iterator[dict[str, tuple[str, ProxyState]]]:
    """One fault proxy in front of each vendor's fake."""
    with contextlib.ExitStack() as stack:
        found: dict[str, tuple[str, ProxyState]] = {}
        for name, vendor in vendors.items():
            app = create_fault_proxy(vendor.url, name)
            found[name] = (stack.enter_context(serve(app)), app.state.proxy)
        yield found


@pytest.fixture(scope="module")
async def ledger() -> AsyncIterator[Ledger]:
    async with Ledger(":memory:", b"k" * 32) as led:
        yield led


@contextlib.asynccontextmanager
async def pipeline_at(vendor: Vendor, base_url: str, ledger: Ledger) -> AsyncIterator[Pipeline]:
    """A fresh tenant whose plugin ``vendor`` talks to ``base_url`` instead of its fake.

    Nothing is cached: every turn verifies and fetches again.
    """
    plugin_settings = rebase(vendor.settings, vendor.url, base_url)
    options = tenant_settings(
        {vendor.name: plugin_settings}, deadline_seconds=DEADLINE, cache_ttl_seconds=0
    )
    settings = Settings(ledger=ledger.path, tenants={"default": TenantSettings(**options)})
    registry = Registry(settings, discover=False, builtins=[HostConnector, vendor.cls])
    try:
        yield Pipeline(registry, ledger)
    finally:
        await registry.aclose()


@pytest.fixture(scope="module")
async def proxied(
    vendors: dict[str, Vendor], proxies: dict[str, tuple[str, ProxyState]], ledger: Ledger
) -> AsyncIterator[dict[str, Pipeline]]:
    """Per vendor, one pipeline whose plugin talks to the vendor's fault proxy."""
    async with contextlib.AsyncExitStack() as stack:
        yield {
            name: await stack.enter_async_context(pipeline_at(vendor, proxies[name][0], ledger))
            for name, vendor in vendors.items()
        }


def assert_readable(reason: str | None, where: str) -> None:
    assert reason, f"{where}: no reason given"
    assert "\n" not in reason and "Traceback" not in reason, f"{where}: {reason!r}"
    assert len(reason) < 400, f"{where}: {reason!r}"


@pytest.mark.parametrize(("target", "fault"), CASES, ids=[f"{t.name}-{f}" for t, f in CASES])
async def test_fault_ends_in_time_as_a_refusal_or_a_missing_source(
    target: Target,
    fault: str,
    vendors: dict[str, Vendor],
    proxies: dict[str, tuple[str, ProxyState]],
    proxied: dict[str, Pipeline],
    ledger: Ledger,
) -> None:
    TALLY.faults_tried[target.name] += 1
    vendor = vendors[target.vendor]
    proxy = proxies[target.vendor][1]
    conversation = vendor.step(target.step).conversation
    where = f"{target.name}/{fault}"
    proxy.swap_segments = {conversation.conversation_id: target.victim}
    proxy.swap_text = {vendor.step(target.step).who: target.victim} if target.backend else {}

    async with contextlib.AsyncExitStack() as stack:
        if fault in ("refused", "connect-stall"):
            base = (
                closed_port_url()
                if fault == "refused"
                else stack.enter_context(stalled_connect_url())
            )
            pipeline = await stack.enter_async_context(pipeline_at(vendor, base, ledger))
        else:
            pipeline = proxied[target.vendor]
        forwarded = len(proxy.forwarded)
        proxy.set(fault)
        started = time.monotonic()
        try:
            context = await pipeline.context_for(conversation, f"{where}-m1")
        finally:
            elapsed = time.monotonic() - started
            proxy.set(None)
    hits = proxy.hits if fault not in ("refused", "connect-stall") else 0
    if fault == "other-user":  # the vendor was indeed asked about the victim
        asked = proxy.forwarded[forwarded:]
        assert any(
            target.victim in path or target.victim.encode() in body for _, path, body in asked
        )

    assert elapsed < DEADLINE + MARGIN, f"{where}: took {elapsed:.2f} s"
    if target.backend:
        assert context.verified, f"{where}: {context.refusal}"
        assert target.name not in context.sources, where
        assert_readable(context.missing.get(target.name), where)
        assert target.name in context.text  # the agent is told what is missing
        leaked = [d for d in target.victim_data if d in context.text]
    else:
        assert not context.verified, f"{where}: verified {context.text[:200]!r}"
        assert_readable(context.refusal, where)
        leaked = ANY_ADDRESS.findall(context.text)
    assert not leaked, f"{where}: data in the context: {leaked}"
    assert hits in expected_hits(fault, target.vendor), f"{where}: {hits} requests"

    # The fault cleared, the same conversation is answered in full: the loop carries on.
    after = await proxied[target.vendor].context_for(conversation, f"{where}-m2")
    assert after.verified, f"{where}: after the fault: {after.refusal}"
    if target.backend:
        assert target.name in after.sources, f"{where}: after the fault: {after.missing}"
    TALLY.faults_survived[target.name] += 1


LATE_TARGETS = (
    *(t for t in TARGETS if t.name in ("intercom", "hubspot_email", "hubspot_chat", "freshchat")),
    Target(
        "zendesk_messaging_authenticated",
        "zendesk",
        "Zendesk Messaging user authenticated by Zendesk",
        "conv_chloe",
    ),
)
LATE_FAULTS = (
    "stall-headers",
    "drip",
    "429-retry-after-hour",
    "burst-5xx",
    "truncated-json",
    "wrong-content-type",
    "huge-chunked",
)
LATE_CASES = [(t, f) for t in LATE_TARGETS for f in LATE_FAULTS]


@pytest.mark.parametrize(
    ("target", "fault"), LATE_CASES, ids=[f"{t.name}-{f}" for t, f in LATE_CASES]
)
async def test_fault_on_the_last_request_of_a_lookup_ends_the_same_way(
    target: Target,
    fault: str,
    vendors: dict[str, Vendor],
    proxies: dict[str, tuple[str, ProxyState]],
    ledger: Ledger,
) -> None:
    """Connectors that ask several times: the earlier answers are good, the last one is not."""
    name = f"{target.name} (last request)"
    TALLY.faults_tried[name] += 1
    vendor = vendors[target.vendor]
    proxy_url, proxy = proxies[target.vendor]
    conversation = vendor.step(target.step).conversation
    where = f"{name}/{fault}"
    async with pipeline_at(vendor, proxy_url, ledger) as pipeline:
        before = len(proxy.forwarded)
        assert (await pipeline.context_for(conversation, f"{where}-m0")).verified
        lookups = len(proxy.forwarded) - before
        assert lookups >= 2, f"{target.name} verifies in {lookups} request"
        proxy.set(fault, pass_first=lookups - 1)
        started = time.monotonic()
        try:
            context = await pipeline.context_for(conversation, f"{where}-m1")
        finally:
            elapsed = time.monotonic() - started
            proxy.set(None)
        after = await pipeline.context_for(conversation, f"{where}-m2")

    assert elapsed < DEADLINE + MARGIN, f"{where}: took {elapsed:.2f} s"
    assert not context.verified, f"{where}: verified {context.text[:200]!r}"
    assert_readable(context.refusal, where)
    assert not ANY_ADDRESS.findall(context.text), f"{where}: {context.text}"
    assert proxy.hits in expected_hits(fault, target.vendor), f"{where}: {proxy.hits} requests"
    assert after.verified, f"{where}: after the fault: {after.refusal}"
    TALLY.faults_survived[name] += 1


def test_zz_vendor_fault_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last (file order): every fault tried on every vendor was survived."""
    names = sorted(n for n in TALLY.faults_tried if n != "user_data_api")
    tried = sum(TALLY.faults_tried[n] for n in names)
    survived = sum(TALLY.faults_survived[n] for n in names)
    with capsys.disabled():
        print()
        for name in names:
            print(
                f"faults on {name}: tried {TALLY.faults_tried[name]}, "
                f"survived {TALLY.faults_survived[name]}"
            )
        print(f"vendor faults tried {tried}, survived {survived}")
    assert tried == survived
