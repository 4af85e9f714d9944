"""Context assembly over real HTTP, against the raw-aiohttp floor, at 1, 8 and 64 conversations.

The sandbox User Data API (``create_user_data_api(latency=0.05)``) runs under
uvicorn in a separate process (``bench/_sandbox_server.py``), so it does not
share this process's GIL. For each concurrency level ``c`` and each round:

* **floor** - one ``aiohttp.ClientSession`` (``TCPConnector(limit=256)``, the
  same connection limit as :class:`liveuser.HttpClient`) POSTs the same JSON body
  with the same ``Authorization`` header, ``c`` at a time, and reads and
  decodes the answer;
* **liveuser** - ``Pipeline.context_for`` on host-channel conversations: verify
  the identity token, fetch through the user_data_api back-end, render, and
  meter into a real SQLite ledger (temp file). ``cache_ttl_seconds=0`` and a
  distinct user and conversation per context, so every context really fetches.

Floor and liveuser runs alternate (which goes first flips every round); each
measured run is preceded by an untimed warm-up of ``c`` requests so both start
with open keep-alive connections. Figures are the median over the rounds;
ratios are the median of the per-round ratios (each round pairs runs made
seconds apart on the same noisy machine).

    .venv/bin/python bench/context_assembly.py [--rounds 5] [--levels 1,8,64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _common import (
    HOST_KEY,
    HOST_SECRET,
    exit_on_sigterm,
    isolate_environment,
    machine,
    median,
    percentile,
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
from liveuser.sandbox import SANDBOX_API_KEY
from liveuser.tokens import KeyRing, Purpose, mint_token

HERE = Path(__file__).resolve().parent
CONNECTION_LIMIT = 256  # liveuser.HttpClient's default max_connections
DEFAULT_TOTALS = {1: 48, 8: 8 * 32, 64: 64 * 16}
TARGET_THROUGHPUT = 0.9  # liveuser >= 0.9 x floor at 64 concurrent
TARGET_P99 = 1.3  # liveuser p99 <= 1.3 x floor p99 at 64 concurrent
TARGET_LEVEL = 64
KEYS = KeyRing({HOST_KEY: HOST_SECRET})


def bench_email(index: int) -> str:  # the same addresses _sandbox_server.py seeds
    return f"bench-{index}@example.com"


# --------------------------------------------------------------------------- the server process


@contextlib.contextmanager
def sandbox_server(
    latency: float, users: int, startup_timeout: float = 20.0
) -> Iterator[tuple[str, int]]:
    """Start ``_sandbox_server.py`` in a subprocess; yield (its URL, its pid); always stop it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_sandbox_server.py"),
            "--latency",
            str(latency),
            "--users",
            str(users),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=tempfile.gettempdir(),
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"the sandbox server did not start (exit code {proc.poll()})")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 1)
                if not chunk:
                    raise RuntimeError("the sandbox server closed its output before its port")
                line += chunk
        word, _, port = line.decode().strip().partition(" ")
        if word != "PORT" or not port.isdigit():
            raise RuntimeError(f"the sandbox server said {line!r}, not its port")
        yield f"http://127.0.0.1:{port}/user-data", proc.pid
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # EOF on stdin: the server shuts down gracefully
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- one measured run


@dataclass
class Run:
    count: int
    wall: float
    cpu: float  # this (client) process's CPU seconds over the run
    latencies: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.count / self.wall

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


async def drive(
    items: Sequence[object], concurrency: int, one: Callable[[object], Awaitable[None]]
) -> Run:
    """Run ``one`` over ``items`` with ``concurrency`` workers (closed loop)."""
    latencies: list[float] = []
    it = iter(items)
    clock = time.perf_counter

    async def worker() -> None:
        for item in it:  # a shared iterator: each item is taken once
            started = clock()
            await one(item)
            latencies.append(clock() - started)

    cpu0, wall0 = time.process_time(), clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = clock() - wall0, time.process_time() - cpu0
    return Run(count=len(items), wall=wall, cpu=cpu, latencies=latencies)


