"""One shared view of VictorOps incidents, read by listings, cards and digests.

Backed by `GET /api-public/v1/incidents` (the API has no filters and no cheaper read), fetched with single
flight inside a freshness window. With a snapshot store (the database), replicas share the last answer:
one replica refreshes it, under a lock, and the others read it. Our own writes update it in place from
what VictorOps confirmed, so a card shows the new state without spending another call.

Some questions need an answer newer than the window allows: a number the view does not know may be an
incident paged seconds ago, and a write whose answer was lost must be read back. Those ask for an answer
asked of VictorOps after a given moment (`current`); one call serves everyone waiting, on every replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from time import monotonic
from typing import Protocol

from bot.core.cache import Cached
from bot.core.routes import route_key
from bot.victorops.limits import Clock
from bot.victorops.models import Incident, IncidentList, Phase

SNAPSHOT = "incidents"
CLOCK_SKEW = 5.0  # seconds two replicas' clocks may differ by: items this much older than an answer are dropped
SHARED_REREAD = 3.0  # seconds a replica keeps its copy of the shared snapshot before reading it again

# A number we do not know may be an incident paged seconds ago, so VictorOps is asked, unless an answer asked
# this little before the question is at hand: a burst of unknown numbers (or a double click) costs one call.
UNKNOWN_NUMBER_RECHECK = 1.0

# Phases only move forward: an event that arrives late never takes a card (or the view) back.
RANK = {Phase.UNACKED: 0, Phase.ACKED: 1, Phase.RESOLVED: 2}


class IncidentSource(Protocol):
    async def list_incidents(self) -> list[Incident]: ...


class SnapshotStore(Protocol):
    async def get(self, name: str) -> tuple[float, str] | None: ...
    async def put(self, name: str, fetched_at: float, body: str) -> None: ...
    async def expire(self, name: str) -> None: ...  # the next reader fetches: its age set to 0, its body kept
    def refresh_lock(self, name: str) -> AbstractAsyncContextManager[None]: ...
    # Items changed since the snapshot was asked for (an incident a webhook or our own write changed), each
    # stored on its own: a change writes its few items, never the whole snapshot again.
    async def put_items(self, name: str, at: float, bodies: Mapping[str, str]) -> None: ...
    async def items(self, name: str, keys: Iterable[str] | None = None) -> dict[str, str]: ...  # None: all
    async def drop_items(self, name: str, before: float) -> None: ...  # those a newer snapshot has


@dataclass(frozen=True)
class Answer:
    """The incidents as VictorOps listed them, and when (wall clock) it was asked: an answer is as new as that."""

    asked_at: float
    incidents: dict[str, Incident]


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
        self._cache: Cached[Answer] = Cached(self._fetch, local_age, clock)
        self.max_age = max_age
        self._source = source
        self._snapshots = snapshots
        self._wall = wall_clock
        self._asked_after = 0.0  # a fetch must bring an answer asked at or after this (wall clock)

    def now(self) -> float:
        """The wall clock the view dates its answers by (shared by every replica)."""
        return self._wall()

    async def _fetch(self) -> Answer:
        if self._snapshots is None:
            return await self._from_source()
        if (shared := await self._shared()) is not None:
            return shared
        async with self._snapshots.refresh_lock(SNAPSHOT):
            if (shared := await self._shared()) is not None:  # another replica refreshed while we waited
                return shared
            answer = await self._from_source()
            await self._publish(answer)
            # changes stored while VictorOps was answering are newer than its answer: kept, here too
            return Answer(answer.asked_at, newest(answer.incidents, await self._items()))

    async def _from_source(self) -> Answer:
        asked = self._wall()
        return Answer(asked, {i.incident_number: i for i in await self._source.list_incidents()})

    async def _shared(self) -> Answer | None:
        """The shared snapshot when it is fresh enough (and new enough for who waits); counted as old as it is."""
        found = await self._snapshot()
        if found is None or self._wall() - found.asked_at > self.max_age or found.asked_at < self._asked_after:
            return None
        return found

    async def _snapshot(self) -> Answer | None:
        """The shared snapshot as stored, however old, with the items changed since folded in (None without a
        store or before anything was stored)."""
        if self._snapshots is None:
            return None
        # The items first: a publish stores its snapshot, then drops the items it has, so items read before the
        # snapshot are never missing from both (read the other way round, an older snapshot could come without them).
        changed = await self._items()
        found = await self._snapshots.get(SNAPSHOT)
        if found is None and not changed:
            return None
        asked, listed = (found[0], IncidentList.model_validate_json(found[1]).incidents) if found else (0.0, [])
        return Answer(asked, newest({i.incident_number: i for i in listed}, changed))

    async def _items(self, numbers: Iterable[str] | None = None) -> dict[str, Incident]:
        """The incidents changed since the shared snapshot (of `numbers`, or all), as stored."""
        if self._snapshots is None:
            return {}
        bodies = await self._snapshots.items(SNAPSHOT, numbers)
        return {n: Incident.model_validate_json(body) for n, body in bodies.items()}

    async def _publish(self, answer: Answer) -> None:
        """A new answer of VictorOps' for every replica: it has every change stored before it was asked for."""
        if self._snapshots is not None:
            body = IncidentList(incidents=list(answer.incidents.values())).model_dump_json(by_alias=True)
            await self._snapshots.put(SNAPSHOT, answer.asked_at, body)
            # Items are stamped by the clock of the replica that wrote them: one a little behind this one's must
            # not lose a change made after the ask. Keeping an item longer costs nothing (folded forward only).
            await self._snapshots.drop_items(SNAPSHOT, answer.asked_at - CLOCK_SKEW)

    async def _publish_items(self, incidents: Iterable[Incident]) -> None:
        """Incidents that changed, for every replica: their own items, not the whole snapshot rewritten."""
        if self._snapshots is not None:
            bodies = {i.incident_number: i.model_dump_json(by_alias=True) for i in incidents}
            await self._snapshots.put_items(SNAPSHOT, self._wall(), bodies)

    def _held(self) -> dict[str, Incident]:
        answer = self._cache.peek()
        return answer.incidents if answer else {}

    async def all(self) -> list[Incident]:
        """Every incident VictorOps lists: open ones and recently resolved ones."""
        return list((await self._cache.get()).incidents.values())

    async def open(self) -> list[Incident]:
        return [i for i in await self.all() if i.current_phase is not Phase.RESOLVED]

    async def find(self, numbers: Iterable[str], *, recheck: bool = True) -> dict[str, Incident | None]:
        """The incidents with these numbers; None for one VictorOps does not list (with `recheck`, even when
        asked now: an incident paged seconds ago is not refused)."""
        wanted, asked = list(numbers), self._wall()
        known = (await self._cache.get()).incidents
        if recheck and any(n not in known for n in wanted):
            known = await self.current(asked - UNKNOWN_NUMBER_RECHECK)
        return {n: known.get(n) for n in wanted}

    async def current(self, asked_after: float | None = None) -> dict[str, Incident]:
        """Every incident, from an answer VictorOps was asked for at or after `asked_after` (wall clock; default
        now). Single flight: whoever needs one while it is being fetched shares it, and with a snapshot store
        it is published, so other replicas waiting for as new an answer take it instead of asking again."""
        since = self._wall() if asked_after is None else asked_after
        answer = self._cache.peek()
        for _ in range(2):  # the fetch in flight may have been asked before `since`: then once more
            if answer is not None and answer.asked_at >= since:
                break
            self._asked_after = max(self._asked_after, since)
            answer = await self._cache.refresh()
        return answer.incidents if answer else {}

    def asked_at(self) -> float | None:
        """When (wall clock) VictorOps was asked for the answer this replica holds; None before the first."""
        answer = self._cache.peek()
        return answer.asked_at if answer else None

    def routes(self) -> list[str]:
        """The routing keys of the incidents this view last had, as VictorOps spells them, without asking."""
        return sorted({i.routing_key for i in self._held().values() if i.routing_key})

    def known(self, numbers: Iterable[str]) -> dict[str, Incident | None]:
        """The incidents as this view last had them, without asking anyone: for showing, never for deciding."""
        held = self._held()
        return {n: held.get(n) for n in numbers}

    async def held(self, numbers: Iterable[str]) -> dict[str, Incident | None]:
        """Like `known`, but with the shared snapshot too, still without asking VictorOps: a replica whose own
        copy is empty (it has not listed yet) or behind another's sees what the others saw (one database read)."""
        everything = await self._everything()
        return {n: everything.get(n) for n in numbers}

    async def latest(self) -> list[Incident]:
        """Every incident as last known here or on any replica, however old, without asking VictorOps: for
        showing (a handoff's summary), never for deciding."""
        return list((await self._everything()).values())

    async def _everything(self) -> dict[str, Incident]:
        found = await self._snapshot()
        return newest(found.incidents, self._held()) if found is not None else self._held()

    async def put(self, incidents: Iterable[Incident]) -> None:
        """Record incidents as VictorOps now has them (after our own write was accepted), for every replica."""
        changed = {i.incident_number: i for i in incidents}
        if not changed:
            return
        last = self._cache.peek()
        answer = Answer(last.asked_at if last else 0.0, newest(self._held(), changed))
        self._cache.replace(answer)
        await self._publish_items(answer.incidents[n] for n in changed)

    async def merge(self, incidents: Iterable[Incident]) -> list[Incident]:
        """Fold incidents reported by an event (a webhook) into the view, for every replica, phases forward
        only: an event older than what the view holds changes nothing. Returns the incidents as merged, for
        those that changed."""
        reported = list(incidents)
        # Another replica's news of these incidents counts too: their items alone are read, not the whole
        # snapshot (its incidents reach this copy when it is re-read, every SHARED_REREAD seconds).
        shared = await self._items([i.incident_number for i in reported])
        last = self._cache.peek()  # read after the await: a write recorded meanwhile (`put`) is kept
        asked, held = (last.asked_at, last.incidents) if last else (0.0, {})
        held = newest(held, shared)
        changed = [m for i in reported if (m := forward(held.get(i.incident_number), i)) is not None]
        if changed:
            self._cache.replace(Answer(asked, {**held, **{i.incident_number: i for i in changed}}))
            await self._publish_items(changed)
        return changed

    async def invalidate(self) -> None:
        """The next reader, on any replica, fetches from VictorOps."""
        self._cache.invalidate()
        if self._snapshots is not None:
            await self._snapshots.expire(SNAPSHOT)  # its age only: a body written back could undo a publish


