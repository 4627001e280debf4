"""One shared view of VictorOps incidents, read by listings, cards and digests.

Backed by `GET /api-public/v1/incidents` (the API has no filters and no cheaper read), fetched with single
flight inside a freshness window. With a snapshot store (the database), replicas share the last answer:
one replica refreshes it, under a lock, and the others read it. Our own writes update it in place from
what VictorOps confirmed, so a card shows the new state without spending another call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from time import monotonic
from typing import Protocol

from bot.core.cache import Cached
from bot.victorops.limits import Clock
from bot.victorops.models import Incident, IncidentList, Phase

SNAPSHOT = "incidents"
SHARED_REREAD = 3.0  # seconds a replica keeps its copy of the shared snapshot before reading it again

# A number we do not know may be an incident created seconds ago: look again if the view is older than this.
UNKNOWN_NUMBER_RECHECK = 5.0


class IncidentSource(Protocol):
    async def list_incidents(self) -> list[Incident]: ...


class SnapshotStore(Protocol):
    async def get(self, name: str) -> tuple[float, str] | None: ...
    async def put(self, name: str, fetched_at: float, body: str) -> None: ...
    def refresh_lock(self, name: str) -> AbstractAsyncContextManager[None]: ...


class IncidentView:
    def __init__(
        self,
        source: IncidentSource,
        *,
        max_age: float = 30.0,
        clock: Clock = monotonic,
        snapshots: SnapshotStore | None = None,
        wall_clock: Clock = time.time,
    ) -> None:
        # With a shared snapshot, this replica re-reads it often (cheap) so it never lags another's refresh.
        local_age = min(max_age, SHARED_REREAD) if snapshots else max_age
        self._cache: Cached[dict[str, Incident]] = Cached(self._fetch, local_age, clock)
        self.max_age = max_age
        self._source = source
        self._snapshots = snapshots
        self._wall = wall_clock
        self._fetched_at = 0.0  # wall-clock time of the answer the view holds

    async def _fetch(self) -> dict[str, Incident]:
        if self._snapshots is None:
            return await self._from_source()
        if (shared := await self._shared()) is not None:
            return shared
        async with self._snapshots.refresh_lock(SNAPSHOT):
            if (shared := await self._shared()) is not None:  # another replica refreshed while we waited
                return shared
            incidents = await self._from_source()
            await self._publish(incidents)
            return incidents

    async def _from_source(self) -> dict[str, Incident]:
        self._fetched_at = self._wall()
        return {i.incident_number: i for i in await self._source.list_incidents()}

    async def _shared(self) -> dict[str, Incident] | None:
        """The shared snapshot when it is fresh enough; counted as old as it really is."""
        assert self._snapshots is not None
        found = await self._snapshots.get(SNAPSHOT)
        if found is None or self._wall() - found[0] > self.max_age:
            return None
        self._fetched_at = found[0]
        return {i.incident_number: i for i in IncidentList.model_validate_json(found[1]).incidents}

    async def _publish(self, incidents: dict[str, Incident]) -> None:
        if self._snapshots is not None:
            body = IncidentList(incidents=list(incidents.values())).model_dump_json(by_alias=True)
            await self._snapshots.put(SNAPSHOT, self._fetched_at, body)

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

    def known(self, numbers: Iterable[str]) -> dict[str, Incident | None]:
        """The incidents as this view last had them, without asking anyone: for showing, never for deciding."""
        held = self._cache.peek() or {}
        return {n: held.get(n) for n in numbers}

    async def put(self, incidents: Iterable[Incident]) -> None:
        """Record incidents as VictorOps now has them (after our own write was accepted), for every replica."""
        changed = {i.incident_number: i for i in incidents}
        if not changed:
            return
        current = {**(self._cache.peek() or {}), **changed}
        self._cache.replace(current)
        await self._publish(current)

    async def invalidate(self) -> None:
        """The next reader, on any replica, fetches from VictorOps."""
        self._cache.invalidate()
        if self._snapshots is not None and (found := await self._snapshots.get(SNAPSHOT)):
            await self._snapshots.put(SNAPSHOT, 0.0, found[1])


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
