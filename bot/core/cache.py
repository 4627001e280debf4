"""A value fetched on demand, shared by every reader: single flight and a freshness window.

Twenty readers arriving together while the value is stale cause one fetch; all twenty get its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Generic, TypeVar

from bot.victorops.limits import Clock

T = TypeVar("T")


class Cached(Generic[T]):
    def __init__(self, fetch: Callable[[], Awaitable[T]], max_age: float, clock: Clock = monotonic) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self._clock = clock
        self._value: T | None = None
        self._at: float | None = None
        self._inflight: asyncio.Future[T] | None = None

    @property
    def age(self) -> float | None:
        """Seconds since the value was fetched or set, None before the first time."""
        return None if self._at is None else self._clock() - self._at

    def fresh(self, max_age: float | None = None) -> bool:
        age = self.age
        return age is not None and age <= (self.max_age if max_age is None else max_age)

    async def get(self, max_age: float | None = None) -> T:
        """The value, fetched first when older than `max_age` (default: the cache's window)."""
        if self._value is not None and self.fresh(max_age):
            return self._value
        return await self.refresh()

    async def refresh(self) -> T:
        """Fetch now, or join the fetch already under way."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._run())
        # shield: a reader that gives up (its request was cancelled) must not cancel everyone's fetch
        return await asyncio.shield(self._inflight)

    async def _run(self) -> T:
        try:
            value = await self._fetch()
            self.set(value)
            return value
        finally:
            self._inflight = None

    def set(self, value: T) -> None:
        self._value, self._at = value, self._clock()

    def replace(self, value: T) -> None:
        """Change the value without making it look fresher than it is."""
        self._value = value

    def peek(self) -> T | None:
        """The last value, however old, without fetching."""
        return self._value

    def invalidate(self) -> None:
        """The next `get` fetches; the old value stays readable with `peek`."""
        self._at = None
