"""Start-up time and memory per 1,000 live conversations.

* **Start-up**: wall time of a fresh interpreter running ``import liveuser``,
  and ``import liveuser`` plus building the default tenant (which discovers,
  imports and builds every installed plugin through its entry point), each
  minus a bare interpreter's start, median of ``--runs`` alternating runs.
  Target: <= 300 ms. Beside them, the floor of the chosen dependencies: one
  pydantic-settings class read from the environment, pluggy and the entry-point
  scan, nothing of liveuser's. Each case runs once untimed first with bytecode
  writing on, so the timed runs load compiled modules as an installed package
  does (``PYTHONDONTWRITEBYTECODE`` would otherwise recompile every edited file).
* **Memory**: ``--conversations`` distinct host-channel conversations, each
  with its own verified user, get a context through one pipeline with the
  cache on (so each stays live: its verification and its data are held in
  the tenant's caches), against an in-process stub of the User Data API and
  a real SQLite ledger. Reported per 1,000 conversations: the growth of
  Python's traced memory (``tracemalloc``: current after the run and peak
  during it) and of the process's resident set. Target: <= 50 MB.

    .venv/bin/python bench/footprint.py [--runs 9] [--conversations 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx2
from _common import HOST_KEY, HOST_SECRET, isolate_environment, machine, median, spread, verdict
from framework_cpu import conversations, handler, settings_for

from liveuser import Channel, Conversation, HttpClient, Ledger, Pipeline, Registry
from liveuser.tokens import KeyRing, Purpose, mint_token

TARGET_STARTUP_MS = 300
TARGET_MB_PER_1000 = 50
KEYS = KeyRing({HOST_KEY: HOST_SECRET})

BARE = "bare interpreter"
FLOOR = "floor: the dependencies alone (pydantic-settings, pluggy, entry points)"
STARTUP = {
    BARE: "pass",
    FLOOR: (
        "import importlib.metadata, pluggy, pydantic_settings\n"
        "class S(pydantic_settings.BaseSettings):\n"
        "    x: int = 1\n"
        "S(); importlib.metadata.entry_points(group='liveuser')"
    ),
    "import liveuser": "import liveuser",
    "import liveuser + load every plugin": (
        "import liveuser; r = liveuser.Registry(liveuser.Settings()); r.tenant()"
    ),
}


def startup(runs: int, cwd: Path) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for code in STARTUP.values():  # untimed: leaves every module's bytecode current
        subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, env=env)
    times: dict[str, list[float]] = {name: [] for name in STARTUP}
    for _ in range(runs):
        for name, code in STARTUP.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, env=env)
            times[name].append(time.perf_counter() - started)
    return times


async def live_conversations(count: int, workdir: Path) -> tuple[float, float, float]:
    """(traced bytes held, traced peak, RSS growth) for ``count`` live conversations."""
    settings = settings_for(workdir / "ledger.sqlite3", cache_ttl=3600)
    ledger = await Ledger.open(settings.ledger, secrets.token_bytes(32))
    registry = Registry(settings, http=HttpClient(httpx2.MockTransport(handler)), discover=False)
    pipeline = Pipeline(registry, ledger)
    live = conversations(count, "footprint")
    warm = Conversation(
        channel=Channel.host,
        conversation_id="warm",
        claims={
            "token": mint_token(KEYS, tenant="default", purpose=Purpose.identity, subject="w@x.io")
        },
    )
    try:
        await pipeline.context_for(warm, "m0")  # tenant, templates, connections built
        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        for i, conversation in enumerate(live):
            context = await pipeline.context_for(conversation, f"m{i}")
            if not context.verified or context.missing:
                raise RuntimeError(f"context not assembled: {context.refusal or context.missing}")
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return current - before, peak - before, rss_after - rss_before
    finally:
        await registry.aclose()
        await ledger.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--conversations", type=int, default=5000)
    args = parser.parse_args()
    isolate_environment()

    with tempfile.TemporaryDirectory(prefix="liveuser-bench-") as tmp:
        workdir = Path(tmp)
        times = startup(args.runs, workdir)
        held, peak, rss = asyncio.run(live_conversations(args.conversations, workdir))

    print("# Start-up and memory")
    print()
    print(f"machine: {machine()}")
    print()
    bare = times[BARE]
    print(f"| start-up ({args.runs} runs) | median ms | [min-max] | minus bare interpreter, ms |")
    print("|---|---:|---|---:|")
    extra: dict[str, float] = {}
    for name, values in times.items():
        extra[name] = median([v - b for v, b in zip(values, bare, strict=True)]) * 1e3
        print(
            f"| {name} | {median(values) * 1e3:.0f} | {spread(values, '{:.3f}')} s "
            f"| {'-' if name == BARE else f'{extra[name]:.0f}'} |"
        )
    print()
    worst = max(v for k, v in extra.items() if k not in (BARE, FLOOR))
    print(
        f"start-up <= {TARGET_STARTUP_MS} ms: {worst:.0f} ms -> "
        f"{verdict(worst <= TARGET_STARTUP_MS)}"
    )
    print(
        f"of which the dependencies' floor: {extra[FLOOR]:.0f} ms; liveuser and its plugins "
        f"above it: {worst - extra[FLOOR]:.0f} ms"
    )
    print()
    per = 1000 / args.conversations / 2**20
    print(f"| {args.conversations} live conversations, per 1,000 | MB |")
    print("|---|---:|")
    print(f"| Python objects held (tracemalloc, after the run) | {held * per:.2f} |")
    print(f"| Python objects, peak during the run (tracemalloc) | {peak * per:.2f} |")
    print(f"| resident set growth (ru_maxrss) | {rss * per:.2f} |")
    print()
    worst_mb = max(held, peak, rss) * per
    print(
        f"memory <= {TARGET_MB_PER_1000} MB per 1,000 live conversations: {worst_mb:.2f} MB -> "
        f"{verdict(worst_mb <= TARGET_MB_PER_1000)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