class Floor:
    """Raw aiohttp: the same POST, same body and header, same connection limit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"Authorization": SANDBOX_API_KEY}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, keepalive_timeout=5.0)
        )

    async def one(self, email: object) -> None:
        async with self.session.post(
            self.url, json={"identifier": email}, headers=self.headers
        ) as response:
            body = json.loads(await response.read())
        if response.status != 200 or body.get("identifier") != email:
            raise RuntimeError(f"floor: HTTP {response.status} for {email}")

    async def aclose(self) -> None:
        await self.session.close()


class Liveuser:
    """``Pipeline.context_for`` on host conversations, with a real ledger."""

    def __init__(self, url: str, ledger: Ledger) -> None:
        settings = Settings(
            ledger=Path(ledger.path),
            tenants={
                "default": TenantSettings(
                    host_keys={HOST_KEY: HOST_SECRET},
                    cache_ttl_seconds=0,
                    plugins={"user_data_api": {"url": url, "api_key": SANDBOX_API_KEY}},
                )
            },
        )
        self.registry = Registry(
            settings, http=HttpClient(max_connections=CONNECTION_LIMIT), discover=False
        )
        self.pipeline = Pipeline(self.registry, ledger)
        self.serial = 0

    def conversations(self, count: int, first_user: int) -> list[Conversation]:
        """Fresh conversations with freshly minted tokens (untimed: that is the host's work)."""
        self.serial += 1
        return [
            Conversation(
                tenant="default",
                channel=Channel.host,
                conversation_id=f"bench-{self.serial}-{i}",
                claims={
                    "token": mint_token(
                        KEYS,
                        tenant="default",
                        purpose=Purpose.identity,
                        subject=bench_email(first_user + i),
                    )
                },
            )
            for i in range(count)
        ]

    async def one(self, conversation: object) -> None:
        assert isinstance(conversation, Conversation)
        context = await self.pipeline.context_for(conversation, "m1")
        if not context.verified or context.missing or context.sources != ("user_data_api",):
            raise RuntimeError(
                f"liveuser: context not assembled: refusal={context.refusal!r} "
                f"missing={context.missing!r}"
            )

    async def aclose(self) -> None:
        await self.registry.aclose()


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Level:
    concurrency: int
    total: int
    floor: list[Run] = field(default_factory=list)
    liveuser: list[Run] = field(default_factory=list)


async def measure(
    url: str, server_pid: int, levels: list[Level], rounds: int, workdir: Path
) -> dict[str, float]:
    ledger = await Ledger.open(workdir / "ledger.sqlite3", secrets.token_bytes(32))
    floor = Floor(url)
    live = Liveuser(url, ledger)
    server_cpu = {"floor": 0.0, "liveuser": 0.0}
    try:
        for round_ in range(rounds):
            for level in levels:
                c, n = level.concurrency, level.total
                emails = [bench_email(i) for i in range(n)]
                order = ["floor", "liveuser"] if round_ % 2 == 0 else ["liveuser", "floor"]
                for side in order:
                    if side == "floor":
                        await drive(emails[:c], c, floor.one)  # warm-up: open c connections
                        s0 = process_cpu_seconds(server_pid)
                        level.floor.append(await drive(emails, c, floor.one))
                    else:
                        await drive(live.conversations(c, n), c, live.one)  # warm-up
                        conversations = live.conversations(n, 0)
                        s0 = process_cpu_seconds(server_pid)
                        level.liveuser.append(await drive(conversations, c, live.one))
                    server_cpu[side] += process_cpu_seconds(server_pid) - s0
            done = levels[-1]
            print(
                f"  round {round_ + 1}/{rounds}: c={done.concurrency} "
                f"floor {done.floor[-1].throughput:.0f}/s, "
                f"liveuser {done.liveuser[-1].throughput:.0f}/s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await live.aclose()
        await floor.aclose()
        await ledger.aclose()
    return server_cpu


def report(
    levels: list[Level], rounds: int, latency: float, server_cpu: dict[str, float], elapsed: float
) -> bool:
    print("# Context assembly: liveuser vs raw aiohttp floor")
    print(f"machine: {machine()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    print(
        f"sandbox latency {latency * 1000:.0f} ms, uvicorn in a separate process; "
        f"{rounds} rounds, medians (ratio: median of per-round ratios, [min-max])"
    )
    print()
    print(
        "| conc | N | floor ctx/s | liveuser ctx/s | thr ratio [min-max] | floor p50 ms | "
        "liveuser p50 ms | floor p99 ms | liveuser p99 ms | p99 ratio [min-max] | "
        "client CPU µs/req floor | client CPU µs/ctx liveuser |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|")
    met = True
    for level in levels:
        f, lu = level.floor, level.liveuser
        thr = [b.throughput / a.throughput for a, b in zip(f, lu, strict=True)]
        p99 = [b.p99 / a.p99 for a, b in zip(f, lu, strict=True)]
        print(
            f"| {level.concurrency} | {level.total} "
            f"| {median([r.throughput for r in f]):.0f} "
            f"| {median([r.throughput for r in lu]):.0f} "
            f"| {median(thr):.3f} [{spread(thr, '{:.2f}')}] "
            f"| {median([r.p50 for r in f]) * 1e3:.1f} "
            f"| {median([r.p50 for r in lu]) * 1e3:.1f} "
            f"| {median([r.p99 for r in f]) * 1e3:.1f} "
            f"| {median([r.p99 for r in lu]) * 1e3:.1f} "
            f"| {median(p99):.3f} [{spread(p99, '{:.2f}')}] "
            f"| {median([r.cpu / r.count for r in f]) * 1e6:.0f} "
            f"| {median([r.cpu / r.count for r in lu]) * 1e6:.0f} |"
        )
        if level.concurrency == TARGET_LEVEL:
            ok_thr = median(thr) >= TARGET_THROUGHPUT
            ok_p99 = median(p99) <= TARGET_P99
            met = ok_thr and ok_p99
    print()
    target = next((lv for lv in levels if lv.concurrency == TARGET_LEVEL), None)
    if target is None:
        print(f"targets: not evaluated (level {TARGET_LEVEL} not run)")
    else:
        f, lu = target.floor, target.liveuser
        thr = median([b.throughput / a.throughput for a, b in zip(f, lu, strict=True)])
        p99 = median([b.p99 / a.p99 for a, b in zip(f, lu, strict=True)])
        print(
            f"target @{TARGET_LEVEL}: throughput >= {TARGET_THROUGHPUT}x floor: "
            f"{thr:.3f}x -> {verdict(thr >= TARGET_THROUGHPUT)}"
        )
        print(
            f"target @{TARGET_LEVEL}: p99 <= {TARGET_P99}x floor p99: "
            f"{p99:.3f}x -> {verdict(p99 <= TARGET_P99)}"
        )
    total = {side: sum(r.count for lv in levels for r in getattr(lv, side)) for side in server_cpu}
    print(
        "server process CPU µs/request (all levels): "
        + ", ".join(f"{side} {server_cpu[side] / total[side] * 1e6:.0f}" for side in server_cpu)
    )
    print(f"elapsed: {elapsed:.1f} s")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--levels", default="1,8,64", help="comma-separated concurrency levels")
    parser.add_argument(
        "--total",
        type=int,
        default=None,
        help="contexts per run at every level (default: 48, 256, 1024 for 1, 8, 64)",
    )
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    isolate_environment()
    exit_on_sigterm()
    levels = []
    for text in args.levels.split(","):
        c = int(text)
        total = args.total or DEFAULT_TOTALS.get(c, c * 16)
        levels.append(Level(concurrency=c, total=max(total, c)))
    users = max(level.total + level.concurrency for level in levels)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="liveuser-bench-") as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # no liveuser.toml of the developer's is read
        with sandbox_server(args.latency, users) as (url, pid):
            server_cpu = asyncio.run(measure(url, pid, levels, args.rounds, workdir))
        os.chdir(HERE)
    report(levels, args.rounds, args.latency, server_cpu, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
