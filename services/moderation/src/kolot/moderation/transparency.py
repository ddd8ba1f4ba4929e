"""A campaign's transparency report: what moderation did, in numbers anyone may read.

Decisions by reason, automatic against human, appeal outcomes, and the median time from
submission to the decision that stands (automatic decisions take well under a second; what
waits for a person shows in the human median). Nothing personal: counts and durations only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel

from kolot.common.store import Document
from kolot.moderation.models import AppealRecord


class FormLetter(BaseModel):
    """A cluster of copies: the published text that stands for it and how many sent it."""

    cluster_id: str
    size: int
    text: str
    language: str


class TransparencyReport(BaseModel):
    campaign_id: str
    comments: int
    by_status: dict[str, int]
    """published (approved), rejected, pending."""
    by_reason: dict[str, int]
    """Reasons of the decisions that stand (a comment may carry several)."""
    automatic: int
    """Decisions that stand and were taken by the machine."""
    human: int
    overturned_automatic: int
    """Automatic decisions a person changed."""
    hidden_by_flags: int
    form_letter_copies: int
    """Comments published through their cluster (one form letter, counted once in public)."""
    appeals: dict[str, int]
    """open, upheld, overturned."""
    median_seconds_to_decision: float | None
    median_seconds_to_human_decision: float | None
    form_letters: list[FormLetter] = []
    """The largest clusters (mass comment campaigns), largest first."""


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def build_report(
    campaign_id: str,
    comments: Sequence[Document],
    appeals: Sequence[AppealRecord],
    form_letters: Sequence[FormLetter] = (),
) -> TransparencyReport:
    status_names = {"approved": "published", "rejected": "rejected", "pending": "pending"}
    by_status: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    automatic = human = overturned = hidden = copies = 0
    waits: list[float] = []
    human_waits: list[float] = []
    for doc in comments:
        status = str(doc.get("status", "pending"))
        by_status[status_names.get(status, status)] += 1
        if status != "pending":
            by_reason.update(doc.get("reasons", []))
        if doc.get("decided_by") == "human":
            human += 1
            if doc.get("automatic", {}).get("decision") != doc.get("decision", status):
                overturned += 1
        elif status != "pending":
            automatic += 1
        hidden += bool(doc.get("hidden_by_flags"))
        copies += bool(doc.get("absorbed"))
        submitted, decided = _moment(doc.get("submitted_at")), _moment(doc.get("decided_at"))
        if status != "pending" and submitted is not None and decided is not None:
            wait = max((decided - submitted).total_seconds(), 0.0)
            waits.append(wait)
            if doc.get("decided_by") == "human":
                human_waits.append(wait)
    outcomes: Counter[str] = Counter(a.outcome or "open" for a in appeals)
    return TransparencyReport(
        campaign_id=campaign_id,
        comments=len(comments),
        by_status=dict(by_status),
        by_reason=dict(by_reason),
        automatic=automatic,
        human=human,
        overturned_automatic=overturned,
        hidden_by_flags=hidden,
        form_letter_copies=copies,
        appeals={k: outcomes.get(k, 0) for k in ("open", "upheld", "overturned")},
        median_seconds_to_decision=round(statistics.median(waits), 3) if waits else None,
        median_seconds_to_human_decision=(
            round(statistics.median(human_waits), 3) if human_waits else None
        ),
        form_letters=list(form_letters),
    )
