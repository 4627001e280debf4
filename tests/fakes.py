"""Small test doubles shared by several test modules."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it: a simulated minute takes no time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
