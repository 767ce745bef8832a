"""The one back-off rule for the platform's retries (Connect and SMS delivery, webhook attempts).

Exponential, capped, with proportional jitter: after failed attempt ``n`` (1-based) the wait is
``min(cap, base * 2**(n-1))`` times a factor drawn uniformly from [0.75, 1.25). The jitter spreads the
retries of many items that failed together (a receiver or an SMSC coming back is not hit in one burst)
and keeps the doubling schedule as its mean; a wait may so exceed ``cap`` by up to 25 %. Each caller
keeps its own ``base`` and ``cap`` settings."""

from __future__ import annotations

import random
from collections.abc import Callable

JITTER = 0.25


def retry_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based; 0 counts as 1). ``rand`` is
    uniform in [0, 1) (injected by tests)."""
    raw: float = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 62))
    return raw * (1 - JITTER + 2 * JITTER * rand())
