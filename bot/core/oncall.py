"""Who is on call, watched: a handoff post in the feeds of a team whose on-call changed, and Slack user groups
kept equal to the linked people on call.

One read of `GET /api-public/v1/oncall/current` serves every feed, every group and every replica: the answer is
shared through the database (a named snapshot, as the incident view shares its own), so N replicas spend one
lookup call per interval. Which replica handles a change is decided by a compare-and-set on the team's last seen
on-call (`SeenStore.claim`): only the winner posts the handoffs and updates the group. The first time a team is
seen there is no "was": it is recorded without a post, and its group is brought in step.

VictorOps' `Any-On-Call` webhook (its body is UNCONFIRMED) only `nudge`s the watch: the read decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from bot.core.feed import Feed
from bot.core.incidents import IncidentFilter, SnapshotStore
from bot.core.refusals import PostRefused, Refusals
from bot.victorops.limits import Clock
from bot.victorops.models import Incident, Named, OnCallNow, TeamOnCall

log = logging.getLogger(__name__)

SNAPSHOT = "oncall"
FRESH = 0.9  # of the interval: a shared answer this much younger than the interval serves a replica's read
DIRECTORY_AGE = 60.0  # seconds: as old as the directory's own on-call cache allows
NUDGE_GATHER = 2.0  # seconds a nudge waits for the rest of a burst of on-call webhooks before reading
NUDGE_GAP = 15.0  # seconds at least between two nudged reads: a storm of webhooks is a lookup call or two


@dataclass(frozen=True)
class OnCallAnswer:
    """Who VictorOps said is on call, and when (wall clock) it was asked."""

    asked_at: float
    teams: list[TeamOnCall]


class SharedOnCall:
    """`oncall/current`, read at most once per `max_age` by all replicas together: one replica asks VictorOps
    (under the snapshot's refresh lock), the others take its answer from the database."""

    def __init__(
        self,
        source: Callable[[], Awaitable[list[TeamOnCall]]],
        snapshots: SnapshotStore | None = None,
        *,
        wall_clock: Clock = time.time,
    ) -> None:
        self._source = source
        self._snapshots = snapshots
        self._wall = wall_clock
        self._last: OnCallAnswer | None = None
        self._one = asyncio.Lock()  # single flight in this process; the snapshot's lock across replicas

    def now(self) -> float:
        return self._wall()

    async def teams(self, max_age: float = DIRECTORY_AGE) -> list[TeamOnCall]:
        """For the directory (`/vo oncall`, the reroute modal, status): the shared answer when fresh enough."""
        return (await self.read(max_age)).teams

    async def read(self, max_age: float, asked_after: float = 0.0) -> OnCallAnswer:
        """An answer at most `max_age` old and asked at or after `asked_after` (wall clock)."""
        async with self._one:
            if (held := await self._held(max_age, asked_after)) is not None:
                return held
            if self._snapshots is None:
                return await self._ask()
            async with self._snapshots.refresh_lock(SNAPSHOT):
                if (held := await self._held(max_age, asked_after)) is not None:  # another replica just asked
                    return held
                answer = await self._ask()
                body = OnCallNow(teams_on_call=answer.teams).model_dump_json(by_alias=True)
                await self._snapshots.put(SNAPSHOT, answer.asked_at, body)
                return answer

    async def _ask(self) -> OnCallAnswer:
        asked = self._wall()
        self._last = OnCallAnswer(asked, await self._source())
        return self._last

    async def _held(self, max_age: float, asked_after: float) -> OnCallAnswer | None:
        candidates = [self._last] if self._last else []
        if self._snapshots is not None and (found := await self._snapshots.get(SNAPSHOT)):
            candidates.append(OnCallAnswer(found[0], OnCallNow.model_validate_json(found[1]).teams_on_call))
        newest = max(candidates, key=lambda a: a.asked_at, default=None)
        if newest is None or self._wall() - newest.asked_at > max_age or newest.asked_at < asked_after:
            return None
        self._last = newest
        return newest


def canonical(usernames: Sequence[str]) -> str:
    """A team's on-call as text the database compares: sorted, without repeats."""
    return json.dumps(sorted(set(usernames)))


@dataclass(frozen=True)
class Seen:
    users: str  # `canonical`
    asked_at: float


class SeenStore(Protocol):
    """The last on-call seen per team (bot.store.oncall): the database decides who handles a change."""

    async def all(self) -> dict[str, Seen]: ...

    async def claim(self, key: str, before: str | None, after: str, asked_at: float) -> bool:
        """True for the one replica that moves `key` (a team slug, or a user group ID) from `before` (None: never
        seen) to `after`, and only when `asked_at` is not older than what is recorded."""
        ...

    async def release(self, key: str, users: str) -> None:
        """Forget `users` for `key`, if still recorded (a refused group update): the next read claims it again."""
        ...


@dataclass(frozen=True)
class Handoff:
    team: Named
    on: tuple[str, ...]  # VictorOps usernames on call now, in VictorOps' order
    was: tuple[str, ...]  # on call before, sorted
    open: tuple[Incident, ...]  # the team's open incidents, as last known (no VictorOps call)


class HandoffPoster(Protocol):
    async def handoff(self, channel: str, handoff: Handoff) -> None: ...  # raises PostRefused


class GroupRefused(Exception):
    """Slack refused a user group update; `sentence` says why and what to do (bot.slack.usergroups)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class UserGroups(Protocol):
    async def set_members(self, group: str, slack_users: Sequence[str]) -> None: ...  # raises GroupRefused


class Feeds(Protocol):
    async def all(self) -> list[Feed]: ...


class KnownIncidents(Protocol):
    """bot.core.incidents.IncidentView."""

    async def latest(self) -> list[Incident]: ...


class People(Protocol):
    """bot.core.identity.Identity."""

    async def slack_users(self) -> dict[str, str]: ...


# Why a group was left as it is: nobody on call, nobody on call linked, VictorOps lists no such team, Slack refused.
Problem = Literal["nobody_on_call", "nobody_linked", "no_team", "refused"]


@dataclass(frozen=True)
class GroupReport:
    """For `/vo status` and `vobot check`: a group, its team, who on call no Slack user is, and what is wrong."""

    group: str
    team: str  # the team's name, or its slug when VictorOps does not list it
    unlinked: tuple[str, ...]
    problem: Problem | None
    refusal: str | None = None


def group_reports(
    oncall_groups: Mapping[str, str],
    teams: Sequence[TeamOnCall],
    linked: set[str],
    refused: Mapping[str, str] | None = None,
) -> list[GroupReport]:
    """Each group (team slug -> group) as of `teams`: who on call no Slack user is (`linked`: lower-case
    usernames), and what is wrong (`refused`: group -> Slack's refusal at its last update)."""
    found = []
    by_slug = {t.team.slug.lower(): t for t in teams}
    for slug, group in oncall_groups.items():
        team = by_slug.get(slug.lower())
        if team is None:
            found.append(GroupReport(group, slug, (), "no_team"))
            continue
        unlinked = tuple(u for u in team.usernames if u.lower() not in linked)
        refusal = (refused or {}).get(group)
        problem: Problem | None = "refused" if refusal else None
        if not team.usernames:
            problem = "nobody_on_call"
        elif not refusal and len(unlinked) == len(team.usernames):
            problem = "nobody_linked"
        found.append(GroupReport(group, team.team.name or slug, unlinked, problem, refusal))
    return found


@dataclass
class _Nudge:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    at: float = 0.0  # wall clock of the first nudge not read yet


class OnCallWatch:
    def __init__(
        self,
        oncall: SharedOnCall,
        seen: SeenStore,
        feeds: Feeds,
        incidents: KnownIncidents,
        people: People,
        poster: HandoffPoster,
        groups: UserGroups,
        *,
        oncall_groups: Mapping[str, str],
        interval: float,
        on_read: Callable[[list[TeamOnCall]], None] = lambda _: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._oncall = oncall
        self._seen = seen
        self._feeds = feeds
        self._incidents = incidents
        self._people = people
        self._poster = poster
        self._groups = groups
        self.oncall_groups = dict(oncall_groups)  # team slug -> Slack user group ID
        self.interval = interval
        self._on_read = on_read  # the directory's on-call, so `/vo oncall` shows this answer without a call
        self._sleep = sleep
        self.refusals = Refusals(now)
        self._refused: dict[str, str] = {}  # user group -> Slack's refusal at this replica's last try
        self._nudge = _Nudge()
        self._last_nudged = float("-inf")
        self.gather, self.gap = NUDGE_GATHER, NUDGE_GAP

    async def check(self, asked_after: float = 0.0) -> list[Handoff]:
        """One read (shared, see `SharedOnCall`) and what it changed: the handoffs this replica won (each posted to
        the feeds of its team that want handoffs), and the user groups brought in step."""
        answer = await self._oncall.read(self.interval * FRESH, asked_after)
        self._on_read(answer.teams)
        seen = await self._seen.all()
        handoffs = []
        for team in answer.teams:
            now_on = canonical(team.usernames)
            before = seen.get(team.team.slug)
            if before is not None and before.users == now_on:
                continue
            if not await self._seen.claim(team.team.slug, before.users if before else None, now_on, answer.asked_at):
                continue  # another replica handles it (or this answer is older than the one recorded)
            if before is not None:  # first sight has no "was": nothing to post
                was = tuple(json.loads(before.users))
                handoff = Handoff(team.team, tuple(team.usernames), was, await self._open(team.team))
                await self._post(handoff)
                handoffs.append(handoff)
        await self._keep_groups(answer, seen)
        return handoffs

    def nudge(self) -> None:
        """An on-call webhook arrived: read again soon (coalesced), whatever the interval."""
        if not self._nudge.event.is_set():
            self._nudge.at = self._oncall.now()
            self._nudge.event.set()

    async def reports(self, teams: Sequence[TeamOnCall], linked: set[str]) -> list[GroupReport]:
        """Each configured group as of `teams`, with what this replica last met updating it."""
        return group_reports(self.oncall_groups, teams, linked, self._refused)

    async def _open(self, team: Named) -> tuple[Incident, ...]:
        wanted = IncidentFilter(teams=frozenset(t for t in (team.slug, team.name) if t))
        return tuple(wanted.select(await self._incidents.latest()))

    async def _post(self, handoff: Handoff) -> None:
        names = {handoff.team.slug.lower(), handoff.team.name.lower()} - {""}
        for feed in await self._feeds.all():
            if not feed.handoff or not names & {t.lower() for t in feed.teams}:
                continue
            if self.refusals.held(feed.channel):
                continue  # reported when first refused
            try:
                await self._poster.handoff(feed.channel, handoff)
                self.refusals.clear(feed.channel)
            except PostRefused as refused:
                if self.refusals.hold(refused):
                    log.warning("handoff not posted to %s: %s", feed.channel, refused.sentence)
            except Exception:
                log.exception("handoff of %s in %s failed", handoff.team.slug, feed.channel)

    async def _keep_groups(self, answer: OnCallAnswer, seen: Mapping[str, Seen]) -> None:
        """Each group whose team's linked people on call differ from what it was last set to: the replica whose
        compare-and-set on the group's row wins sets it (once, whoever reads). The row holds the on-call and
        the members together, so a new link brings the group in step too; a refused update is released, so the
        next read, on any replica, tries again."""
        if not self.oncall_groups:
            return
        slack_ids = await self._people.slack_users()
        by_slug = {t.team.slug.lower(): t for t in answer.teams}
        for slug, group in self.oncall_groups.items():
            if (team := by_slug.get(slug.lower())) is None:
                continue  # reported by `reports`
            members = tuple(dict.fromkeys(s for u in team.usernames if (s := slack_ids.get(u.lower()))))
            wanted = json.dumps({"oncall": json.loads(canonical(team.usernames)), "members": members})
            before = seen.get(group)
            if before is not None and before.users == wanted:
                self._refused.pop(group, None)  # in step (maybe set by another replica)
                continue
            if not await self._seen.claim(group, before.users if before else None, wanted, answer.asked_at):
                continue
            if not await self._set(group, team, members):
                await self._seen.release(group, wanted)

    async def _set(self, group: str, team: TeamOnCall, members: tuple[str, ...]) -> bool:
        """Set the group to `members`, the linked people on call; with none it is left as it is (Slack refuses
        an empty group). False when Slack refused, to be tried again."""
        if not members:
            why = "is on call" if not team.usernames else "on call is linked to Slack"
            log.warning("user group %s left as it is: nobody %s for %s", group, why, team.team.name)
            self._refused.pop(group, None)
            return True
        try:
            await self._groups.set_members(group, members)
        except GroupRefused as refused:
            if self._refused.get(group) != refused.sentence:  # the same refusal at every read is logged once
                log.warning("user group %s not updated: %s", group, refused.sentence)
            self._refused[group] = refused.sentence
            return False
        except Exception:
            log.exception("user group %s update failed", group)
            self._refused[group] = "Slack did not answer"
            return False
        self._refused.pop(group, None)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a read every interval (the first one interval after start), and soon after a nudge;
        an interval of 0 reads only when nudged."""
        while True:
            nudged = await self._wait(stop)
            if stop.is_set():
                return
            try:
                asked_after = 0.0
                if nudged:
                    wait = max(self.gather, self._last_nudged + self.gap - self._oncall.now())
                    await self._sleep(wait)
                    asked_after = self._nudge.at
                    self._nudge.event.clear()
                    self._last_nudged = self._oncall.now()
                await self.check(asked_after)
            except Exception:  # VictorOps or the database away: try again at the next interval
                log.exception("on-call read failed")

    async def _wait(self, stop: asyncio.Event) -> bool:
        """Until the interval passes, a nudge or `stop`; whether nudged."""
        waits: set[asyncio.Future[object]] = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._nudge.event.wait()),
        }
        if self.interval > 0:
            waits.add(asyncio.ensure_future(self._sleep(self.interval)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        return self._nudge.event.is_set()
