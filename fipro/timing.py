"""Named wall-clock laps: the per-step seconds every model's ``run_quarter`` records."""

from __future__ import annotations

import time


class Laps:
    """``lap(name)`` records the seconds since the previous lap (or the start).

    >>> laps = Laps(); laps.lap("load"); sorted(laps.seconds)
    ['load']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now

    def since_start(self, name: str) -> dict[str, float]:
        """Record ``name`` as the seconds since the start (the laps go on from the previous one)."""
        self.seconds[name] = round(time.perf_counter() - self._start, 2)
        return self.seconds
