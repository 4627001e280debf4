"""Feeds from the chat: everyone lists them; admins subscribe a channel and unsubscribe it.

A feed of the configuration file is changed in the file, never from the chat (config as code wins). A filter
naming a route, team or policy VictorOps does not know would never match, and a channel vobot cannot post in
would never show a card: both are refused with the reason, as facts the chat puts in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from bot.core.errors import ActionError
from bot.core.feed import Feed, FeedStore
from bot.core.feed_rules import checked
from bot.core.identity import AdminOnly, NotAdmin
from bot.core.routes import unknown_routes
from bot.victorops.models import Incident, PolicyInfo, Team


class Access(StrEnum):
    """Whether vobot can post in a channel, as Slack says."""

    OK = "ok"
    NOT_IN_CHANNEL = "not in channel"  # private, and vobot was not invited
    ARCHIVED = "archived"
    NOT_FOUND = "not found"  # gone, or private and hidden from vobot


class Channels(Protocol):
    """The Slack side's check of a channel (bot.slack.channels)."""

    async def access(self, channel: str) -> Access: ...


class Incidents(Protocol):
    async def all(self) -> list[Incident]: ...


class Lookups(Protocol):
    """VictorOps' teams and policies, cached (bot.core.directory.Directory)."""

    async def team(self, slug_or_name: str) -> Team | None: ...
    async def policy(self, slug: str) -> PolicyInfo | None: ...


@dataclass(eq=False)
class FeedInFile(ActionError):
    """The channel's feed is the configuration file's: `change` from the chat is refused."""

    channel: str
    change: Literal["subscribe", "unsubscribe"]


@dataclass(eq=False)
class NoFeed(ActionError):
    channel: str


@dataclass(eq=False)
class UnknownRoutes(ActionError):
    """Routes no incident VictorOps lists now has; `known` are those it does."""

    routes: tuple[str, ...]
    known: tuple[str, ...]


@dataclass(eq=False)
class UnknownTeam(ActionError):
    team: str


@dataclass(eq=False)
class UnknownPolicy(ActionError):
    policy: str


@dataclass(eq=False)
class CannotPost(ActionError):
    channel: str
    why: Access


@dataclass(frozen=True)
class Subscribed:
    feed: Feed  # as stored
    replaced: bool  # the channel had a feed from the chat before: its filters are replaced


class FeedAdmin:
    def __init__(
        self,
        store: FeedStore,
        incidents: Incidents,
        lookups: Lookups,
        channels: Channels,
        *,
        admins: Sequence[str],
    ) -> None:
        self._store = store
        self._incidents = incidents
        self._lookups = lookups
        self._channels = channels
        self._admins = tuple(admins)

    async def subscriptions(self) -> list[Feed]:
        """Every feed, by channel."""
        return await self._store.all()

    async def subscribe(
        self,
        caller: str,
        channel: str,
        *,
        routes: Sequence[str] = (),
        teams: Sequence[str] = (),
        policies: Sequence[str] = (),
    ) -> Subscribed:
        """Give `channel` a feed of the incidents matching the filters (none: every incident), or replace the
        filters of its feed from the chat; when it was made (what is backlog) stays."""
        self._require_admin(caller)
        existing = await self._store.get(channel)
        if existing is not None and existing.source == "config":
            raise FeedInFile(channel, "subscribe")
        feed = checked(
            Feed(
                channel=channel,
                routes=tuple(routes),
                teams=tuple(teams),
                policies=tuple(policies),
                source="slack",
                created_by=caller,
            )
        )
        await self._check_filters(feed)
        if (access := await self._channels.access(channel)) is not Access.OK:
            raise CannotPost(channel, access)
        return Subscribed(await self._store.put(feed), replaced=existing is not None)

    async def unsubscribe(self, caller: str, channel: str) -> Feed:
        """Remove the channel's feed from the chat: no card is posted there again. Returns what was removed."""
        self._require_admin(caller)
        feed = await self._store.get(channel)
        if feed is None:
            raise NoFeed(channel)
        if feed.source == "config":
            raise FeedInFile(channel, "unsubscribe")
        await self._store.remove(channel)
        return feed

    async def _check_filters(self, feed: Feed) -> None:
        if feed.routes:
            known = {i.routing_key for i in await self._incidents.all() if i.routing_key}
            if unknown := unknown_routes(feed.routes, known):
                raise UnknownRoutes(tuple(unknown), tuple(sorted(known)))
        for team in feed.teams:
            if await self._lookups.team(team) is None:
                raise UnknownTeam(team)
        for policy in feed.policies:
            if await self._lookups.policy(policy) is None:
                raise UnknownPolicy(policy)

    def _require_admin(self, caller: str) -> None:
        if caller not in self._admins:
            raise NotAdmin(AdminOnly.FEEDS, self._admins)
