"""Early warning: per campaign, sliding windows of submissions, rejections and flags compared
with the campaign's own recent baseline.

A surge is raised when the last ``WINDOW`` holds several times what the baseline predicts for
a window of that length (and more than a floor, so a quiet campaign's third comment is not a
crisis); it is cleared, with hysteresis, once the window falls back under ``CLEAR_FACTOR`` times
the baseline. Counts are read from the stored comments and flags (by their own times), so a
redelivered event or a replay changes no count. Pure: the service feeds it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

SurgeKind = Literal["abuse_surge", "flag_surge", "submission_surge"]
Severity = Literal["info", "warning", "critical"]

WINDOW = timedelta(minutes=10)
BASELINE = timedelta(hours=6)
"""The stretch before the window whose average rate is the baseline."""
WARNING_FACTOR = 3.0
CRITICAL_FACTOR = 6.0
CLEAR_FACTOR = 1.5
FLOORS: dict[SurgeKind, int] = {"submission_surge": 50, "abuse_surge": 8, "flag_surge": 8}
"""The least a window must hold to be a surge at all."""


@dataclass(frozen=True, slots=True)
class Counts:
    window: int
    before: int
    """In the ``BASELINE`` stretch before the window."""

    @property
    def baseline(self) -> float:
        """What one window would hold at the baseline's rate."""
        return self.before * (WINDOW / BASELINE)


@dataclass(frozen=True, slots=True)
class Verdict:
    severity: Severity | None
    """None: no surge (or it subsided)."""
    observed: float
    baseline: float


def assess(kind: SurgeKind, counts: Counts, *, raised: Severity | None) -> Verdict:
    """Whether ``counts`` are a surge; ``raised``: the severity already raised, if any."""
    baseline = counts.baseline
    expected = max(baseline, FLOORS[kind] / WARNING_FACTOR)
    observed = float(counts.window)
    severity: Severity | None = None
    if observed >= FLOORS[kind]:
        if observed >= CRITICAL_FACTOR * expected:
            severity = "critical"
        elif observed >= WARNING_FACTOR * expected:
            severity = "warning"
    if severity is None and raised is not None and observed > CLEAR_FACTOR * expected:
        severity = raised  # not subsided enough to clear: it stays
    return Verdict(severity, observed, round(baseline, 2))


MESSAGES: dict[SurgeKind, str] = {
    "submission_surge": "{observed:.0f} comments in {minutes} minutes, against about "
    "{baseline:.1f} usually: a mobilisation, or a bot",
    "abuse_surge": "{observed:.0f} comments rejected as abuse, hate or threats in {minutes} "
    "minutes, against about {baseline:.1f} usually: the discussion may be turning hostile",
    "flag_surge": "{observed:.0f} flags in {minutes} minutes, against about {baseline:.1f} "
    "usually: participants are reporting a problem",
}


def message(kind: SurgeKind, verdict: Verdict) -> str:
    return MESSAGES[kind].format(
        observed=verdict.observed,
        baseline=verdict.baseline,
        minutes=int(WINDOW.total_seconds() // 60),
    )
