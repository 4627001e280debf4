"""Incident history from the reporting API, which VictorOps allows about once a minute.

The same query asked again while its answer is fresh costs nothing; a new one waits for the budget, and
the caller can say roughly how long that will be before it starts waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Protocol

from bot.core.cache import Cached
from bot.core.routes import reporting_route
from bot.victorops.limits import Clock
from bot.victorops.models import HistoryPage, HistoryQuery


class HistorySource(Protocol):
    async def incident_history(self, query: HistoryQuery) -> HistoryPage: ...


class History:
    def __init__(
        self,
        source: HistorySource,
        wait_time: Callable[[], Awaitable[float]],
        *,
        max_age: float = 60.0,
        clock: Clock = monotonic,
    ) -> None:
        self._source = source
        self._wait_time = wait_time
        self._max_age = max_age
        self._clock = clock
        self._answers: dict[str, Cached[HistoryPage]] = {}

    def _entry(self, query: HistoryQuery) -> Cached[HistoryPage]:
        if query.routing_key:  # `route:routingdefault` (the public spelling) finds the default route's history
            query = query.model_copy(update={"routing_key": reporting_route(query.routing_key)})
        key = query.model_dump_json()
        if key not in self._answers:
            # forget answers nobody can reuse any more, so the dict stays small
            self._answers = {k: v for k, v in self._answers.items() if v.fresh() or v.age is None}

            async def fetch() -> HistoryPage:
                return await self._source.incident_history(query)

            self._answers[key] = Cached(fetch, self._max_age, self._clock)
        return self._answers[key]

    async def wait_for(self, query: HistoryQuery) -> float:
        """Seconds before this query can be answered: 0 when cached or the budget has room."""
        return 0.0 if self._entry(query).fresh() else await self._wait_time()

    async def search(self, query: HistoryQuery) -> HistoryPage:
        return await self._entry(query).get()
