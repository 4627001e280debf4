"""The single-flight cache (bot.core.cache): readers arriving together share one fetch, a value is fresh for
its window, and a failure is nobody's cached answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.cache import Cached
from tests.fakes import FakeClock


class Fetches:
    """A fetch that stays in flight until `answer` (or `fail`) is called, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._started = asyncio.Event()
        self._pending: asyncio.Future[str] | None = None

    async def __call__(self) -> str:
        self.calls += 1
        self._pending = asyncio.get_running_loop().create_future()
        self._started.set()
        return await self._pending

    async def answer(self, value: str) -> None:
        (await self._in_flight()).set_result(value)
        await asyncio.sleep(0)

    async def fail(self, error: Exception) -> None:
        (await self._in_flight()).set_exception(error)
        await asyncio.sleep(0)

    async def _in_flight(self) -> asyncio.Future[str]:
        await asyncio.wait_for(self._started.wait(), 1)  # a fetch that never starts fails, not hangs
        self._started.clear()
        assert self._pending is not None
        return self._pending


async def test_readers_arriving_together_share_one_fetch() -> None:
    fetch = Fetches()
    cached = Cached(fetch, max_age=30, clock=FakeClock())
    readers = [asyncio.create_task(cached.get()) for _ in range(20)]
    await fetch.answer("v1")
    assert await asyncio.wait_for(asyncio.gather(*readers), 1) == ["v1"] * 20 and fetch.calls == 1


@pytest.mark.parametrize(("age", "fetched"), [(0, 1), (29.9, 1), (30, 1), (30.1, 2)])
async def test_a_value_is_fresh_for_its_window(age: float, fetched: int) -> None:
    clock = FakeClock()
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        return calls

    cached = Cached(fetch, max_age=30, clock=clock)
    assert await cached.get() == 1
    clock.now += age
    assert (await cached.get(), calls) == (fetched, fetched)
    assert cached.age == pytest.approx(0 if fetched == 2 else age)


async def test_a_reader_may_ask_for_a_fresher_value_than_the_window() -> None:
    clock = FakeClock()
    values = iter(["old", "new"])

    async def fetch() -> str:
        return next(values)

    cached = Cached(fetch, max_age=30, clock=clock)
    await cached.get()
    clock.now += 5
    assert await cached.get() == "old"
    assert await cached.get(max_age=1) == "new"


async def test_a_failed_fetch_fails_every_reader_and_is_not_kept() -> None:
    fetch = Fetches()
    cached = Cached(fetch, max_age=30, clock=FakeClock())
    readers = [asyncio.create_task(cached.get()) for _ in range(3)]
    await fetch.fail(TimeoutError("VictorOps timed out"))
    results = await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 1)
    assert all(isinstance(r, TimeoutError) for r in results) and fetch.calls == 1
    again = asyncio.create_task(cached.get())  # the next reader fetches anew
    await fetch.answer("v1")
    assert await asyncio.wait_for(again, 1) == "v1" and fetch.calls == 2


async def test_a_failed_refresh_keeps_the_old_value_for_peeking() -> None:
    fetch = Fetches()
    clock = FakeClock()
    cached = Cached(fetch, max_age=30, clock=clock)
    first = asyncio.create_task(cached.get())
    await fetch.answer("v1")
    await first
    clock.now += 31
    stale = asyncio.create_task(cached.get())
    await fetch.fail(ConnectionError("reset"))
    with pytest.raises(ConnectionError):
        await stale
    assert cached.peek() == "v1" and not cached.fresh()


async def test_a_reader_that_gives_up_does_not_cancel_the_others_fetch() -> None:
    fetch = Fetches()
    cached = Cached(fetch, max_age=30, clock=FakeClock())
    impatient, patient = asyncio.create_task(cached.get()), asyncio.create_task(cached.get())
    await asyncio.sleep(0)
    impatient.cancel()
    await fetch.answer("v1")
    assert await asyncio.wait_for(patient, 1) == "v1" and impatient.cancelled() and fetch.calls == 1


async def test_invalidate_and_replace() -> None:
    clock = FakeClock()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        return f"v{calls}"

    cached = Cached(fetch, max_age=30, clock=clock)
    await cached.get()
    clock.now += 20
    cached.replace("ours")  # our own write: the value changes, its age does not
    assert (cached.peek(), cached.age) == ("ours", 20)
    assert await cached.get() == "ours" and calls == 1
    cached.invalidate()  # the next reader fetches; the old value stays readable
    assert cached.peek() == "ours" and not cached.fresh()
    assert await cached.get() == "v2" and calls == 2
