"""Framework CPU per context, over an in-process stub transport (no network, no server).

``liveuser.HttpClient(httpx2.MockTransport(handler))`` answers the User Data
API instantly (the handler echoes the identifier with Ann's seed text), so
what is left is liveuser's own CPU. Sequential contexts, timed with
``time.process_time`` (CPU of the whole process, the ledger's worker thread
included) and ``time.perf_counter`` (wall):

  (a) full first turn: verify the token, fetch, render, meter into a real
      SQLite ledger; ``cache_ttl_seconds=0``;
  (b) cached second turn: the same conversations again (cache on), so the
      verification and the data come from the tenant's caches;
  (c) ``Ledger.record`` alone, with the arguments the pipeline passes;
  (d) (a) with a no-op ledger stand-in, so the framework without the ledger
      is visible. Each conversation keeps its host token across repetitions,
      as a host's session does, so after warm-up the token's signature is
      not checked again (the connector remembers verified tokens until they
      expire); the data is still fetched and rendered every time;
  (t) (d) with a new token per context: the signature and claims checked
      every time (a session's first message);
  floor: the bare httpx2 round trip, the same POST through
      ``httpx2.AsyncClient(transport=MockTransport(handler))``, read and decoded:
      what fetching the data with httpx2 costs without liveuser;
  (r) extra: the same POST as an ``httpx2.Request`` handed straight to the
      transport, read and decoded. ``HttpClient`` sends that way (it needs
      none of ``AsyncClient``'s cookies, auth or redirects), so (d) - (r) is
      liveuser's CPU with the HTTP library's cheapest path taken out.

Framework CPU = (a) - floor and (d) - floor, the stub's own CPU (the
handler's, measured with ``time.thread_time``) taken out of both sides: it
stands for the network and the vendor, and the same handler costs more
beside liveuser's code than beside the bare client's. The difference with
the stub left in is printed too. Target: <= 100 µs per context.
Within each repetition the conversations are cut into parts and every case
runs part by part in turn (the order rotating), so that load drifting on a
shared machine weighs on all cases alike; the figures are medians over the
repetitions, differences taken per repetition.

    .venv/bin/python bench/framework_cpu.py [--count 5000] [--reps 5]
    .venv/bin/python bench/framework_cpu.py --profile d   # cProfile of case (a) or (d)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
from _common import (
    HOST_KEY,
    HOST_SECRET,
    exit_on_sigterm,
    isolate_environment,
    machine,
    median,
    spread,
    verdict,
)

from liveuser import (
    Channel,
    Context,
    Conversation,
    HttpClient,
    Ledger,
    MeterRecord,
    Pipeline,
    Pricing,
    Registry,
    Settings,
    TenantSettings,
)
from liveuser.sandbox import ANN_EMAIL, SANDBOX_API_KEY, SANDBOX_USERS
from liveuser.tokens import KeyRing, Purpose, mint_token

URL = "http://user-data.bench.invalid/user-data"
USER_INFO = SANDBOX_USERS[ANN_EMAIL]
TARGET_US = 100.0
KEYS = KeyRing({HOST_KEY: HOST_SECRET})
CASES = ("a", "b", "c", "d", "t", "r", "floor")
CHUNKS = 10
LABELS = {
    "a": "(a) full first turn, real ledger",
    "b": "(b) cached second turn, real ledger",
    "c": "(c) Ledger.record alone",
    "d": "(d) full first turn, no-op ledger",
    "t": "(t) = (d) with a new host token per context",
    "r": "(r) httpx2.Request straight to the transport",
    "floor": "floor: bare httpx2 MockTransport round trip",
}


STUB_CPU = [0.0]
"""Seconds of the event loop thread's CPU spent inside :func:`handler` so far."""


async def handler(request: httpx2.Request) -> httpx2.Response:
    """The stub User Data API: echoes the identifier with Ann's seed text.

    It stands for the network and the vendor, so its own CPU is counted apart
    (``STUB_CPU``, this thread's CPU only) and can be taken out of both sides.
    """
    started = time.thread_time()
    who = json.loads(request.content)["identifier"]
    response = httpx2.Response(200, json={"identifier": who, "user_info": USER_INFO})
    STUB_CPU[0] += time.thread_time() - started
    return response


