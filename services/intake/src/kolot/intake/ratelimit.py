"""Rate limits at the edge: per participant and per client address, in this replica's memory.

The generic cell rate algorithm (GCRA): each key keeps one number, the theoretical arrival time
of its next request. A request is allowed while that time is at most ``burst`` intervals ahead of
now; otherwise the answer says how long to wait. One float per active key, no timers, no store
round trip, so it costs nothing on the hot path; keys idle for longer than a full burst are
swept lazily.

Limits hold per replica (documented in docs/decisions.md): with N replicas behind a load balancer
a client may make up to N times the rate. Operators set the per-replica rate accordingly; a
flash crowd spread over replicas is exactly what should get through.

Why not a library: ``limits``' in-memory storage wakes a thread every 10 ms that walks every key,
which is ruinous with a million participants' keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_minute`` requests a minute on average, with bursts of up to ``burst``."""

    per_minute: float
    burst: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute


class RateLimiter:
    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys
        self._clock = clock
        self._next_sweep = 0.0

    def check(self, key: str, cost: int = 1) -> float:
        """Records a request; returns 0 if allowed, else the seconds to wait before retrying."""
        now = self._clock()
        interval = self.rate.interval
        tat = max(self._tat.get(key, now), now)
        allowed_at = tat + interval * cost - interval * self.rate.burst
        if allowed_at > now:
            return allowed_at - now
        self._tat[key] = tat + interval * cost
        if len(self._tat) > self._max_keys or now >= self._next_sweep:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        # a key whose theoretical arrival time has passed is back to a full burst: forget it
        self._tat = {k: t for k, t in self._tat.items() if t > now}
        if len(self._tat) > self._max_keys:
            # under a flood of distinct keys, forgetting is safer than growing without bound
            self._tat.clear()
        self._next_sweep = now + max(60.0, self.rate.interval * self.rate.burst)

    def __len__(self) -> int:
        return len(self._tat)
