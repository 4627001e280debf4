"""VictorOps users, escalation policies, teams and who is on call: cached lookups for pickers and mapping.

These change rarely, and the lookup budget is shared with identity checks, so each list is fetched at most
once per window however many modals open at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Protocol, TypeVar

from bot.core.cache import Cached
from bot.victorops.limits import Clock
from bot.victorops.models import PolicyInfo, Team, TeamOnCall, User

log = logging.getLogger(__name__)

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
    ) -> None:
        self.users: Cached[list[User]] = Cached(source.list_users, max_age, clock)
        self.policies: Cached[list[PolicyInfo]] = Cached(source.list_policies, max_age, clock)
        self.oncall: Cached[list[TeamOnCall]] = Cached(oncall or source.oncall_now, oncall_max_age, clock)
        self.teams: Cached[list[Team]] = Cached(source.list_teams, max_age, clock)
        # team slug -> member usernames: one lookup per team, so fetched for all teams at once, as rarely as users
        self.members: Cached[dict[str, list[str]]] = Cached(self._all_members, max_age, clock)
        self._source = source

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

    async def teams_of(self, username: str) -> list[Team]:
        """The teams `username` is a member of (case aside), in VictorOps' order."""
        members, wanted = await self.members.get(), username.lower()
        return [t for t in await self.teams.get() if wanted in (m.lower() for m in members.get(t.slug, []))]

    async def _all_members(self) -> dict[str, list[str]]:
        return {t.slug: await self._source.team_members(t.slug) for t in await self.teams.get()}

    async def full_names(self) -> dict[str, str]:
        """Username (lower case) -> full name, as last fetched (see `known`)."""
        return {u.username.lower(): u.full_name for u in await known(self.users)}

    async def policy_names(self) -> dict[str, str]:
        """Policy slug -> name, as last fetched (see `known`)."""
        return {p.policy.slug: p.policy.name for p in await known(self.policies) if p.policy.name}


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
