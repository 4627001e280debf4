"""Who is on call, watched: a handoff post in the feeds of a team whose on-call changed, and Slack user groups
kept equal to the linked people on call.

One read of `GET /api-public/v1/oncall/current` serves every feed, every group and every replica: the answer is
shared through the database (a named snapshot, as the incident view shares its own), so N replicas spend one
lookup call per interval. Which replica handles a change is decided by a compare-and-set on the team's last seen
on-call (`SeenStore.claim`): only the winner posts the handoffs and updates the group. The first time a team is
seen there is no "was": it is recorded without a post, and its group is brought in step. A team seen before and
now absent from the answer is taken as nobody on call. A claim is pending until its post (or group update) is
done: when that fails for a reason that may pass (not Slack's refusal), the winner gives the claim back
(`SeenStore.give_back`), so the next read, on any replica, does it again; when the winner crashed in between, the
claim is taken over once it is `STALE`, by one replica. A crash after the post and before it is marked done
posts it twice, `STALE` later.

VictorOps' `Any-On-Call` webhook (its body is UNCONFIRMED) only `nudge`s the watch: the read decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
STALE = 300.0  # seconds after which a pending claim (its replica crashed, or hangs) is taken over
NUDGE_GATHER = 2.0  # seconds a nudge waits for the rest of a burst of on-call webhooks before reading
# seconds at least between two nudged reads, on all replicas together: the oldest spec allows oncall/current once
# a minute, so a storm of webhooks is one lookup call a minute
NUDGE_GAP = 60.0


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

    def last_asked(self) -> float:
        """When the newest answer this replica has seen was asked (wall clock); -inf before the first."""
        return self._last.asked_at if self._last else -math.inf

    async def teams(self, max_age: float = DIRECTORY_AGE) -> list[TeamOnCall]:
        """For the directory (`/vo oncall`, the reroute modal, status): the shared answer when fresh enough."""
        return (await self.read(max_age)).teams

    async def read(self, max_age: float, asked_after: float = 0.0) -> OnCallAnswer:
        """An answer at most `max_age` old and asked after `asked_after` (wall clock)."""
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
        if newest is None or self._wall() - newest.asked_at > max_age or newest.asked_at <= asked_after:
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
    was: str | None = None  # `users` before the claim, while it is pending
    pending_at: float | None = None  # wall clock of the claim, until its post or update is done; None: done


class SeenStore(Protocol):
    """The last on-call seen per team (bot.store.oncall): the database decides who handles a change."""

    async def all(self) -> dict[str, Seen]: ...

    async def claim(self, key: str, before: str | None, after: str, asked_at: float, pending_at: float | None) -> bool:
        """True for the one replica that moves `key` (a team slug, or a user group ID) from `before` (None: never
        seen) to `after`, and only when `asked_at` is not older than what is recorded; pending (since
        `pending_at`) until `done`, unless None."""
        ...

    async def retake(self, key: str, held: Seen, at: float) -> bool:
        """True for the one replica that takes over the pending claim `held` (still as read), pending from `at`."""
        ...

    async def done(self, key: str, took: Seen) -> None:
        """The claim `took` is carried out: no longer pending (if still held)."""
        ...

    async def give_back(self, key: str, took: Seen, back: Seen | None) -> None:
        """Undo a claim that could not be carried out: `key` goes back to `back` (None: no row) if it still holds
        `took`, what this replica wrote, so the next read, on any replica, claims it again."""
        ...


@dataclass(frozen=True)
class Handoff:
    team: Named
    on: tuple[str, ...]  # VictorOps usernames on call now, in VictorOps' order
    was: tuple[str, ...]  # on call before, sorted
    open: tuple[Incident, ...] | None  # the team's open incidents, as last known (no VictorOps call); None: unknown


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

    def asked_at(self) -> float | None: ...  # None: this replica never read the incidents


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
    listed: Mapping[str, str] | None = None,
) -> list[GroupReport]:
    """Each group (team slug -> group) as of `teams`: who on call no Slack user is (`linked`: lower-case
    usernames), and what is wrong (`refused`: group -> Slack's refusal at its last update). A team absent from
    `teams` is one VictorOps does not list, unless `listed` (VictorOps' teams: lower-case slug -> name) names it:
    then nobody is on call for it."""
    found = []
    by_slug = {t.team.slug.lower(): t for t in teams}
    for slug, group in oncall_groups.items():
        team = by_slug.get(slug.lower())
        if team is None and listed is not None and slug.lower() in listed:
            team = TeamOnCall(team=Named(name=listed[slug.lower()], slug=slug))
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


def _refused(sentence: str) -> str:
    """What a group's row holds after Slack refused (or did not answer) its update: read by `/vo status` on every
    replica, and never equal to what a read wants, so the next read tries again."""
    return json.dumps({"refused": sentence})


def refusal_of(users: str) -> str | None:
    """The refusal a group's row holds, if any."""
    try:
        held = json.loads(users)
    except ValueError:
        return None
    return held.get("refused") if isinstance(held, dict) else None


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
        watching: bool = True,
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
        self.watching = watching  # some feed wants handoffs, or some group follows on-call: else no read at all
        self._on_read = on_read  # the directory's on-call, so `/vo oncall` shows this answer without a call
        self._sleep = sleep
        self.refusals = Refusals(now)
        self._refused: dict[str, str] = {}  # user group -> Slack's refusal at this replica's last try (logged once)
        self._names: dict[str, Named] = {}  # team slug -> the team as last answered: for a team gone from the answer
        # team slug -> (its on-call, channels that got it) while a handoff is being posted (given back, retried)
        self._posted: dict[str, tuple[str, set[str]]] = {}
        self._nudge = _Nudge()
        self.gather, self.gap = NUDGE_GATHER, NUDGE_GAP

    async def check(self, asked_after: float = 0.0, max_age: float | None = None) -> list[Handoff]:
        """One read (shared, see `SharedOnCall`; `max_age` by default a little less than the interval) and what it
        changed: the handoffs this replica won (each posted to the feeds of its team that want handoffs), and the
        user groups brought in step."""
        answer = await self._oncall.read(self.interval * FRESH if max_age is None else max_age, asked_after)
        self._on_read(answer.teams)
        seen = await self._seen.all()
        teams = self._with_gone(answer.teams, seen)
        handoffs = []
        for team in teams:
            before = seen.get(team.team.slug)
            took = await self._claim(
                team.team.slug, before, canonical(team.usernames), answer.asked_at, before is not None
            )
            if took is None or took.pending_at is None:
                continue  # nothing new, another replica handles it, or first sight (no "was": nothing to post)
            if team not in answer.teams:
                log.warning("VictorOps no longer lists team %s in who is on call: taken as nobody", team.team.slug)
            was = tuple(json.loads(took.was or "[]"))
            try:
                handoff = Handoff(team.team, tuple(team.usernames), was, await self._open(team.team))
                posted = await self._post(handoff, took.users)
            except Exception:  # the database, drawing the summary
                log.exception("handoff of %s failed", team.team.slug)
                posted = False
            if not posted:  # the next read, on any replica, posts it again
                await self._seen.give_back(team.team.slug, took, Seen(took.was or "[]", took.asked_at))
                continue
            await self._seen.done(team.team.slug, took)
            self._posted.pop(team.team.slug, None)  # done: the same people coming back on call is a new handoff
            handoffs.append(handoff)
        await self._keep_groups(teams, answer.asked_at, seen)
        return handoffs

    async def _claim(self, key: str, before: Seen | None, users: str, asked_at: float, pending: bool) -> Seen | None:
        """The claim this replica now holds on `key` for `users`, or None: a change from `before` (compare-and-set;
        pending unless not `pending`), or a pending claim older than `STALE` (its replica crashed before finishing),
        taken over by one replica."""
        now = self._oncall.now()
        if before is not None and before.users == users:
            if before.pending_at is None or now - before.pending_at < STALE:
                return None
            return replace(before, pending_at=now) if await self._seen.retake(key, before, now) else None
        at = now if pending else None
        if not await self._seen.claim(key, before.users if before else None, users, asked_at, at):
            return None  # another replica handles it (or this answer is older than the one recorded)
        return Seen(users, asked_at, before.users if before else None, at)

    def _with_gone(self, teams: list[TeamOnCall], seen: Mapping[str, Seen]) -> list[TeamOnCall]:
        """The answer's teams, and every team seen before that the answer no longer lists, with nobody on call."""
        self._names.update({t.team.slug: t.team for t in teams})
        listed = {t.team.slug for t in teams}
        groups = set(self.oncall_groups.values())
        gone = [key for key, row in seen.items() if key not in listed | groups and row.users.startswith("[")]
        return teams + [TeamOnCall(team=self._names.get(slug, Named(slug=slug))) for slug in gone]

    def nudge(self) -> None:
        """An on-call webhook arrived: read again soon (coalesced), whatever the interval."""
        if not self._nudge.event.is_set():
            self._nudge.at = self._oncall.now()
            self._nudge.event.set()

    def nudged_after(self, at: float) -> float:
        """The oldest answer a read for a nudge at `at` takes: one asked after the nudge, or any asked within the
        last gap by any replica, so a storm of webhooks on N replicas is one VictorOps read per gap."""
        return min(at, self._oncall.now() - self.gap)

    async def reports(self, teams: Sequence[TeamOnCall], linked: set[str]) -> list[GroupReport]:
        """Each configured group as of `teams`, with the refusal its row holds (whichever replica met it)."""
        seen = await self._seen.all()
        refused = {key: why for key, row in seen.items() if (why := refusal_of(row.users))}
        return group_reports(self.oncall_groups, self._with_gone(list(teams), seen), linked, refused)

    async def _open(self, team: Named) -> tuple[Incident, ...] | None:
        if not (latest := await self._incidents.latest()) and self._incidents.asked_at() is None:
            return None  # never read here, and no replica shared an answer: not known yet
        wanted = IncidentFilter(teams=frozenset(t for t in (team.slug, team.name) if t))
        return tuple(wanted.select(latest))

    async def _post(self, handoff: Handoff, users: str) -> bool:
        """To each feed of the team that wants handoffs; False when a post failed for a reason that may pass.
        A channel that already got this handoff from this replica (before a failure elsewhere) is skipped."""
        names = {handoff.team.slug.lower(), handoff.team.name.lower()} - {""}
        slug = handoff.team.slug
        if self._posted.get(slug, ("", set()))[0] != users:
            self._posted[slug] = (users, set())
        posted = self._posted[slug][1]
        done = True
        for feed in await self._feeds.all():
            if not feed.handoff or not names & {t.lower() for t in feed.teams} or feed.channel in posted:
                continue
            if self.refusals.held(feed.channel):
                continue  # reported when first refused
            try:
                await self._poster.handoff(feed.channel, handoff)
                self.refusals.clear(feed.channel)
                posted.add(feed.channel)
            except PostRefused as refused:
                if self.refusals.hold(refused):
                    log.warning("handoff not posted to %s: %s", feed.channel, refused.sentence)
            except Exception:
                log.exception("handoff of %s in %s failed", handoff.team.slug, feed.channel)
                done = False
        return done

    async def _keep_groups(self, teams: list[TeamOnCall], asked_at: float, seen: Mapping[str, Seen]) -> None:
        """Each group whose team's linked people on call differ from what it was last set to: the replica whose
        compare-and-set on the group's row wins sets it (once, whoever reads). The row holds the on-call and
        the members together, so a new link brings the group in step too; an update that failed gives the row
        back holding why, so `/vo status` on any replica says it and the next read tries again."""
        if not self.oncall_groups:
            return
        slack_ids = await self._people.slack_users()
        by_slug = {t.team.slug.lower(): t for t in teams}
        for slug, group in self.oncall_groups.items():
            if (team := by_slug.get(slug.lower())) is None:
                continue  # reported by `reports`
            members = tuple(dict.fromkeys(s for u in team.usernames if (s := slack_ids.get(u.lower()))))
            wanted = json.dumps({"oncall": json.loads(canonical(team.usernames)), "members": members})
            before = seen.get(group)
            if before is not None and before.users == wanted and before.pending_at is None:
                self._refused.pop(group, None)  # in step (maybe set by another replica)
            if (took := await self._claim(group, before, wanted, asked_at, True)) is None:
                continue
            if (why := await self._set(group, team, members)) is None:
                await self._seen.done(group, took)
            else:
                await self._seen.give_back(group, took, Seen(_refused(why), asked_at))

    async def _set(self, group: str, team: TeamOnCall, members: tuple[str, ...]) -> str | None:
        """Set the group to `members`, the linked people on call; with none it is left as it is (Slack refuses
        an empty group). Why not, when Slack refused or did not answer: to be tried again."""
        if not members:
            why = "is on call" if not team.usernames else "on call is linked to Slack"
            log.warning("user group %s left as it is: nobody %s for %s", group, why, team.team.name or team.team.slug)
            self._refused.pop(group, None)
            return None
        try:
            await self._groups.set_members(group, members)
        except GroupRefused as refused:
            if self._refused.get(group) != refused.sentence:  # the same refusal at every read is logged once
                log.warning("user group %s not updated: %s", group, refused.sentence)
            self._refused[group] = refused.sentence
            return refused.sentence
        except Exception:
            log.exception("user group %s update failed", group)
            self._refused[group] = "Slack did not answer"
            return self._refused[group]
        self._refused.pop(group, None)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a read every interval (the first one interval after start), and soon after a nudge;
        an interval of 0 reads only when nudged. Nothing when nothing watches who is on call."""
        while self.watching:
            nudged = await self._wait(stop)
            if stop.is_set():
                return
            try:
                if nudged:
                    await self._nudged(stop)
                else:
                    await self.check()
            except Exception:  # VictorOps or the database away: try again at the next interval
                log.exception("on-call read failed")

    async def _nudged(self, stop: asyncio.Event) -> None:
        """A read for a nudge, once the burst has gathered and the gap since the last answer has passed; when an
        answer from before the nudge served it (asked within the gap), the nudge stays for one more read."""
        if await self._pause(max(self.gather, self._oncall.last_asked() + self.gap - self._oncall.now()), stop):
            return
        at = self._nudge.at
        self._nudge.event.clear()
        await self.check(self.nudged_after(at), max_age=math.inf)
        if self._oncall.last_asked() < at:
            self.nudge()
            self._nudge.at = min(self._nudge.at, at)

    async def _pause(self, seconds: float, stop: asyncio.Event) -> bool:
        """Sleep, unless `stop` comes first; whether it did."""
        await self._race(stop, self._sleep(seconds))
        return stop.is_set()

    async def _wait(self, stop: asyncio.Event) -> bool:
        """Until the interval passes, a nudge or `stop`; whether nudged."""
        await self._race(stop, self._nudge.event.wait(), *([self._sleep(self.interval)] if self.interval > 0 else []))
        return self._nudge.event.is_set()

    @staticmethod
    async def _race(stop: asyncio.Event, *waits: Awaitable[object]) -> None:
        tasks = {asyncio.ensure_future(stop.wait()), *(asyncio.ensure_future(w) for w in waits)}
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
