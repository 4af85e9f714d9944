"""The reliability suite's running counts, printed once at the end of the run.

Each part of the suite adds what it tried and what held; ``conftest.py``
prints the totals in pytest's terminal summary. The "lost or leaked" side
(faults not survived, hostile inputs not refused, leaks, lost records) must
read zero; the tests themselves assert it, the summary shows it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    faults_tried: Counter[str] = field(default_factory=Counter)
    """Faults tried, by target (a connector's channel or a back-end)."""
    faults_survived: Counter[str] = field(default_factory=Counter)
    hostile_tried: Counter[str] = field(default_factory=Counter)
    """Hostile inputs tried, by kind (webhook, jwt, ...)."""
    hostile_refused: Counter[str] = field(default_factory=Counter)
    crosstalk_checks: int = 0
    """Contexts and tool results checked to hold only their own user's data."""
    leaked: int = 0
    """Contexts, results or refusals that held another user's data."""
    ledger_records_checked: int = 0
    lost: int = 0
    """Committed ledger records lost, or turns charged twice."""

    def summary_lines(self) -> list[str]:
        tried, survived = self.faults_tried.total(), self.faults_survived.total()
        hostile, refused = self.hostile_tried.total(), self.hostile_refused.total()
        lines = []
        for target in sorted(self.faults_tried):
            lines.append(
                f"  faults on {target}: tried {self.faults_tried[target]}, "
                f"survived {self.faults_survived[target]}"
            )
        lines.append(f"faults tried {tried}, survived {survived}")
        for kind in sorted(self.hostile_tried):
            lines.append(
                f"  hostile {kind}: tried {self.hostile_tried[kind]}, "
                f"refused {self.hostile_refused[kind]}"
            )
        lines.append(f"hostile inputs tried {hostile}, refused {refused}")
        lines.append(f"cross-talk checks {self.crosstalk_checks}, leaked {self.leaked}")
        lines.append(f"ledger records checked {self.ledger_records_checked}, lost {self.lost}")
        not_survived, not_refused = tried - survived, hostile - refused
        lines.append(
            f"lost or leaked: faults not survived {not_survived}, hostile inputs not refused "
            f"{not_refused}, leaked {self.leaked}, lost {self.lost}"
        )
        return lines


TALLY = Tally()
