"""In-process fixed-window counters for the API rate limits (the embedded deployment's storage; Redis when
scaled out): the semantics of ``limits``' memory storage — a counter's window opens with its first hit and
lasts the limit's expiry — without its cost per hit (``limits.aio``'s MemoryStorage takes an asyncio lock
and starts a task to expire keys on every ``incr``: two tasks per API request). Nothing here awaits, so a
hit is atomic on the event loop."""

from __future__ import annotations

import time

PRUNE_EVERY_SECONDS = 60.0


class FixedWindowCounters:
    def __init__(self) -> None:
        self._counters: dict[str, list[float]] = {}  # name -> [count, window end (monotonic)]
        self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS

    def hit(self, name: str, expiry: float, amount: int = 1) -> tuple[int, float]:
        """Count ``amount`` against ``name``; its count in the current window and the seconds left in it."""
        at = time.monotonic()
        if at >= self._next_prune:
            self._prune(at)
        entry = self._counters.get(name)
        if entry is None or entry[1] <= at:
            entry = self._counters[name] = [0, at + expiry]
        entry[0] += amount
        return int(entry[0]), entry[1] - at

    def _prune(self, at: float) -> None:
        self._next_prune = at + PRUNE_EVERY_SECONDS
        for name in [k for k, (_, end) in self._counters.items() if end <= at]:
            del self._counters[name]

    def __len__(self) -> int:
        return len(self._counters)
