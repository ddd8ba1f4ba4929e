"""Velocity: how many comments one participant, or one client address, sent lately.

Counted in the process, from the comments this replica moderated, rather than read from the
store for every batch: at national scale the store query (comments since five minutes ago by
these authors) cost more than the decision itself. Each replica sees the share of the stream its
consumer is handed, so with N replicas a sender is noticed after up to N times the threshold;
intake's rate limits per participant and per address stay the first defence, and a burst is only
a reason for a person to look. Pure: no I/O, bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

MAX_SENDERS = 100_000
"""Senders remembered at most (a flash crowd of new participants forgets the least recently
active first): some 40 MiB (measured)."""


class Velocity:
    """Per sender key, the comments it sent within ``window`` of its latest ones."""

    def __init__(self, window: timedelta, *, max_senders: int = MAX_SENDERS) -> None:
        self._window = window.total_seconds()
        self._max = max_senders
        self._sent: dict[str, list[tuple[float, str]]] = {}
        """Sender key -> (submitted at, comment id), least recently active sender first."""

    def observe(self, items: Iterable[tuple[str, str, datetime]]) -> dict[str, int]:
        """Record ``(comment id, sender key, submitted at)``; per sender key of ``items``, how many
        comments it sent from ``window`` before the earliest of its items up to now. A comment
        already recorded (a redelivery) is not counted twice."""
        earliest: dict[str, float] = {}
        sent = self._sent
        for comment_id, key, at in items:
            moment = at.timestamp()
            mine = sent.pop(key, None) or []
            sent[key] = mine  # moved to the most recently active end
            if not any(c == comment_id for _, c in mine):
                mine.append((moment, comment_id))
            earliest[key] = min(moment, earliest.get(key, moment))
        counts: dict[str, int] = {}
        for key, first in earliest.items():
            since = first - self._window
            mine = [item for item in sent[key] if item[0] >= since]
            sent[key] = mine
            counts[key] = len(mine)
        while len(sent) > self._max:
            del sent[next(iter(sent))]
        return counts
