"""Velocity: how many comments one participant, or one client address, sent lately.

Counted in the process, from the comments this replica moderated, rather than read from the
store for every batch: at national scale the store query (comments since five minutes ago by
these authors) cost more than the decision itself. Each replica sees the share of the stream its
consumer is handed, so with N replicas a sender is noticed after up to N times the threshold;
intake's rate limits per participant and per address stay the first defence, and a burst is only
a reason for a person to look. Pure: no I/O, bounded memory.

Memory: each sender's recent comments are kept as one flat array of 64-bit integers (submitted
at in microseconds, then the comment id's hash), and a sender idle for two windows past the
newest comment seen is forgotten (its comments could no longer count). A million comments from
98,000 senders in 14 minutes (the national benchmark's shape, one sender per address) held
96 MiB per instance as lists of (time, id) tuples, and hold 31 MiB so.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from datetime import datetime, timedelta

MAX_SENDERS = 100_000
"""Senders remembered at most, whatever their activity (a flash crowd of new participants
forgets the least recently active first)."""

IDLE_WINDOWS = 2
"""A sender whose latest comment is this many windows older than the newest comment seen is
forgotten: only a comment delivered more than a window late could have counted it."""


class Velocity:
    """Per sender key, the comments it sent within ``window`` of its latest ones."""

    def __init__(self, window: timedelta, *, max_senders: int = MAX_SENDERS) -> None:
        self._window = round(window.total_seconds() * 1_000_000)
        self._max = max_senders
        self._sent: dict[str, array[int]] = {}
        """Sender key -> flat pairs (submitted at in µs, hash of the comment id), in the order
        they were seen; least recently active sender first."""
        self._newest = 0
        """The latest submission time seen, in µs."""

    def __len__(self) -> int:
        """Senders remembered now."""
        return len(self._sent)

    def observe(self, items: Iterable[tuple[str, str, datetime]]) -> dict[str, int]:
        """Record ``(comment id, sender key, submitted at)``; per sender key of ``items``, how many
        comments it sent from ``window`` before the earliest of its items up to now. A comment
        already recorded (a redelivery) is not counted twice."""
        earliest: dict[str, int] = {}
        sent = self._sent
        for comment_id, key, at in items:
            moment = round(at.timestamp() * 1_000_000)
            mine = sent.pop(key, None)
            if mine is None:
                mine = array("q")
            sent[key] = mine  # moved to the most recently active end
            tag = hash(comment_id)
            if tag not in mine[1::2]:
                mine.append(moment)
                mine.append(tag)
            earliest[key] = min(moment, earliest.get(key, moment))
            self._newest = max(self._newest, moment)
        counts: dict[str, int] = {}
        for key, first in earliest.items():
            since = first - self._window
            mine = sent[key]
            if min(mine[0::2]) < since:
                kept = array("q")
                for i in range(0, len(mine), 2):
                    if mine[i] >= since:
                        kept.extend(mine[i : i + 2])
                sent[key] = mine = kept
            counts[key] = len(mine) // 2
        self._forget(self._newest - IDLE_WINDOWS * self._window)
        return counts

    def _forget(self, idle_before: int) -> None:
        """Drop the least recently active senders while there are too many, or while the least
        recent of them sent nothing since ``idle_before``."""
        sent = self._sent
        while sent:
            key = next(iter(sent))
            if len(sent) <= self._max and max(sent[key][0::2]) >= idle_before:
                return
            del sent[key]
