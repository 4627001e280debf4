"""One shared view of VictorOps incidents, read by listings, cards and digests.

Backed by `GET /api-public/v1/incidents` (the API has no filters and no cheaper read), fetched with single
flight inside a freshness window. Our own writes update it in place from what VictorOps confirmed, so a
card shows the new state without spending another call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from time import monotonic
from typing import Protocol

from bot.core.cache import Cached
from bot.victorops.limits import Clock
from bot.victorops.models import Incident, Phase

# A number we do not know may be an incident created seconds ago: look again if the view is older than this.
UNKNOWN_NUMBER_RECHECK = 5.0


class IncidentSource(Protocol):
    async def list_incidents(self) -> list[Incident]: ...


class IncidentView:
    def __init__(self, source: IncidentSource, *, max_age: float = 30.0, clock: Clock = monotonic) -> None:
        self._cache: Cached[dict[str, Incident]] = Cached(self._fetch, max_age, clock)
        self._source = source

    async def _fetch(self) -> dict[str, Incident]:
        return {i.incident_number: i for i in await self._source.list_incidents()}

    @property
    def age(self) -> float | None:
        return self._cache.age

    async def all(self) -> list[Incident]:
        """Every incident VictorOps lists: open ones and recently resolved ones."""
        return list((await self._cache.get()).values())

    async def open(self) -> list[Incident]:
        return [i for i in await self.all() if i.current_phase is not Phase.RESOLVED]

    async def find(self, numbers: Iterable[str]) -> dict[str, Incident | None]:
        """The incidents with these numbers (None for a number VictorOps does not list)."""
        wanted = list(numbers)
        known = await self._cache.get()
        if any(n not in known for n in wanted) and not self._cache.fresh(UNKNOWN_NUMBER_RECHECK):
            known = await self._cache.refresh()
        return {n: known.get(n) for n in wanted}

    def put(self, incidents: Iterable[Incident]) -> None:
        """Record incidents as VictorOps now has them (after our own write was accepted)."""
        current = dict(self._cache.peek() or {})
        current.update({i.incident_number: i for i in incidents})
        self._cache.replace(current)

    def invalidate(self) -> None:
        self._cache.invalidate()


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a listing or digest shows. Empty fields do not filter."""

    phases: frozenset[Phase] = frozenset({Phase.UNACKED, Phase.ACKED})
    routes: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()  # team slugs or names, case-insensitive
    involving: str | None = None  # a VictorOps username: paged, or who acknowledged

    def matches(self, incident: Incident) -> bool:
        if incident.current_phase not in self.phases:
            return False
        if self.routes and incident.routing_key not in self.routes:
            return False
        if self.teams and not self._team_match(incident):
            return False
        return self.involving is None or self._involves(incident, self.involving)

    def _team_match(self, incident: Incident) -> bool:
        wanted = {t.lower() for t in self.teams}
        names = {s.lower() for s in incident.paged_teams}
        names |= {p.team.slug.lower() for p in incident.paged_policies if p.team}
        names |= {p.team.name.lower() for p in incident.paged_policies if p.team}
        return bool(wanted & names)

    @staticmethod
    def _involves(incident: Incident, username: str) -> bool:
        if username in incident.paged_users:
            return True
        acked = incident.last_transition(Phase.ACKED)
        return acked is not None and acked.by == username

    def select(self, incidents: Iterable[Incident]) -> list[Incident]:
        return [i for i in incidents if self.matches(i)]
