"""Rate limits as sliding windows: never more than `count` calls in any `period` seconds.

The same window serves the client (wait for budget before sending) and the simulator (refuse with 429).
The clock is injected so tests can run a simulated minute without sleeping.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from time import monotonic
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|\d+(?:\.\d+)?s)\s*$")


@dataclass(frozen=True)
class RateSpec:
    """`count` calls per `period` seconds; count 0 means unlimited."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        """Parse `6/minute`, `1/second`, `100/hour`, `6/10s`; `0/minute` or `off` turns the limit off."""
        if text.strip().lower() in {"off", "none", "unlimited"}:
            return cls(0, 60.0)
        match = _SPEC.match(text.lower())
        if not match:
            raise ValueError(
                f"expected <count>/<period> with period second, minute, hour or seconds like 10s, got {text!r}"
            )
        count, period = match.groups()
        seconds = _PERIODS.get(period) or float(period[:-1])
        if seconds <= 0:
            raise ValueError(f"the period must be longer than 0 seconds, got {text!r}")
        return cls(int(count), seconds)

    def padded(self) -> RateSpec:
        """The same budget with a slightly longer period: our clock starts a call when we send it, VictorOps'
        when it arrives, so a window that only just fits on our side can overflow on theirs."""
        return RateSpec(self.count, self.period + min(2.0, max(0.25, self.period * 0.05)))

    @property
    def unlimited(self) -> bool:
        return self.count == 0

    def __str__(self) -> str:
        if self.unlimited:
            return "off"
        names = {v: k for k, v in _PERIODS.items()}
        return f"{self.count}/{names.get(self.period, f'{self.period:g}s')}"


class Family(StrEnum):
    """VictorOps' endpoint families, each with its own budget."""

    INCIDENTS = "incidents"
    REPORTING = "reporting"
    LOOKUPS = "lookups"


@dataclass(frozen=True)
class Budgets:
    """The configured budget of each endpoint family."""

    incidents: RateSpec
    reporting: RateSpec
    lookups: RateSpec

    def spec(self, family: Family) -> RateSpec:
        spec: RateSpec = getattr(self, family.value)
        return spec


UNLIMITED = Budgets(RateSpec(0, 60), RateSpec(0, 60), RateSpec(0, 60))


class SlidingWindow:
    """Timestamps of the calls made in the last `period` seconds."""

    def __init__(self, spec: RateSpec, clock: Clock = monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._calls: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - self.spec.period:
            self._calls.popleft()

    def wait_time(self) -> float:
        """Seconds until one more call fits (0 when it fits now)."""
        if self.spec.unlimited:
            return 0.0
        now = self._clock()
        self._prune(now)
        if len(self._calls) < self.spec.count:
            return 0.0
        return self._calls[0] + self.spec.period - now

    def remaining(self) -> int | None:
        """Calls that fit right now, or None when unlimited."""
        if self.spec.unlimited:
            return None
        self._prune(self._clock())
        return self.spec.count - len(self._calls)

    def try_acquire(self) -> bool:
        """Record a call if it fits now."""
        if self.wait_time() > 0:
            return False
        if not self.spec.unlimited:
            self._calls.append(self._clock())
        return True

    def block_for(self, seconds: float) -> None:
        """Treat the window as full for `seconds` (the server said so with a rate-limit answer)."""
        if self.spec.unlimited:
            return
        until = self._clock() + seconds - self.spec.period
        self._calls = deque([until] * self.spec.count)


class Gate(Protocol):
    """What the client needs from a budget: wait for room, and hear that the server is out of it."""

    @property
    def spec(self) -> RateSpec: ...

    async def acquire(self) -> float: ...

    async def wait_time(self) -> float: ...

    async def remaining(self) -> int | None: ...

    async def block_for(self, seconds: float) -> None: ...


class Budget:
    """An async gate in front of an in-process SlidingWindow: `await budget.acquire()` waits until a call fits."""

    def __init__(self, spec: RateSpec, clock: Clock = monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.window = SlidingWindow(spec, clock)
        self._sleep = sleep
        self._lock = asyncio.Lock()

    @property
    def spec(self) -> RateSpec:
        return self.window.spec

    async def acquire(self) -> float:
        """Wait for room in the window and take it; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # first come, first served
            while (delay := self.window.wait_time()) > 0:
                await self._sleep(delay)
                waited += delay
            self.window.try_acquire()
        return waited

    async def wait_time(self) -> float:
        return self.window.wait_time()

    async def remaining(self) -> int | None:
        return self.window.remaining()

    async def block_for(self, seconds: float) -> None:
        self.window.block_for(seconds)


class SharedWindowStore(Protocol):
    """A sliding window kept outside this process (the database), shared by every replica."""

    spec: RateSpec

    async def reserve(self) -> float: ...

    async def wait_time(self) -> float: ...

    async def remaining(self) -> int | None: ...

    async def block_for(self, seconds: float) -> None: ...


class SharedBudget:
    """A Gate over a shared window: replicas together never exceed the budget, and a restart does not reset it."""

    def __init__(self, store: SharedWindowStore, sleep: Sleep = asyncio.sleep) -> None:
        self._store = store
        self._sleep = sleep
        self._lock = asyncio.Lock()

    @property
    def spec(self) -> RateSpec:
        return self._store.spec

    async def acquire(self) -> float:
        waited = 0.0
        async with self._lock:  # callers in this process queue here instead of all polling the database
            while (delay := await self._store.reserve()) > 0:
                await self._sleep(delay)
                waited += delay
        return waited

    async def wait_time(self) -> float:
        return await self._store.wait_time()

    async def remaining(self) -> int | None:
        return await self._store.remaining()

    async def block_for(self, seconds: float) -> None:
        await self._store.block_for(seconds)
