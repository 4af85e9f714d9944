"""Small helpers shared by the benchmarks (statistics, isolation, formatting)."""

from __future__ import annotations

import math
import os
import platform
import signal
import statistics
import sys
from collections.abc import Sequence
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