class NullLedger:
    """A stand-in for :class:`liveuser.Ledger` that records nothing."""

    def __init__(self) -> None:
        self.record_ = MeterRecord(
            tenant="default",
            conversation_id="-",
            message_id="-",
            channel="host",
            chars=0,
            charged=False,
            amount=Decimal("0"),
            recorded_at=datetime.now(UTC),
        )

    async def record(self, **_: Any) -> MeterRecord:
        return self.record_

    async def month_spend(self, tenant: str, at: datetime | None = None) -> Decimal:
        return Decimal("0")

    async def aclose(self) -> None:
        pass


def settings_for(ledger_path: Path, cache_ttl: float) -> Settings:
    return Settings(
        ledger=ledger_path,
        tenants={
            "default": TenantSettings(
                host_keys={HOST_KEY: HOST_SECRET},
                cache_ttl_seconds=cache_ttl,
                plugins={"user_data_api": {"url": URL, "api_key": SANDBOX_API_KEY}},
            )
        },
    )


def conversations(count: int, prefix: str) -> list[Conversation]:
    return [
        Conversation(
            tenant="default",
            channel=Channel.host,
            conversation_id=f"{prefix}-{i}",
            claims={
                "token": mint_token(
                    KEYS,
                    tenant="default",
                    purpose=Purpose.identity,
                    subject=f"bench-{i}@example.com",
                    ttl=3600,
                )
            },
        )
        for i in range(count)
    ]


def check(context: Context) -> None:
    if not context.verified or context.missing or context.sources != ("user_data_api",):
        raise RuntimeError(
            f"context not assembled: refusal={context.refusal!r} missing={context.missing!r}"
        )


