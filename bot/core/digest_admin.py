"""Digests from the chat: list them, post one now, and (admins only) add and remove them.

A digest of the configuration file is changed in the file, never from the chat (config as code wins). Posting
now is limited per channel (bot.core.posting), so that nobody can flood it; a post that fails gives its turn
back. Refusals are typed and carry the facts the chat needs to say why: the chat writes the words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.core.digest import Digest, WhenEmpty, checked
from bot.core.digests import Digests, DigestStore, Incidents, Poster
from bot.core.errors import ActionError
from bot.core.identity import AdminOnly, NotAdmin
from bot.core.posting import PostLimits
from bot.core.schedule import next_slot


@dataclass(eq=False)
class DefinedInFile(ActionError):
    """Digest `name` is the configuration file's: `change` ("add" would replace it, or "remove") is refused."""

    name: str
    change: Literal["add", "remove"]


@dataclass(eq=False)
class NoSuchDigest(ActionError):
    name: str


@dataclass(frozen=True)
class Scheduled:
    digest: Digest
    next_run: datetime | None  # None for a schedule that never fires (such as 30 February)


@dataclass(frozen=True)
class Added(Scheduled):
    replaced: bool  # a digest of that name, added from the chat, was there before


class DigestAdmin:
    def __init__(
        self,
        store: DigestStore,
        digests: Digests,
        limits: PostLimits,
        incidents: Incidents,
        poster: Poster,
        *,
        admins: Sequence[str],
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._digests = digests
        self._limits = limits
        self._incidents = incidents
        self._poster = poster
        self._admins = tuple(admins)
        self._now = now

    async def scheduled(self) -> list[Scheduled]:
        """Every digest, by name, with its next run."""
        return [Scheduled(d, self._next_run(d)) for d in await self._store.all()]

    async def post_now(self, channel: str) -> list[Digest]:
        """Post this channel's digests now, or every open incident when it has none (then the list is empty)."""
        if limited := await self._limits.digest_now(channel):
            raise limited
        try:
            digests = await self._store.in_channel(channel)
            for digest in digests:
                await self._digests.send(digest)
            if not digests:
                await self._poster.listing(channel, await self._incidents.open())
        except Exception:
            await self._limits.digest_not_posted(channel)  # nothing (or not all) posted: the next try must not wait
            raise
        return digests

    async def add(
        self,
        caller: str,
        *,
        name: str,
        channel: str,
        schedule: str,
        timezone: str = "UTC",
        when_empty: WhenEmpty = "post",
        routes: Sequence[str] = (),
        teams: Sequence[str] = (),
        phases: Sequence[str] = (),
    ) -> Added:
        """Add a digest posted in `channel`, or replace the one of that name added from the chat."""
        self._require_admin(caller)
        existing = await self._store.get(name)
        if existing is not None and existing.source == "config":
            raise DefinedInFile(name, "add")
        digest = checked(
            Digest(
                name=name,
                channel=channel,
                schedule=schedule,
                timezone=timezone,
                when_empty=when_empty,
                routes=tuple(routes),
                teams=tuple(teams),
                phases=tuple(phases),
                source="slack",
                created_by=caller,
            )
        )
        await self._store.put(digest)
        await self._digests.reload()
        return Added(digest, self._next_run(digest), replaced=existing is not None)

    async def remove(self, caller: str, name: str) -> Digest:
        """Remove a digest added from the chat; it is not posted again. Returns what was removed."""
        self._require_admin(caller)
        digest = await self._store.get(name)
        if digest is None:
            raise NoSuchDigest(name)
        if digest.source == "config":
            raise DefinedInFile(name, "remove")
        await self._store.remove(name)
        await self._digests.reload()
        return digest

    def _next_run(self, digest: Digest) -> datetime | None:
        try:
            return next_slot(digest.schedule, digest.timezone, self._now())
        except ValueError:  # stored by an older version, which took schedules cron refuses: never runs
            return None

    def _require_admin(self, caller: str) -> None:
        if caller not in self._admins:
            raise NotAdmin(AdminOnly.DIGESTS, self._admins)
