"""Small helpers shared by the benchmarks (statistics, isolation, formatting)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST_KEY = "k1"
HOST_SECRET = "bench-tenant-host-secret-0123456789abcdefghij"


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so ``finally`` blocks close clients, ledgers and the server."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def isolate_environment() -> None:
    """No benchmark reads the developer's LIVEUSER_* variables (liveuser.toml: run in a tmp cwd)."""
    for name in list(os.environ):
        if name.startswith("LIVEUSER_"):
            del os.environ[name]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0..100) by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``min-max`` of the rounds, to show how noisy the median is."""
    if not values:
        return "-"
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def machine() -> str:
    import liveuser

    return (
        f"nproc={os.cpu_count()} python={platform.python_version()} "
        f"({platform.python_implementation()}) {platform.system()} {platform.machine()} "
        f"executable={sys.executable} liveuser={Path(liveuser.__file__).parent}"
    )


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def child_server(
    argv: Sequence[str], word: str, *, cwd: Path, startup_timeout: float = 30.0
) -> Iterator[tuple[str, int]]:
    """Run ``python argv`` until it prints ``<word> <rest>``; yield (rest, its pid); stop it.

    The child serves until its standard input reaches end of file, which is
    how it is stopped (SIGTERM, then SIGKILL, if it lingers).
    """
    proc = subprocess.Popen(
        [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} did not start (exit code {proc.poll()})")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"{argv[0]} closed its output before saying {word}")
                line += chunk
        said, _, rest = line.decode().strip().partition(" ")
        if said != word:
            raise RuntimeError(f"{argv[0]} said {line!r}, not {word}")
        yield rest, proc.pid
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
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


@dataclass
class Run:
    """One timed run: ``count`` items by a closed loop of workers."""

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