class Bench:
    """Everything the cases need, built once; ``run(case, rep)`` times one case."""

    def __init__(self, workdir: Path, count: int) -> None:
        self.count = count
        self.workdir = workdir
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def setup(self) -> None:
        path = self.workdir / "ledger.sqlite3"
        self.ledger = await Ledger.open(path, secrets.token_bytes(32))
        self.closers.append(self.ledger.aclose)

        def pipeline(ledger: Any, cache_ttl: float) -> Pipeline:
            registry = Registry(
                settings_for(path, cache_ttl),
                http=HttpClient(httpx2.MockTransport(handler)),
                discover=False,
            )
            self.closers.append(registry.aclose)
            return Pipeline(registry, ledger)

        self.full = pipeline(self.ledger, 0)
        self.cached = pipeline(self.ledger, 3600)
        self.bare = pipeline(NullLedger(), 0)
        self.floor_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        self.transport = httpx2.MockTransport(handler)
        self.closers.append(self.floor_client.aclose)

        # Tokens last an hour and nothing is cached at ttl 0: (a) and (d) reuse the
        # conversations, with a new message id per repetition (a new ledger row each time).
        self.first = conversations(self.count, "first")
        self.second = conversations(self.count, "second")
        self.emails = [f"bench-{i}@example.com" for i in range(self.count)]
        for conversation in self.second:  # prime the caches: (b) is always a later turn
            check(await self.cached.context_for(conversation, "m-prime"))
        for pipe in (self.full, self.bare):  # build the tenant, load templates, warm up
            for conversation in self.first[:50]:
                check(await pipe.context_for(conversation, "m-warm"))
        for email in self.emails[:50]:
            await self.floor_once(email)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()

    async def floor_once(self, email: str) -> None:
        response = await self.floor_client.post(
            URL, json={"identifier": email}, headers={"Authorization": SANDBOX_API_KEY}
        )
        body = response.json()
        if response.status_code != 200 or body["identifier"] != email:
            raise RuntimeError("floor: unexpected answer")

    async def transport_once(self, email: str) -> None:
        request = httpx2.Request(
            "POST", URL, json={"identifier": email}, headers={"Authorization": SANDBOX_API_KEY}
        )
        response = await self.transport.handle_async_request(request)
        await response.aread()
        body = response.json()
        if response.status_code != 200 or body["identifier"] != email:
            raise RuntimeError("transport: unexpected answer")

    async def loop(self, case: str, rep: int, part: slice = slice(None)) -> None:
        """Run ``case`` over the ``part`` of the conversations (all by default)."""
        message = f"m{rep}"
        if case == "a":
            for conversation in self.first[part]:
                check(await self.full.context_for(conversation, message))
        elif case == "b":
            for conversation in self.second[part]:
                check(await self.cached.context_for(conversation, message))
        elif case == "d":
            for conversation in self.first[part]:
                check(await self.bare.context_for(conversation, message))
        elif case == "t":
            for conversation in self.cold[part]:
                check(await self.bare.context_for(conversation, message))
        elif case == "r":
            for email in self.emails[part]:
                await self.transport_once(email)
        elif case == "c":
            record = self.ledger.record
            pricing = Pricing(threshold=1500, price=Decimal("0.02"))
            chars = 900  # about what (a) renders for Ann's seed text
            start = part.start or 0
            for i, email in enumerate(self.emails[part], start):
                await record(
                    tenant="default",
                    conversation_id=f"ledger-{i}",
                    message_id=message,
                    tool_call_id="",
                    channel="host",
                    chars=chars,
                    sources=("user_data_api",),
                    identity=email,
                    pricing=pricing,
                )
        elif case == "floor":
            for email in self.emails[part]:
                await self.floor_once(email)
        else:
            raise ValueError(case)

    async def run(self, case: str, rep: int, part: slice) -> tuple[float, float, float]:
        """(CPU, wall, the stub's CPU) seconds of one case over one part of the conversations."""
        gc.collect()
        stub0 = STUB_CPU[0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await self.loop(case, rep, part)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return cpu, wall, STUB_CPU[0] - stub0


async def measure(
    count: int, reps: int, workdir: Path
) -> dict[str, list[tuple[float, float, float]]]:
    """(CPU µs, wall µs, the stub's CPU µs) per context, per case and repetition.

    Each repetition runs every case over the same conversations, cut into
    ``CHUNKS`` parts taken in turn (the cases' order rotating), so that the
    machine's load, which drifts over seconds, weighs on every case alike.
    """
    bench = Bench(workdir, count)
    results: dict[str, list[tuple[float, float, float]]] = {case: [] for case in CASES}
    size = -(-count // CHUNKS)
    parts = [slice(i, i + size) for i in range(0, count, size)]
    try:
        await bench.setup()
        for rep in range(reps):
            bench.cold = conversations(count, f"cold{rep}")  # (t): tokens never seen before
            spent = {case: [0.0, 0.0, 0.0] for case in CASES}
            for k, part in enumerate(parts):
                turn = (rep + k) % len(CASES)
                for case in CASES[turn:] + CASES[:turn]:
                    for i, seconds in enumerate(await bench.run(case, rep, part)):
                        spent[case][i] += seconds
            for case in CASES:
                cpu, wall, stub = (v / count * 1e6 for v in spent[case])
                results[case].append((cpu, wall, stub))
            print(
                f"  rep {rep + 1}/{reps}: "
                + ", ".join(f"{c} {results[c][-1][0]:.0f}" for c in CASES)
                + " µs CPU",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await bench.aclose()
    return results


def report(
    results: dict[str, list[tuple[float, float, float]]], count: int, reps: int, elapsed: float
) -> None:
    cpu = {case: [r[0] for r in results[case]] for case in CASES}
    wall = {case: [r[1] for r in results[case]] for case in CASES}
    stub = {case: [r[2] for r in results[case]] for case in CASES}
    print("# Framework CPU per context (in-process MockTransport)")
    print(f"machine: {machine()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    print(
        f"{count} sequential contexts per case per repetition, {reps} repetitions, "
        "medians [min-max]"
    )
    print()
    print("| case | CPU µs/ctx | [min-max] | wall µs/ctx | of the CPU, the stub vendor's |")
    print("|---|---:|---|---:|---:|")
    for case in CASES:
        print(
            f"| {LABELS[case]} | {median(cpu[case]):.1f} | {spread(cpu[case], '{:.0f}')} "
            f"| {median(wall[case]):.1f} | {median(stub[case]):.1f} |"
        )
    print()
    floor = median(cpu["floor"])

    def framework(case: str, with_stub: bool = False) -> float:
        """Median over the repetitions of ``case`` - floor, each repetition's cases
        having run side by side; the stub vendor's own CPU out of both sides unless
        ``with_stub``."""
        rows = zip(cpu[case], stub[case], cpu["floor"], stub["floor"], strict=True)
        if with_stub:
            return median([c - f for c, _, f, _ in rows])
        return median([(c - cs) - (f - fs) for c, cs, f, fs in rows])

    fw_a, fw_d = framework("a"), framework("d")
    fw_b = median([b - c for b, c in zip(cpu["b"], cpu["c"], strict=True)])
    print(
        f"floor (bare httpx2 MockTransport round trip): {floor:.1f} µs CPU, of which "
        f"the stub vendor's handler {median(stub['floor']):.1f} µs"
    )
    print(
        f"framework CPU (a) - floor, with the real ledger: {fw_a:.1f} µs "
        f"-> target <= {TARGET_US:.0f} µs: {verdict(fw_a <= TARGET_US)}"
    )
    print(
        f"framework CPU (d) - floor, no ledger:            {fw_d:.1f} µs "
        f"-> target <= {TARGET_US:.0f} µs: {verdict(fw_d <= TARGET_US)}"
    )
    print(
        "  (the stub vendor's own CPU taken out of both sides, as the network is: "
        f"{median(stub['d']):.1f} µs in (d), {median(stub['floor']):.1f} µs in the floor; "
        f"left in, (d) - floor = {framework('d', with_stub=True):.1f} µs)"
    )
    print(
        f"cached second turn (b) = {median(cpu['b']):.1f} µs; without its ledger write, "
        f"(b) - (c) = {fw_b:.1f} µs (no fetch, so no floor to subtract)"
    )
    ledger_share = median([a - d for a, d in zip(cpu["a"], cpu["d"], strict=True)])
    print(
        f"ledger share in a context: (a) - (d) = {ledger_share:.1f} µs; Ledger.record "
        f"alone (c) = {median(cpu['c']):.1f} µs"
    )
    cheapest = median(
        [
            (d - ds) - (r - rs)
            for d, ds, r, rs in zip(cpu["d"], stub["d"], cpu["r"], stub["r"], strict=True)
        ]
    )
    print(
        f"against the transport alone (r) = {median(cpu['r']):.1f} µs: (d) - (r) = "
        f"{cheapest:.1f} µs (the floor's AsyncClient layer, which liveuser skips, "
        f"costs {median(cpu['floor']) - median(cpu['r']):.1f} µs)"
    )
    print(f"a session's first message, (t) - floor, no ledger: {framework('t'):.1f} µs")
    print(f"elapsed: {elapsed:.1f} s")


async def profile(case: str, count: int, workdir: Path, top: int) -> None:
    bench = Bench(workdir, count)
    try:
        await bench.setup()
        if case == "t":
            bench.cold = conversations(count, "cold-profile")
        else:  # one unprofiled pass first, so the profile shows the steady state
            await bench.loop(case, 0)
        profiler = cProfile.Profile()
        profiler.enable()
        await bench.loop(case, 1)
        profiler.disable()
    finally:
        await bench.aclose()
    print(
        f"# cProfile of case ({case}), {count} contexts (main thread only: the ledger's "
        "SQLite work runs in its worker thread and shows as waiting)"
    )
    for key in ("cumulative", "tottime"):
        print(f"\n## top {top} by {key}")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats(key).print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="contexts per case per repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--profile",
        choices=list(CASES),
        default=None,
        help="print a cProfile of one case instead of benchmarking",
    )
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    isolate_environment()
    exit_on_sigterm()
    started = time.perf_counter()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="liveuser-bench-") as tmp:
        os.chdir(tmp)  # no liveuser.toml of the developer's is read
        try:
            if args.profile:
                asyncio.run(profile(args.profile, args.count, Path(tmp), args.top))
                return 0
            results = asyncio.run(measure(args.count, args.reps, Path(tmp)))
        finally:
            os.chdir(here)
    report(results, args.count, args.reps, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
