"""When to retry a failed webhook delivery: exponential backoff with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable

Uniform = Callable[[float, float], float]


def retry_delay(
    attempts: int, *, base: float, cap: float, uniform: Uniform = random.uniform
) -> float:
    """Seconds to wait after ``attempts`` failed attempts: uniform in [0, min(cap, base*2^(n-1))].

    Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads the retries of
    many deliveries that failed together, so a recovering endpoint is not hit by a wave.
    """
    exponent = min(max(attempts - 1, 0), 62)  # beyond this the cap has long won
    ceiling = min(cap, base * 2.0**exponent)
    return uniform(0.0, ceiling)
