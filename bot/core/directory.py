"""VictorOps users, escalation policies, teams and who is on call: cached lookups for pickers and mapping.

These change rarely, and the lookup budget is shared with identity checks, so each list is fetched at most
once per window however many modals open at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Protocol, TypeVar

from bot.core.cache import Cached
from bot.victorops.limits import Clock
from bot.victorops.models import PolicyInfo, Team, TeamOnCall, User

log = logging.getLogger(__name__)

MEMBERS_MAX_AGE = 3600.0  # team membership changes rarely; one lookup per team, so kept long
MEMBERS_RETRY = 300.0  # a team whose lookup failed (404, 403, timeout) is asked again this much later
RESERVE = 5  # lookup calls per window a background fetch leaves for what people wait on

T = TypeVar("T")


class LookupSource(Protocol):
    async def list_users(self) -> list[User]: ...
    async def list_policies(self) -> list[PolicyInfo]: ...
    async def list_teams(self) -> list[Team]: ...
    async def oncall_now(self) -> list[TeamOnCall]: ...
    async def team_members(self, team_slug: str) -> list[str]: ...


class Directory:
    def __init__(
        self,
        source: LookupSource,
        *,
        max_age: float = 600.0,
        oncall_max_age: float = 60.0,
        clock: Clock = monotonic,
        oncall: Callable[[], Awaitable[list[TeamOnCall]]] | None = None,  # the answer shared with replicas
        lookup_room: Callable[[], Awaitable[int | None]] | None = None,  # lookup calls that fit now (None: any)
    ) -> None:
        self.users: Cached[list[User]] = Cached(source.list_users, max_age, clock)
        self.policies: Cached[list[PolicyInfo]] = Cached(source.list_policies, max_age, clock)
        self.oncall: Cached[list[TeamOnCall]] = Cached(oncall or source.oncall_now, oncall_max_age, clock)
        self.teams: Cached[list[Team]] = Cached(source.list_teams, max_age, clock)
        self.members = TeamMembers(source.team_members, self.teams, room=lookup_room, clock=clock)

    async def user(self, username: str) -> User | None:
        wanted = username.lower()
        return next((u for u in await self.users.get() if u.username.lower() == wanted), None)

    async def policy(self, slug: str) -> PolicyInfo | None:
        return next((p for p in await self.policies.get() if p.policy.slug == slug), None)

    async def team(self, slug_or_name: str) -> Team | None:
        """A team by its slug or its name, case aside (feeds and listings filter by either)."""
        wanted = slug_or_name.lower()
        return next((t for t in await self.teams.get() if wanted in (t.slug.lower(), t.name.lower())), None)

    async def oncall_by_team(self) -> dict[str, list[str]]:
        """Team slug -> usernames on call now."""
        return {t.team.slug: t.usernames for t in await self.oncall.get()}

    def teams_of(self, username: str) -> tuple[list[Team], bool]:
        """The teams `username` is a member of (case aside), in VictorOps' order, from what is cached (no call);
        and whether some teams' members are not known yet (see `TeamMembers.load`)."""
        return self.members.teams_of(username)

    async def full_names(self) -> dict[str, str]:
        """Username (lower case) -> full name, as last fetched (see `known`)."""
        return {u.username.lower(): u.full_name for u in await known(self.users)}

    async def policy_names(self) -> dict[str, str]:
        """Policy slug -> name, as last fetched (see `known`)."""
        return {p.policy.slug: p.policy.name for p in await known(self.policies) if p.policy.name}


class TeamMembers:
    """Who is in each team: one lookup per team, kept an hour per team (membership changes rarely).

    Fetched in the background only while the lookup budget has room to spare (`RESERVE` calls are left for
    people's clicks: pickers, linking, `/vo oncall`), so many teams never starve the lookups people wait on; a
    team whose lookup fails is retried a few minutes later while the others are kept. Readers see what is
    cached, never wait for a fetch.
    """

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[list[str]]],
        teams: Cached[list[Team]],
        *,
        room: Callable[[], Awaitable[int | None]] | None = None,
        max_age: float = MEMBERS_MAX_AGE,
        retry_after: float = MEMBERS_RETRY,
        clock: Clock = monotonic,
    ) -> None:
        self._fetch = fetch
        self._teams = teams
        self._room = room
        self.max_age = max_age
        self._retry_after = retry_after
        self._clock = clock
        self._known: dict[str, tuple[frozenset[str], float]] = {}  # slug -> (usernames, lower case; fetched at)
        self._retry: dict[str, float] = {}  # slug -> when a failed lookup may be tried again
        self._loading: asyncio.Task[None] | None = None

    def teams_of(self, username: str) -> tuple[list[Team], bool]:
        wanted, teams = username.lower(), self._teams.peek() or []
        found = [t for t in teams if wanted in self._members(t)]
        return found, self._teams.peek() is None or any(self._unknown(t) for t in teams)

    def _members(self, team: Team) -> frozenset[str]:
        known = self._known.get(team.slug)
        return known[0] if known else frozenset()

    def _unknown(self, team: Team) -> bool:
        return team.member_count != 0 and team.slug not in self._known

    def _due(self, team: Team) -> bool:
        if team.member_count == 0 or self._clock() < self._retry.get(team.slug, float("-inf")):
            return False
        known = self._known.get(team.slug)
        return known is None or self._clock() - known[1] > self.max_age

    def load(self) -> asyncio.Task[None]:
        """Start fetching the teams that are due, in the background (one loader at a time); the task is
        returned for whoever wants to wait for it."""
        if self._loading is None or self._loading.done():
            self._loading = asyncio.create_task(self._load())
        return self._loading

    async def _load(self) -> None:
        try:
            teams = await self._teams.get()
        except Exception as exc:
            log.warning("could not list the VictorOps teams: %s", type(exc).__name__)
            return
        for team in [t for t in teams if self._due(t)]:
            if not await self._spare():
                return  # the budget is needed elsewhere: the next home opened goes on
            try:
                members = await self._fetch(team.slug)
            except Exception as exc:
                self._retry[team.slug] = self._clock() + self._retry_after
                log.warning("could not fetch the members of VictorOps team %s: %s", team.slug, type(exc).__name__)
                continue
            self._known[team.slug] = (frozenset(m.lower() for m in members), self._clock())
            self._retry.pop(team.slug, None)

    async def _spare(self) -> bool:
        room = None if self._room is None else await self._room()
        return room is None or room > RESERVE


async def known(cached: Cached[list[T]]) -> list[T]:
    """For naming things in a message: the list however old (a name rarely changes), fetched only the first
    time; a message is drawn with raw names rather than not at all when that fetch fails."""
    if (value := cached.peek()) is not None:
        return value
    try:
        return await cached.get()
    except Exception:
        log.warning("could not fetch VictorOps names for a message; it shows usernames and slugs", exc_info=True)
        return []
