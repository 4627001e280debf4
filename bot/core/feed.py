"""A live feed: which incidents a channel gets as cards, and the ports that keep each card posted exactly once.

The types and ports here are shared by the three parts of the feed: where changes come from (VictorOps'
webhook and polling, `bot.core.ingest`), where feeds are defined (the YAML file and `/vo subscribe`,
`bot.core.feed_admin`), and what posts and edits the cards (`bot.core.feeds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.core.incidents import RANK as RANK  # beside the view, which moves phases forward too
from bot.core.incidents import IncidentFilter
from bot.victorops.models import Incident, Phase

Source = Literal["config", "slack"]  # the YAML file, or `/vo subscribe`

DEFAULT_REMIND_UNACKED = 15 * 60
DEFAULT_REMIND_ACKED = 4 * 3600
DEFAULT_MAX_CARDS_PER_MINUTE = 10


@dataclass(frozen=True)
class Feed:
    channel: str  # a Slack channel ID; one feed per channel
    routes: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()  # escalation policy slugs
    remind_unacked: int | None = DEFAULT_REMIND_UNACKED  # seconds; None: off
    remind_acked: int | None = DEFAULT_REMIND_ACKED
    handoff: bool = False
    max_cards_per_minute: int = DEFAULT_MAX_CARDS_PER_MINUTE
    source: Source = "config"
    created_by: str | None = None  # the Slack user who subscribed, for source "slack"
    created_at: datetime | None = None  # set by the store; incidents that started before it are not posted

    def matches(self, incident: Incident) -> bool:
        """Whether the incident belongs in this feed, whatever its phase."""
        wanted = IncidentFilter(
            phases=frozenset(RANK), routes=frozenset(self.routes), teams=frozenset(self.teams)
        ).matches(incident)
        if not wanted or not self.policies:
            return wanted
        slugs = {p.policy.slug.lower() for p in incident.paged_policies}
        return bool(slugs & {p.lower() for p in self.policies})


class FeedStore(Protocol):
    """The feeds, shared by every replica (bot.store.feeds)."""

    async def all(self) -> list[Feed]: ...
    async def get(self, channel: str) -> Feed | None: ...
    async def put(self, feed: Feed) -> Feed: ...  # returns it as stored (created_at kept when replacing)
    async def remove(self, channel: str) -> bool: ...
    async def sync_config(self, feeds: Sequence[Feed]) -> None: ...


@dataclass(frozen=True)
class FeedCard:
    number: str
    channel: str
    ts: str | None  # None while its post is in flight (or failed and was released)
    phase: Phase  # as last drawn


class CardStore(Protocol):
    """Each incident's card per channel (bot.store.feed_cards): the database decides who posts and who edits."""

    async def claim(self, number: str, channel: str, phase: Phase) -> bool: ...  # True for the one claim that wins
    async def posted(self, number: str, channel: str, ts: str) -> None: ...
    async def release(self, number: str, channel: str) -> None: ...  # the post failed: the next try may claim
    async def rolled_up(self, number: str, channel: str) -> None: ...  # shown in the rolled-up message: kept claimed
    async def advance(self, number: str, channel: str, phase: Phase) -> bool: ...  # True once per forward move
    async def cards(self, numbers: Sequence[str]) -> list[FeedCard]: ...


class Reconciler(Protocol):
    """What the sources of changes hand incidents to (bot.core.feeds.FeedSync): post what is new in each feed,
    edit what changed. Each incident is judged on its own, so a webhook's one and a poll's whole list are alike."""

    async def reconcile(self, incidents: Sequence[Incident]) -> None: ...
