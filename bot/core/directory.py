"""VictorOps users, escalation policies, teams and who is on call: cached lookups for pickers and mapping.

These change rarely, and the lookup budget is shared with identity checks, so each list is fetched at most
once per window however many modals open at once.
"""

from __future__ import annotations

from time import monotonic
from typing import Protocol

from bot.core.cache import Cached
from bot.victorops.limits import Clock
from bot.victorops.models import PolicyInfo, TeamOnCall, User


class LookupSource(Protocol):
    async def list_users(self) -> list[User]: ...
    async def list_policies(self) -> list[PolicyInfo]: ...
    async def oncall_now(self) -> list[TeamOnCall]: ...


class Directory:
    def __init__(
        self, source: LookupSource, *, max_age: float = 600.0, oncall_max_age: float = 60.0, clock: Clock = monotonic
    ) -> None:
        self.users: Cached[list[User]] = Cached(source.list_users, max_age, clock)
        self.policies: Cached[list[PolicyInfo]] = Cached(source.list_policies, max_age, clock)
        self.oncall: Cached[list[TeamOnCall]] = Cached(source.oncall_now, oncall_max_age, clock)

    async def user(self, username: str) -> User | None:
        wanted = username.lower()
        return next((u for u in await self.users.get() if u.username.lower() == wanted), None)

    async def policy(self, slug: str) -> PolicyInfo | None:
        return next((p for p in await self.policies.get() if p.policy.slug == slug), None)

    async def oncall_by_team(self) -> dict[str, list[str]]:
        """Team slug -> usernames on call now."""
        return {t.team.slug: t.usernames for t in await self.oncall.get()}
