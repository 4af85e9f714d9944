"""The reliability suite's summary: faults, hostile inputs, cross-talk, lost or leaked."""

from __future__ import annotations

import pytest

from .tally import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the suite's counts whenever any of its tests ran."""
    counts = (TALLY.faults_tried, TALLY.hostile_tried, TALLY.crosstalk_checks)
    if not any(counts) and not TALLY.ledger_records_checked:
        return
    terminalreporter.section("reliability summary")
    for line in TALLY.summary_lines():
        terminalreporter.write_line(line)
