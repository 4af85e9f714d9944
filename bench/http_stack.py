"""CPU per request of the HTTP stack the core's design prescribes, against raw aiohttp.

The User Data API runs in a separate process (``_fakes_server.py``, no added
latency for ``c = 1``, ``--latency`` for the concurrent level), and this
process POSTs ``{"identifier": ...}`` to it and reads the JSON answer three
ways, interleaved, the order flipping every round:

  floor: one ``aiohttp.ClientSession`` (no cookie jar, no decompression);
  httpx2: ``httpx2.AsyncClient`` over httpx-aiohttp's ``AiohttpTransport``,
      what an application on the prescribed stack would write;
  liveuser: ``liveuser.HttpClient.request``, which hands an ``httpx2.Request``
      straight to that transport and adds the deadline, the size cap and the
      retry bookkeeping.

Reported at each level: client CPU µs per request (``time.process_time``) and
requests per second, medians over the rounds, each with its ratio to the
floor's (median of the per-round ratios). It says how much of a context's
client CPU, and of the throughput the floor reaches, the HTTP layer takes
before liveuser's own code runs.

    .venv/bin/python bench/http_stack.py [--levels 1,64] [--rounds 7] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx2
from _common import (
    child_server,
    drive,
    exit_on_sigterm,
    isolate_environment,
    machine,
    median,
    spread,
)

from liveuser import HttpClient
from liveuser.sandbox import ANN_EMAIL, SANDBOX_API_KEY

HERE = Path(__file__).resolve().parent
SIDES = ("floor", "httpx2", "liveuser")
LIMIT = 256  # HttpClient's default max_connections


class Sides:
    """The three clients, each with its own pool, sending the same request."""

    def __init__(self, url: str) -> None:
        from httpx_aiohttp.httpx2 import AiohttpTransport

        self.url = url
        self.body = {"identifier": ANN_EMAIL}
        self.headers = {"Authorization": SANDBOX_API_KEY}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=LIMIT),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )
        limits = httpx2.Limits(max_connections=LIMIT, max_keepalive_connections=LIMIT)
        self.client = httpx2.AsyncClient(transport=AiohttpTransport(limits=limits))
        self.http = HttpClient(max_connections=LIMIT)

    def side(self, name: str) -> Callable[[object], Awaitable[None]]:
        return {"floor": self.floor, "httpx2": self.httpx2, "liveuser": self.liveuser}[name]

    async def floor(self, _: object) -> None:
        data = json.dumps(self.body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        async with self.session.post(self.url, data=data, headers=headers) as response:
            self.check(response.status, json.loads(await response.read()))

    async def httpx2(self, _: object) -> None:
        response = await self.client.post(self.url, json=self.body, headers=self.headers)
        self.check(response.status_code, response.json())

    async def liveuser(self, _: object) -> None:
        answer = await self.http.request(
            "user_data_api", "POST", self.url, json=self.body, headers=self.headers, read=True
        )
        self.check(answer.status, answer.json())

    @staticmethod
    def check(status: int, body: object) -> None:
        if status != 200 or not isinstance(body, dict) or body.get("identifier") != ANN_EMAIL:
            raise RuntimeError(f"unexpected answer: HTTP {status}")

    async def aclose(self) -> None:
        await self.session.close()
        await self.client.aclose()
        await self.http.aclose()


async def measure(
    url: str, concurrency: int, rounds: int, count: int
) -> dict[str, list[tuple[float, float]]]:
    """(CPU µs per request, requests per second) of each side, one pair per round."""
    sides = Sides(url)
    cpu: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
    try:
        for side in SIDES:  # open the pools and warm up
            await drive(range(max(concurrency, 20)), concurrency, sides.side(side))
        for r in range(rounds):
            for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                run = await drive(range(count), concurrency, sides.side(side))
                cpu[side].append((run.cpu / count * 1e6, run.throughput))
            print(
                f"  c={concurrency} round {r + 1}/{rounds}: "
                + ", ".join(f"{s} {cpu[s][-1][0]:.0f}" for s in SIDES)
                + " µs CPU",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await sides.aclose()
    return cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=400, help="per side and round")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds, for c > 1")
    args = parser.parse_args()
    isolate_environment()
    exit_on_sigterm()
    levels = [int(c) for c in args.levels.split(",")]
    results: dict[int, dict[str, list[tuple[float, float]]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="liveuser-bench-") as tmp:
        for c in levels:
            latency = 0.0 if c == 1 else args.latency
            script = [str(HERE / "_fakes_server.py"), "--latency", str(latency)]
            with child_server(script, "FAKES", cwd=Path(tmp)) as (line, _):
                url = json.loads(line)["user_data_api"] + "/user-data"
                results[c] = asyncio.run(measure(url, c, args.rounds, args.requests))
    print("# The HTTP stack: CPU per request against raw aiohttp")
    print()
    print(f"machine: {machine()}")
    print(
        f"User Data API in a separate process; {args.requests} POSTs per side and round, "
        f"{args.rounds} rounds; c = 1 without added latency, higher levels with "
        f"{args.latency * 1000:.0f} ms; medians [min-max]; elapsed "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print("| conc | side | CPU µs/request | [min-max] | × floor | requests/s | × floor |")
    print("|---:|---|---:|---|---:|---:|---:|")
    for c, runs in results.items():
        floor = runs["floor"]
        for side in SIDES:
            cpu = [r[0] for r in runs[side]]
            rate = [r[1] for r in runs[side]]
            cpu_ratio = [r[0] / f[0] for r, f in zip(runs[side], floor, strict=True)]
            rate_ratio = [r[1] / f[1] for r, f in zip(runs[side], floor, strict=True)]
            print(
                f"| {c} | {side} | {median(cpu):.0f} | {spread(cpu, '{:.0f}')} "
                f"| {median(cpu_ratio):.2f} | {median(rate):.0f} | {median(rate_ratio):.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