def newest(held: dict[str, Incident], reported: dict[str, Incident]) -> dict[str, Incident]:
    """Two copies of the incidents in one, each `reported` folded onto the one `held` (`forward`): an incident
    never goes back a phase because one copy is older than the other."""
    merged = {**reported, **held}
    for number, incident in reported.items():
        if number in held and (moved := forward(held[number], incident)) is not None:
            merged[number] = moved
    return merged


def forward(held: Incident | None, reported: Incident) -> Incident | None:
    """What the view should hold once `reported` is known, or None when it changes nothing: a phase behind the
    one held is old news; the fields the report carries replace those held, and transitions are kept from both."""
    if held is None:
        return reported
    if RANK[reported.current_phase] < RANK[held.current_phase]:
        return None
    update = {name: getattr(reported, name) for name in reported.model_fields_set}
    seen = {(t.name, t.by) for t in held.transitions}
    transitions = [*held.transitions, *(t for t in reported.transitions if (t.name, t.by) not in seen)]
    update["transitions"] = sorted(transitions, key=lambda t: t.at)
    merged = held.model_copy(update=update)
    return None if merged == held else merged


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a listing or digest shows. Empty fields do not filter."""

    phases: frozenset[Phase] = frozenset({Phase.UNACKED, Phase.ACKED})
    routes: frozenset[str] = frozenset()  # routing keys in either spelling (see bot.core.routes)
    teams: frozenset[str] = frozenset()  # team slugs or names, case-insensitive
    involving: str | None = None  # a VictorOps username: paged, or who acknowledged

    def matches(self, incident: Incident) -> bool:
        if incident.current_phase not in self.phases:
            return False
        if self.routes and route_key(incident.routing_key or "") not in {route_key(r) for r in self.routes}:
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
