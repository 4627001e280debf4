"""The live feed's ports in memory, with the real stores' rules (bot/store/feeds.py, feed_cards.py): one claim per
(incident, channel), `release` only of a card not posted, `advance` only forward and only once, a minute's
positions in order. `RecordingPoster` is Slack as the core sees it: what was posted, edited and threaded."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.core.feed import RANK, Feed, FeedCard
from bot.core.feeds import Change, Rollup
from bot.core.refusals import PostRefused
from bot.victorops.models import Incident, Phase


class MemoryFeedStore:
    def __init__(self, *feeds: Feed, now: datetime | None = None) -> None:
        self.feeds: dict[str, Feed] = {}
        self.reads = 0
        for feed in feeds:
            self.feeds[feed.channel] = replace(feed, created_at=feed.created_at or now or datetime.now(UTC))

    async def all(self) -> list[Feed]:
        self.reads += 1
        return [self.feeds[c] for c in sorted(self.feeds)]

    async def get(self, channel: str) -> Feed | None:
        return self.feeds.get(channel)

    async def put(self, feed: Feed) -> Feed:
        old = self.feeds.get(feed.channel)
        stored = replace(feed, created_at=old.created_at if old else datetime.now(UTC))
        self.feeds[feed.channel] = stored
        return stored

    async def remove(self, channel: str) -> bool:
        return self.feeds.pop(channel, None) is not None

    async def sync_config(self, feeds: Sequence[Feed]) -> None:
        for channel in [c for c, f in self.feeds.items() if f.source == "config"]:
            del self.feeds[channel]
        for feed in feeds:
            await self.put(feed)


class MemoryCardStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], FeedCard] = {}
        self.rolled_up_claims: set[tuple[str, str]] = set()  # a claim here never goes stale: only recorded

    async def claim(self, number: str, channel: str, phase: Phase) -> bool:
        if (number, channel) in self.rows:
            return False
        self.rows[number, channel] = FeedCard(number, channel, None, phase)
        return True

    async def posted(self, number: str, channel: str, ts: str) -> None:
        if card := self.rows.get((number, channel)):
            self.rows[number, channel] = replace(card, ts=ts)

    async def release(self, number: str, channel: str) -> None:
        if (card := self.rows.get((number, channel))) and card.ts is None:
            del self.rows[number, channel]

    async def rolled_up(self, number: str, channel: str) -> None:
        self.rolled_up_claims.add((number, channel))

    async def advance(self, number: str, channel: str, phase: Phase) -> bool:
        card = self.rows.get((number, channel))
        if card is None or card.ts is None or RANK[card.phase] >= RANK[phase]:
            return False
        self.rows[number, channel] = replace(card, phase=phase)
        return True

    async def cards(self, numbers: Sequence[str]) -> list[FeedCard]:
        return [c for c in self.rows.values() if c.number in numbers]

    async def open_cards(self, channels: Sequence[str]) -> list[FeedCard]:
        return [
            c
            for c in self.rows.values()
            if c.ts is not None and c.phase is not Phase.RESOLVED and c.channel in channels
        ]


class MemoryRollups:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[list[str], str | None]] = {}

    async def add(self, channel: str, minute: str, number: str) -> int:
        numbers, _ = self.rows.setdefault((channel, minute), ([], None))
        if number not in numbers:
            numbers.append(number)
        return numbers.index(number)

    async def rollup(self, channel: str, minute: str, limit: int) -> Rollup:
        numbers, ts = self.rows.get((channel, minute), ([], None))
        return Rollup(channel, minute, tuple(numbers[limit:]), ts)

    async def posted(self, channel: str, minute: str, ts: str) -> None:
        numbers, _ = self.rows[channel, minute]
        self.rows[channel, minute] = (numbers, ts)


@dataclass
class Sent:
    kind: str  # post | update | thread | rollup
    channel: str
    ts: str
    what: object  # the incident, the change, or the rollup


@dataclass
class RecordingPoster:
    sent: list[Sent] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def of(self, kind: str, channel: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind and channel in (None, s.channel)]

    async def post(self, channel: str, incident: Incident) -> str:
        self._maybe_fail()
        ts = f"{next(self._ts)}.000"
        self.sent.append(Sent("post", channel, ts, incident))
        return ts

    async def update(self, channel: str, ts: str, incident: Incident) -> None:
        self._maybe_fail()
        self.sent.append(Sent("update", channel, ts, incident))

    async def thread(self, channel: str, ts: str, change: Change) -> None:
        self._maybe_fail()
        self.sent.append(Sent("thread", channel, ts, change))

    async def rollup(self, feed: Feed, rollup: Rollup) -> str:
        self._maybe_fail()
        ts = rollup.ts or f"{next(self._ts)}.000"
        self.sent.append(Sent("rollup", feed.channel, ts, rollup))
        return ts


def refused(channel: str) -> PostRefused:
    return PostRefused(channel, f"vobot is not in {channel}")
