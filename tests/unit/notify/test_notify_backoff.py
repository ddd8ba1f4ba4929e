"""Retry delays: exponential, capped, with full jitter."""

from __future__ import annotations

import random

import pytest

from kolot.notify.backoff import retry_delay


def highest(low: float, high: float) -> float:
    return high


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0)]
)
def test_the_ceiling_doubles_per_attempt_up_to_the_cap(attempts: int, ceiling: float) -> None:
    assert retry_delay(attempts, base=2.0, cap=60.0, uniform=highest) == ceiling


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay(4, base=1.0, cap=100.0, uniform=rng.uniform) for _ in range(500)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    # spread over the whole range, not clustered at the ceiling
    assert min(delays) < 1.0
    assert max(delays) > 7.0


def test_huge_attempt_counts_do_not_overflow() -> None:
    assert retry_delay(10_000, base=30.0, cap=3600.0, uniform=highest) == 3600.0
    assert 0.0 <= retry_delay(10_000, base=30.0, cap=3600.0) <= 3600.0
