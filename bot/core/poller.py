"""Polling: every interval the shared view is refreshed from VictorOps and the incidents it lists are reconciled.

One read serves listings, digests and the feed, and replicas share it (a replica finding an answer as new as
the interval asks takes it). Clicks come first: a poll is skipped while the incidents budget has no room beyond
what queued actions need and a click about to be queued. While webhooks arrive, polling is `SLOWER` times
rarer: it only reconciles what a lost webhook missed.

What "room" means: a burst of clicks is one call per person (batching), so a poll leaves `BURST` calls of the
window free beyond the queued actions, or all but one when the window is smaller. With a small budget polling
thus runs only in a window nobody else uses (at the default 6/minute, at most once a minute): clicks first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.feed import Reconciler
from bot.core.incidents import IncidentView
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import Clock, RateSpec

log = logging.getLogger(__name__)

SLOWER = 5  # with webhooks on, one poll in this many intervals
BURST = 5  # calls of the window a poll leaves free for people about to click (one call each, batched)

Result = Literal["ok", "skipped", "failed"]


class Budget(Protocol):
    """The incidents family's window (bot.victorops.limits.Gate)."""

    @property
    def spec(self) -> RateSpec: ...
    async def remaining(self) -> int | None: ...
    async def wait_time(self) -> float: ...


class Backlog(Protocol):
    """Actions queued for VictorOps and not sent yet (bot.store.queue.ActionQueue)."""

    async def depth(self) -> int: ...


@dataclass(frozen=True)
class PollFacts:
    last_poll: float | None  # wall clock of the last poll that read VictorOps' answer
    last_result: Result | None
    failures: int


class Poller:
    def __init__(
        self,
        view: IncidentView,
        reconciler: Reconciler,
        budget: Budget,
        backlog: Backlog,
        webhooks_on: Callable[[], Awaitable[bool]],
        *,
        interval: float,
        clock: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_poll: Callable[[Result], None] = lambda _: None,
    ) -> None:
        self._view = view
        self._reconciler = reconciler
        self._budget = budget
        self._backlog = backlog
        self._webhooks_on = webhooks_on
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._on_poll = on_poll
        self._last: float | None = None
        self._result: Result | None = None
        self._failures = 0

    def facts(self) -> PollFacts:
        return PollFacts(self._last, self._result, self._failures)

    async def room(self) -> bool:
        """Whether a read now takes nothing a waiting action needs."""
        left = await self._budget.remaining()
        if left is None:
            return True
        kept = min(BURST, self._budget.spec.count - 1)
        return await self._budget.wait_time() == 0 and left > await self._backlog.depth() + kept

    async def poll(self) -> Result:
        """One poll: refresh the view (unless another replica just did) and reconcile every incident listed."""
        result = await self._poll()
        self._result = result
        self._on_poll(result)
        return result

    async def _poll(self) -> Result:
        if not await self._room_or_fresh():
            log.debug("poll skipped: the incidents budget is kept for queued actions")
            return "skipped"
        try:
            incidents = await self._view.current(self._clock() - self.interval / 2)
        except VictorOpsError as exc:
            self._failures += 1
            log.warning("poll failed: %s", exc)
            return "failed"
        self._last = self._clock()
        # the list holds the recently resolved too: a resolve from the phone reaches the feed's card
        await self._reconciler.reconcile(list(incidents.values()))
        return "ok"

    async def _room_or_fresh(self) -> bool:
        asked = self._view.asked_at()
        return (asked is not None and asked >= self._clock() - self.interval / 2) or await self.room()

    async def delay(self) -> float:
        return self.interval * (SLOWER if await self._webhooks_on() else 1)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set, the first poll one interval after start; an interval of 0 polls never."""
        if self.interval <= 0:
            return
        delay = self.interval
        while not await self._paused(delay, stop):
            try:
                await self.poll()
                delay = await self.delay()
            except Exception:  # the database away, say: try again next interval, never stop polling
                log.exception("poll failed")
                delay = self.interval

    async def _paused(self, delay: float, stop: asyncio.Event) -> bool:
        """Sleep `delay` unless stopped first; whether stopped."""
        pause = asyncio.ensure_future(self._sleep(delay))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({pause, stopping}, return_when=asyncio.FIRST_COMPLETED)
        pause.cancel()
        stopping.cancel()
        return stop.is_set()
