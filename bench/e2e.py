"""End to end across every connector and back-end, against the raw-aiohttp floor.

Every installed vendor fake and the sandbox User Data API run in a separate
process (``bench/_fakes_server.py``), each answering after ``--latency``
seconds (50 ms by default) with its rate limit lifted. The workload is every
verified conversation of every installed connector's part of ``liveuser
demo`` (the same entry points, group ``liveuser.demo``), plus host-channel
conversations, all in one tenant whose back-ends are the User Data API and,
when installed, Shopify: so each context is one connector's verification
followed by a fetch from every back-end.

1. **Calibration** (sequential, caches off, after one warm-up pass): for each
   conversation, the requests liveuser sends are recorded at the fakes. That
   gives the *requests per context* per channel, compared with the fewest the
   vendor's API allows, and the exact requests the floor replays.
2. **Cold turns** (``cache_ttl_seconds=0``): every context verifies and
   fetches. **Floor**: one ``aiohttp.ClientSession`` with the same connection
   limit replays the recorded requests of the same conversation — the
   verification requests in order, then the back-end requests concurrently —
   and reads every body. Nothing else.
3. **Cached turns** (cache on, after a warm-up turn per conversation): the
   verification and data come from the caches. There is no floor (it would
   make no request); liveuser must make none either.

At each concurrency level (1, 64, 256, 1024 by default) and round, floor and
liveuser alternate, which goes first flips every round, and each timed run
follows an untimed warm-up of ``c`` contexts. Ratios are the median of the
per-round ratios. On two cores the fakes' process saturates first: the
report says where the floor stops scaling, and the targets are read at the
highest level where it still does.

    .venv/bin/python bench/e2e.py [--levels 1,64,256,1024] [--rounds 3] [--latency 0.05]
    .venv/bin/python bench/e2e.py --smoke        # a small run that checks everything works
    .venv/bin/python bench/e2e.py --channels host   # only some channels
    .venv/bin/python bench/e2e.py --channels host --backends user_data_api --levels 1,8,64
        # the core's own case: host chats against the User Data API alone
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import importlib.metadata
import json
import pstats
import re
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    HOST_KEY,
    HOST_SECRET,
    Run,
    child_server,
    drive,
    exit_on_sigterm,
    isolate_environment,
    machine,
    median,
    process_cpu_seconds,
    spread,
    verdict,
)

from liveuser import (
    Channel,
    Conversation,
    HttpClient,
    Ledger,
    Pipeline,
    Registry,
    Settings,
    TenantSettings,
)
from liveuser.demo import DEMO_ENTRY_POINT_GROUP, DemoContext
from liveuser.sandbox import ANN_EMAIL, BOB_EMAIL, SANDBOX_API_KEY
from liveuser.tokens import KeyRing, Purpose, mint_token

HERE = Path(__file__).resolve().parent
CONNECTION_LIMIT = 256  # liveuser.HttpClient's default max_connections
KEYS = KeyRing({HOST_KEY: HOST_SECRET})
BACKENDS = ("user_data_api", "shopify")
TARGET_THROUGHPUT = 0.9
TARGET_P99 = 1.3
TARGET_LEVEL = 256
DEADLINE = 10.0  # the longest a tenant allows
SCALING = 0.7  # the floor "still scales" at a level if it keeps 70 % of linear growth

# The fewest requests each vendor's API allows to verify a conversation of the channel
# (the vendors' API references, as each connector's README gives them), and to fetch
# from each back-end.
MINIMUM_VERIFY = {
    Channel.host: 0,  # a host token is checked locally
    Channel.zendesk_ticket: 1,  # GET /api/v2/tickets/{id}?include=users
    Channel.zendesk_messaging: 2,  # the conversation's SunCo user: 1 with the login JWT
    Channel.intercom: 2,  # GET /conversations/{id}, GET /contacts/{id}: no sideloading
    Channel.gorgias_ticket: 1,  # GET /api/tickets/{id}
    Channel.hubspot_email: 2,  # thread messages, plus the thread for spam/archived
    Channel.hubspot_chat: 3,  # thread, messages, the visitor's contact
    Channel.freshdesk: 1,  # GET /api/v2/tickets/{id}?include=requester
    Channel.freshchat: 2,  # the conversation, then its user
}
MINIMUM_FETCH = {"user_data_api": 1, "shopify": 1}  # one POST; one GraphQL query


def minimum_verify(conversation: Conversation) -> int:
    """The vendor's minimum for this conversation: some carry part of the proof with them."""
    if conversation.channel is Channel.zendesk_messaging and conversation.claims:
        return 1  # the host's login JWT names the user: one read binds it to the conversation
    if conversation.channel is Channel.intercom and conversation.payload:
        return 1  # a signed webhook carries the conversation: only its contact is read
    return MINIMUM_VERIFY.get(conversation.channel, 0)


