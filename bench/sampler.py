"""Peak RSS of processes, sampled in a background thread (psutil)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class RssSampler:
    def __init__(self, sources: dict[str, Callable[[], int]], interval: float = 0.1) -> None:
        self.sources = sources
        self.interval = interval
        self.peak: dict[str, int] = dict.fromkeys(sources, 0)
        self.first: dict[str, int] = {k: fn() for k, fn in sources.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, fn in self.sources.items():
                self.peak[name] = max(self.peak[name], fn())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks_mb(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.peak.items()}
