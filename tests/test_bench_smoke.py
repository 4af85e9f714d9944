"""The benchmarks still run: ``bash bench/run --smoke`` end to end, in a small mode.

Not a timed test: it checks that every connector's conversations verify and
fetch through the benchmark's workload, that the floor replays them, that a
cached turn sends no request, and that every table is printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_every_benchmark(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    env["PYTHON"] = sys.executable
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "run"), "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "requests on cached turns, all levels: 0 -> MET" in out
    # Every connector verifies in no more requests than its vendor's API allows.
    assert "cold contexts at or under the vendors' minimum: MET;" in out
    for channel in (
        "| host |",
        "| zendesk_ticket |",
        "| intercom |",
        "| freshdesk |",
        "| hubspot_email |",
    ):
        assert channel in out
    for table in ("Throughput and latency", "Framework CPU per context", "Start-up and memory"):
        assert table in out
    assert "Traceback" not in done.stderr