# --------------------------------------------------------------------------- the workload


@dataclass
class Case:
    """One verified conversation of the workload."""

    plugin: str
    title: str
    conversation: Conversation
    verify: list[dict[str, Any]] = field(default_factory=list)  # recorded, in order
    fetch: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per back-end

    @property
    def channel(self) -> Channel:
        return self.conversation.channel

    @property
    def requests(self) -> int:
        return len(self.verify) + sum(len(r) for r in self.fetch.values())


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from re.findall(r"http://127\.0\.0\.1:\d+", value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls(item)


def _retarget(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _retarget(v, old, new) for k, v in value.items()}
    return value


def workload(
    fakes: dict[str, str], channels: set[str] | None, backends: set[str] | None = None
) -> tuple[dict[str, Any], list[Case]]:
    """Plugin settings pointing at the fakes' process, and the verified conversations.

    ``channels`` keeps only those channels' conversations, ``backends`` only
    those back-ends (the others are left unconfigured, so they never run).

    Each connector's demo factory starts its own fake for a moment (in this
    process); only its settings and conversations are kept, retargeted at the
    same fake served by the fakes' process (same seed data).
    """
    plugins: dict[str, Any] = {
        "user_data_api": {"url": f"{fakes['user_data_api']}/user-data", "api_key": SANDBOX_API_KEY}
    }
    cases = [
        Case("user_data_api", f"host chat of {email}", _host(email, f"host-{i}"))
        for i, email in enumerate((ANN_EMAIL, BOB_EMAIL))
    ]
    seen: set[str] = set()
    with contextlib.ExitStack() as stack:
        context = DemoContext(stack=stack, host_keys=KEYS)
        for ep in importlib.metadata.entry_points(group=DEMO_ENTRY_POINT_GROUP):
            sandbox = ep.load()(context)
            if sandbox.plugin not in fakes:
                print(f"  {sandbox.plugin}: no fake served; skipped", file=sys.stderr)
                continue
            settings = sandbox.settings
            for url in set(_urls(settings)):
                settings = _retarget(settings, url, fakes[sandbox.plugin])
            plugins[sandbox.plugin] = settings
            for step in sandbox.steps:
                key = step.conversation.model_dump_json()
                if step.tool or step.title.startswith("Refused") or key in seen:
                    continue
                seen.add(key)
                cases.append(Case(sandbox.plugin, step.title, step.conversation))
    if channels:
        cases = [c for c in cases if c.channel.value in channels]
    if backends:
        for name in set(BACKENDS) - backends:
            plugins.pop(name, None)
    return plugins, cases


def _host(email: str, conversation_id: str) -> Conversation:
    token = mint_token(KEYS, tenant="default", purpose=Purpose.identity, subject=email)
    return Conversation(
        channel=Channel.host, conversation_id=conversation_id, claims={"token": token}
    )


# --------------------------------------------------------------------------- the two sides


class Liveuser:
    """``Pipeline.context_for`` with every installed plugin and a real SQLite ledger."""

    def __init__(self, plugins: dict[str, Any], ledger: Ledger, cache_ttl: float) -> None:
        settings = Settings(
            ledger=Path(ledger.path),
            tenants={
                "default": TenantSettings(
                    host_keys={HOST_KEY: HOST_SECRET},
                    cache_ttl_seconds=cache_ttl,
                    # Past the fakes' saturation a context waits in their queue: the
                    # longest deadline lets most of them through; the rest are counted.
                    deadline_seconds=DEADLINE,
                    plugins=plugins,
                )
            },
        )
        self.registry = Registry(settings, http=HttpClient(max_connections=CONNECTION_LIMIT))
        self.pipeline = Pipeline(self.registry, ledger)
        self.serial = 0
        self.failures: Counter[str] = Counter()

    async def one(self, case: object) -> None:
        """One context; a refusal or a missing source is counted (and raised in ``strict``)."""
        assert isinstance(case, Case)
        self.serial += 1
        context = await self.pipeline.context_for(case.conversation, f"m{self.serial}")
        problem = (
            f"refused: {context.refusal}"
            if not context.verified
            else f"missing {context.missing}"
            if context.missing
            else None
        )
        if problem:
            self.failures[f"{case.title}: {problem}"] += 1

    async def strict(self, case: Case) -> None:
        before = sum(self.failures.values())
        await self.one(case)
        if sum(self.failures.values()) != before:
            raise RuntimeError(f"{case.title}: not assembled: {list(self.failures)[-1]}")

    async def aclose(self) -> None:
        await self.registry.aclose()


class Floor:
    """Raw aiohttp replaying exactly the requests liveuser sent for each conversation."""

    def __init__(self, fakes: dict[str, str]) -> None:
        self.fakes = fakes
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, keepalive_timeout=30.0),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def _send(self, base: str, request: dict[str, Any]) -> None:
        url = base + request["path"] + (f"?{request['query']}" if request["query"] else "")
        async with self.session.request(
            request["method"],
            url,
            headers=request["headers"],
            data=request["body"] or None,
        ) as response:
            await response.read()
            if response.status >= 500 or response.status == 429:
                raise RuntimeError(f"floor: HTTP {response.status} for {url}")

    async def one(self, case: object) -> None:
        assert isinstance(case, Case)
        for request in case.verify:
            await self._send(self.fakes[case.plugin], request)
        await asyncio.gather(
            *(
                self._send(self.fakes[backend], request)
                for backend, requests in case.fetch.items()
                for request in requests
            )
        )

    async def aclose(self) -> None:
        await self.session.close()


