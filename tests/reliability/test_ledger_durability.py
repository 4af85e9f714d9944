"""Metering loses nothing: many processes on one SQLite ledger, and a SIGKILL mid-stream."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from liveuser.metering import Ledger

from .tally import TALLY

pytestmark = pytest.mark.reliability

CORE = Path(__file__).resolve().parents[2] / "core"
KEY = bytes(range(32))
PRICE = Decimal("0.02")
WRITERS = 4
MESSAGES = 25  # per writer, plus as many shared ones

# Each child records, one after the other: per message, a context (tool_call_id "")
# and a tool result, both over the charge threshold, then prints the key once
# record() has returned. Messages "own-<n>-<i>" are its own; "shared-<i>" are
# recorded by every child, identically (a retried turn in another worker).
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from liveuser.metering import Ledger

    async def main() -> None:
        path, key, name, count, start = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], \
            int(sys.argv[4]), int(sys.argv[5])
        async with Ledger(path, key, busy_timeout=30.0) as led:
            index = start
            while count < 0 or index < start + count:
                messages = [f"{name}-{index}"] if name == "shared" else [
                    f"own-{name}-{index}", f"shared-{index}"
                ]
                for message in messages:
                    for call, chars in (("", 1600), ("call", 2000)):
                        await led.record(
                            tenant="acme", conversation_id="c-" + message, message_id=message,
                            tool_call_id=call, channel="host", chars=chars,
                            sources=["user_data_api"], identity="ann@example.com",
                        )
                        sys.stdout.write(f"{message}|{call}\\n")
                        sys.stdout.flush()
                index += 1

    asyncio.run(main())
    """
)


def _env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")},
        "PYTHONPATH": str(CORE),
    }


def _writer(db: Path, name: str, count: int, start: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            WRITER,
            str(db),
            KEY.hex(),
            name,
            str(count),
            str(start),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(db: Path) -> list[tuple[str, str, int, int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT message_id, tool_call_id, chars, charged, amount FROM deliveries"
        ).fetchall()


def _check_charges(rows: list[tuple[str, str, int, int, str]]) -> None:
    """Every key once; every message charged exactly once (all are over the threshold)."""
    keys = [(m, c) for m, c, *_ in rows]
    assert len(keys) == len(set(keys)), "a delivery was recorded twice"
    charged: dict[str, int] = {}
    for message, _call, _chars, was_charged, amount in rows:
        charged[message] = charged.get(message, 0) + was_charged
        assert Decimal(amount) == (PRICE if was_charged else Decimal(0))
    assert all(n == 1 for n in charged.values()), {m: n for m, n in charged.items() if n != 1}


async def test_concurrent_processes_record_every_delivery_once(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    async with Ledger(db, KEY):  # create the schema first, as a deployment does
        pass
    writers = [_writer(db, f"w{n}", MESSAGES) for n in range(WRITERS)]
    for proc in writers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert len(out.splitlines()) == MESSAGES * 4

    rows = _rows(db)
    TALLY.ledger_records_checked += len(rows)
    expected = {
        (f"own-w{n}-{i}", call)
        for n in range(WRITERS)
        for i in range(MESSAGES)
        for call in ("", "call")
    } | {(f"shared-{i}", call) for i in range(MESSAGES) for call in ("", "call")}
    assert {(m, c) for m, c, *_ in rows} == expected
    _check_charges(rows)
    messages = WRITERS * MESSAGES + MESSAGES
    async with Ledger(db, KEY) as led:
        assert await led.month_spend("acme") == messages * PRICE
        [day] = await led.usage("acme")
        assert (day.deliveries, day.messages, day.charged_messages) == (
            2 * messages,
            messages,
            messages,
        )


def _read_until(proc: subprocess.Popen[str], wanted: int, timeout: float) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    stop = time.monotonic() + timeout
    while len(lines) < wanted and time.monotonic() < stop:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


async def test_sigkill_mid_stream_loses_no_returned_record_and_retry_charges_nothing_twice(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.sqlite3"
    async with Ledger(db, KEY):
        pass
    # A competing writer keeps the file busy while the victim is killed.
    rival = _writer(db, "shared", -1, start=10_000)
    victim = _writer(db, "shared", -1)
    try:
        acknowledged = _read_until(victim, 120, timeout=30)
        assert len(acknowledged) >= 40, "the writer did not get going"
        victim.send_signal(signal.SIGKILL)
        assert victim.stdout is not None
        acknowledged += victim.stdout.read().splitlines()  # lines flushed before the kill
        victim.wait(10)
    finally:
        for proc in (victim, rival):
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)
    assert victim.returncode == -signal.SIGKILL

    recorded = {f"{m}|{c}" for m, c, *_ in _rows(db)}
    lost = [key for key in acknowledged if key not in recorded]
    TALLY.ledger_records_checked += len(acknowledged)
    TALLY.lost += len(lost)
    assert not lost, f"acknowledged but lost after SIGKILL: {lost[:5]}"
    _check_charges(_rows(db))

    # Restart: the same keys are retried (every acknowledged one and a few beyond).
    last = max(int(key.split("|")[0].split("-")[1]) for key in acknowledged)
    retry = _writer(db, "shared", last + 5)
    out, err = retry.communicate(timeout=60)
    assert retry.returncode == 0, err
    assert set(acknowledged) <= set(out.splitlines())  # every acknowledged key was retried
    rows = _rows(db)
    _check_charges(rows)
    messages = {m for m, *_ in rows}
    assert {f"shared-{i}" for i in range(last + 5)} <= messages
    async with Ledger(db, KEY) as led:
        assert await led.month_spend("acme") == len(messages) * PRICE