# --------------------------------------------------------------------------- the fakes' counters


class Fakes:
    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.session = aiohttp.ClientSession()

    async def _all(self, method: str, path: str) -> dict[str, Any]:
        async def one(url: str) -> Any:
            async with self.session.request(method, url + path) as response:
                return await response.json()

        answers = await asyncio.gather(*(one(u) for u in self.urls.values()))
        return dict(zip(self.urls, answers, strict=True))

    async def count(self) -> int:
        return sum(a["requests"] for a in (await self._all("GET", "/__bench__/count")).values())

    async def record(self, live: Liveuser, case: Case) -> None:
        """Run ``case`` once through liveuser and keep the requests it sent, per fake."""
        await self._all("POST", "/__bench__/record")
        await live.strict(case)
        logs = await self._all("GET", "/__bench__/log")
        for request in (r for log in logs.values() for r in log):
            request["headers"] = [tuple(h) for h in request["headers"]]
            request["body"] = base64.b64decode(request["body"])
        case.verify = [] if case.plugin in BACKENDS else logs.get(case.plugin, [])
        case.fetch = {b: logs[b] for b in BACKENDS if logs.get(b)}
        extra = set(logs) - set(BACKENDS) - {case.plugin}
        if any(logs[name] for name in extra):
            raise RuntimeError(f"{case.title}: requests to an unrelated fake")

    async def aclose(self) -> None:
        await self.session.close()


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Level:
    concurrency: int
    total: int
    floor: list[Run] = field(default_factory=list)
    cold: list[Run] = field(default_factory=list)
    cached: list[Run] = field(default_factory=list)
    cached_requests: int = 0
    failures: int = 0


def spread_cases(cases: Sequence[Case], n: int) -> list[Case]:
    return [cases[i % len(cases)] for i in range(n)]


async def measure(
    fakes_urls: dict[str, str],
    server_pid: int,
    plugins: dict[str, Any],
    cases: list[Case],
    levels: list[Level],
    rounds: int,
    workdir: Path,
    profile: str | None = None,
) -> dict[str, float]:
    ledger = await Ledger.open(workdir / "ledger.sqlite3", secrets.token_bytes(32))
    cold = Liveuser(plugins, ledger, cache_ttl=0)
    cached = Liveuser(plugins, ledger, cache_ttl=3600)
    fakes = Fakes(fakes_urls)
    floor = Floor(fakes_urls)
    server_cpu: dict[str, float] = defaultdict(float)
    served: Counter[str] = Counter()
    profiles: list[cProfile.Profile] = []
    try:
        for case in cases:  # warm-up: connector memos, connections, templates
            await cold.strict(case)
            await cached.strict(case)  # the cached side's first turn: its later turns hit
        for case in cases:
            await fakes.record(cold, case)
        for round_ in range(rounds):
            for level in levels:
                c, items = level.concurrency, spread_cases(cases, level.total)
                warm = spread_cases(cases, c)
                order = ("floor", "cold") if round_ % 2 == 0 else ("cold", "floor")
                for side in (*order, "cached"):
                    one = {"floor": floor.one, "cold": cold.one, "cached": cached.one}[side]
                    await drive(warm, c, one)
                    before, s0 = await fakes.count(), process_cpu_seconds(server_pid)
                    profiler = cProfile.Profile() if side == profile else None
                    if profiler:
                        profiler.enable()
                    getattr(level, side).append(await drive(items, c, one))
                    if profiler:
                        profiler.disable()
                        profiles.append(profiler)
                    server_cpu[side] += process_cpu_seconds(server_pid) - s0
                    served[side] += len(items)
                    if side == "cached":
                        level.cached_requests += await fakes.count() - before
                if cold.failures or cached.failures:
                    level.failures += sum(cold.failures.values()) + sum(cached.failures.values())
                    for what, n in (cold.failures + cached.failures).most_common(3):
                        print(f"  c={c}: {n} x {what}", file=sys.stderr)
                    cold.failures.clear()
                    cached.failures.clear()
                print(
                    f"  round {round_ + 1}/{rounds} c={c}: floor {level.floor[-1].throughput:.0f}/s"
                    f", cold {level.cold[-1].throughput:.0f}/s"
                    f", cached {level.cached[-1].throughput:.0f}/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await cold.aclose()
        await cached.aclose()
        await floor.aclose()
        await fakes.aclose()
        await ledger.aclose()
    if profiles:
        stats = pstats.Stats(profiles[0], stream=sys.stderr)
        for more in profiles[1:]:
            stats.add(more)
        for key, where in (("tottime", ""), ("cumulative", ""), ("tottime", "liveuser")):
            print(f"\n## {profile}: top 30 by {key} {where}", file=sys.stderr)
            stats.sort_stats(key).print_stats(where, 30)
    return {side: server_cpu[side] / served[side] for side in served}


def report_requests(cases: list[Case], cached_requests: int) -> None:
    print("## HTTP requests per context")
    print()
    print("| channel | plugin | conversation | verify | fetch | cold total | minimum | cached |")
    print("|---|---|---|---:|---|---:|---:|---:|")
    ok = True
    for case in cases:
        fetch = ", ".join(f"{b} {len(r)}" for b, r in case.fetch.items()) or "none"
        minimum = minimum_verify(case.conversation) + sum(MINIMUM_FETCH[b] for b in case.fetch)
        ok = ok and case.requests <= minimum
        print(
            f"| {case.channel.value} | {case.plugin} | {case.title} | {len(case.verify)} "
            f"| {fetch} | {case.requests} | {minimum} | 0 |"
        )
    print()
    print(
        f"cold contexts at or under the vendors' minimum: {verdict(ok)}; requests on cached "
        f"turns, all levels: {cached_requests} -> {verdict(cached_requests == 0)}"
    )


def report(
    levels: list[Level], server_cpu: dict[str, float], target_level: int | None = None
) -> None:
    print("## Throughput and latency, liveuser against the floor")
    print()
    print(
        "| conc | N | floor ctx/s | cold ctx/s | thr ratio [min-max] | floor p50 ms "
        "| cold p50 ms | floor p99 ms | cold p99 ms | p99 ratio [min-max] "
        "| cached ctx/s | cached p50 ms | cached p99 ms | floor scaling | not assembled |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for level in levels:
        f, lu, ca = level.floor, level.cold, level.cached
        thr = [b.throughput / a.throughput for a, b in zip(f, lu, strict=True)]
        p99 = [b.p99 / a.p99 for a, b in zip(f, lu, strict=True)]
        print(
            f"| {level.concurrency} | {level.total} "
            f"| {median([r.throughput for r in f]):.0f} | {median([r.throughput for r in lu]):.0f} "
            f"| {median(thr):.3f} [{spread(thr)}] "
            f"| {median([r.p50 for r in f]) * 1e3:.1f} | {median([r.p50 for r in lu]) * 1e3:.1f} "
            f"| {median([r.p99 for r in f]) * 1e3:.1f} | {median([r.p99 for r in lu]) * 1e3:.1f} "
            f"| {median(p99):.3f} [{spread(p99)}] "
            f"| {median([r.throughput for r in ca]):.0f} "
            f"| {median([r.p50 for r in ca]) * 1e3:.2f} | {median([r.p99 for r in ca]) * 1e3:.2f} "
            f"| {scaling(levels, level):.2f} | {level.failures} |"
        )
    print()
    print(
        "client CPU µs per context: "
        + ", ".join(
            f"{side} {_cpu_per_context(levels, side) * 1e6:.0f}"
            for side in ("floor", "cold", "cached")
        )
        + "; fakes' process CPU µs per context: "
        + ", ".join(f"{side} {cpu * 1e6:.0f}" for side, cpu in server_cpu.items())
    )
    if target_level is not None:
        target = next(lv for lv in levels if lv.concurrency == target_level)
        where = f"as asked, where the floor kept {scaling(levels, target):.0%} of linear scaling"
    else:
        target = _target_level(levels)
        where = (
            f"the highest level up to {TARGET_LEVEL} where the floor kept {SCALING:.0%} of "
            "linear scaling"
        )
    if target is None:
        print(
            f"targets: not evaluated: the floor kept under {SCALING:.0%} of linear scaling "
            "above the lowest level (the fakes' process saturated), or one level only"
        )
        return
    f, lu = target.floor, target.cold
    thr = median([b.throughput / a.throughput for a, b in zip(f, lu, strict=True)])
    p99 = median([b.p99 / a.p99 for a, b in zip(f, lu, strict=True)])
    print(
        f"targets read at c={target.concurrency} ({where}): "
        f"throughput >= {TARGET_THROUGHPUT}x floor: {thr:.3f}x -> "
        f"{verdict(thr >= TARGET_THROUGHPUT)}; p99 <= {TARGET_P99}x floor: {p99:.3f}x -> "
        f"{verdict(p99 <= TARGET_P99)}"
    )


def _cpu_per_context(levels: list[Level], side: str) -> float:
    return median([r.cpu / r.count for lv in levels for r in getattr(lv, side)])


def scaling(levels: list[Level], level: Level) -> float:
    """The floor's throughput at ``level`` over what the lowest level's would give, scaled up.

    1.0 means every added conversation was served as fast as the first; the
    fakes' process saturating shows as a falling figure.
    """
    base = levels[0]
    expected = median([r.throughput for r in base.floor]) * level.concurrency / base.concurrency
    return median([r.throughput for r in level.floor]) / expected


def _target_level(levels: list[Level]) -> Level | None:
    """The highest level <= TARGET_LEVEL, above the lowest, at which the floor still scales."""
    best = None
    for level in levels[1:]:
        if level.concurrency > TARGET_LEVEL or scaling(levels, level) < SCALING:
            break
        best = level
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,8,64,256,1024")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--per-level", type=int, default=3, help="contexts per worker and run")
    parser.add_argument("--channels", default="", help="comma-separated channels (default all)")
    parser.add_argument(
        "--backends",
        default="",
        help=f"comma-separated back-ends among {','.join(BACKENDS)} (default both)",
    )
    parser.add_argument(
        "--target-level",
        type=int,
        help="read the targets at this level (default: the highest where the floor scales)",
    )
    parser.add_argument("--smoke", action="store_true", help="levels 1,8; one round; tiny")
    parser.add_argument(
        "--profile",
        choices=("floor", "cold", "cached"),
        help="print a cProfile of one side's timed runs (this process) after the tables",
    )
    args = parser.parse_args()
    if args.smoke:
        args.levels, args.rounds, args.latency, args.per_level = "1,8", 1, 0.01, 2

    isolate_environment()
    exit_on_sigterm()
    started = time.perf_counter()
    channels = {c for c in args.channels.split(",") if c}
    backends = {b for b in args.backends.split(",") if b}
    if args.target_level is not None and str(args.target_level) not in args.levels.split(","):
        parser.error(f"--target-level {args.target_level} is not one of --levels {args.levels}")
    if backends - set(BACKENDS):
        parser.error(f"unknown back-end(s): {', '.join(sorted(backends - set(BACKENDS)))}")
    with tempfile.TemporaryDirectory(prefix="liveuser-bench-") as tmp:
        workdir = Path(tmp)
        script = [str(HERE / "_fakes_server.py"), "--latency", str(args.latency)]
        with child_server(script, "FAKES", cwd=workdir) as (line, pid):
            fakes_urls = json.loads(line)
            plugins, cases = workload(fakes_urls, channels, backends)
            if not cases:
                print("no conversation to run", file=sys.stderr)
                return 2
            levels = [
                Level(int(c), max(int(c) * args.per_level, 2 * len(cases)))
                for c in args.levels.split(",")
            ]
            server_cpu = asyncio.run(
                measure(fakes_urls, pid, plugins, cases, levels, args.rounds, workdir, args.profile)
            )
    scope = "every connector and back-end"
    if channels or backends:
        scope = (
            f"channels {', '.join(sorted(channels)) or 'all'}; "
            f"back-ends {', '.join(sorted(backends or BACKENDS))}"
        )
    print(f"# End to end: {scope}, against the raw-aiohttp floor")
    print()
    print(f"machine: {machine()}")
    print(
        f"fakes in a separate process, {args.latency * 1000:.0f} ms per vendor call, rate limits "
        f"off; {len(cases)} conversations over "
        f"{len({c.channel for c in cases})} channels; {args.rounds} round(s), medians "
        f"(ratios: median of per-round ratios [min-max]); elapsed "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    cached_requests = sum(lv.cached_requests for lv in levels)
    report_requests(cases, cached_requests)
    print()
    report(levels, server_cpu, args.target_level)
    return 1 if cached_requests else 0


if __name__ == "__main__":
    sys.exit(main())
