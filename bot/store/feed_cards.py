"""The live feed's cards and storm minutes, shared by every replica: the database decides who posts and who edits.

A card is one `feed_cards` row per (incident, channel): the first insert wins the post, and its phase moves
forward only through one conditional UPDATE, so each change is drawn once. A storm minute is one `feed_rollups`
row per (channel, minute) holding every new incident of that minute in order (not only those past the limit:
the position decides card or rolled-up message, for all replicas alike).

A claim whose post never stored its ts (the process died in between) is taken over once it is `STALE`, by one
conditional UPDATE, so exactly one replica posts it on its next reconcile. The trade-off: a crash after Slack
accepted the post but before the ts was stored (one database write) posts the card twice, where otherwise a crash
anywhere between claim and ts would lose the card for good.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.feed import RANK, FeedCard
from bot.core.feeds import MINUTE, Rollup, minute_of
from bot.store.db import Database
from bot.store.tables import FeedCardRow, FeedRollupRow
from bot.victorops.limits import Clock
from bot.victorops.models import Phase

KEEP = timedelta(days=1)  # a storm minute's row, after which nobody edits its message
# A claim's post waits for its channel's turn (bot/slack/feed.py `Turns`: one post a second, in order of asking) and
# Slack's 429s (three Retry-Afters): at the default 10 cards a minute plus their thread lines, seconds. Only a
# channel asked for more than a post a second for minutes on end (a limit near 60, every card changing) queues
# longer, so five minutes without a ts means the claimer is gone; a crashed card waits that long for its post.
STALE = timedelta(minutes=5)
ROLLED_UP = "rolled-up"  # `claimed_by` of a claim shown in its minute's rolled-up message: it has no ts of its own


class CardStore:
    """`bot.core.feed.CardStore` for one replica (`holder`)."""

    def __init__(self, db: Database, holder: str, clock: Clock = time.time) -> None:
        self._db = db
        self.holder = holder
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def claim(self, number: str, channel: str, phase: Phase) -> bool:
        """True only for the one call, on any replica, whose insert made the row (on Postgres the second insert
        waits for the first to commit, then fails), or whose UPDATE took over a stale claim (on Postgres the second
        UPDATE waits for the first, then finds the claim fresh)."""
        now = self._now()
        row = FeedCardRow(
            number=number, channel=channel, ts=None, phase=phase.value, claimed_by=self.holder, claimed_at=now,
            updated_at=now,
        )  # fmt: skip
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError:
            return await self._take_over(number, channel, phase, now)
        return True

    async def _take_over(self, number: str, channel: str, phase: Phase, now: datetime) -> bool:
        async with self._db.session() as session:
            result = await session.execute(
                update(FeedCardRow)
                .where(
                    FeedCardRow.number == number,
                    FeedCardRow.channel == channel,
                    FeedCardRow.ts.is_(None),
                    FeedCardRow.claimed_by != ROLLED_UP,
                    FeedCardRow.claimed_at < now - STALE,
                )
                .values(phase=phase.value, claimed_by=self.holder, claimed_at=now, updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    async def rolled_up(self, number: str, channel: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(FeedCardRow)
                .where(FeedCardRow.number == number, FeedCardRow.channel == channel, FeedCardRow.ts.is_(None))
                .values(claimed_by=ROLLED_UP, updated_at=self._now())
            )

    async def posted(self, number: str, channel: str, ts: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(FeedCardRow)
                .where(FeedCardRow.number == number, FeedCardRow.channel == channel)
                .values(ts=ts, updated_at=self._now())
            )

    async def release(self, number: str, channel: str) -> None:
        """Only a card not posted: one with a ts is the message every later edit goes to."""
        async with self._db.session() as session:
            await session.execute(
                delete(FeedCardRow).where(
                    FeedCardRow.number == number, FeedCardRow.channel == channel, FeedCardRow.ts.is_(None)
                )
            )

    async def advance(self, number: str, channel: str, phase: Phase) -> bool:
        """Move a posted card's phase forward; True for the one UPDATE that did (an older phase never wins)."""
        behind = [p.value for p in Phase if RANK[p] < RANK[phase]]
        async with self._db.session() as session:
            result = await session.execute(
                update(FeedCardRow)
                .where(
                    FeedCardRow.number == number,
                    FeedCardRow.channel == channel,
                    FeedCardRow.ts.is_not(None),
                    FeedCardRow.phase.in_(behind),
                )
                .values(phase=phase.value, updated_at=self._now())
            )
            return bool(getattr(result, "rowcount", 0))

    async def cards(self, numbers: Sequence[str]) -> list[FeedCard]:
        """Without stale claims: for the core those are no card yet, so it claims (takes over) and posts them."""
        if not numbers:
            return []
        live = or_(
            FeedCardRow.ts.is_not(None),
            FeedCardRow.claimed_by == ROLLED_UP,
            FeedCardRow.claimed_at >= self._now() - STALE,
        )
        async with self._db.reading() as session:
            rows = await session.scalars(select(FeedCardRow).where(FeedCardRow.number.in_(list(numbers)), live))
            return [FeedCard(r.number, r.channel, r.ts, Phase(r.phase)) for r in rows]

    async def open_cards(self, channels: Sequence[str]) -> list[FeedCard]:
        """The posted cards in `channels` of incidents not resolved (as drawn), by the phase index: what reminders
        look at (a channel no longer a feed's keeps its cards, which are not read)."""
        if not channels:
            return []
        unresolved = [Phase.UNACKED.value, Phase.ACKED.value]
        async with self._db.reading() as session:
            rows = await session.scalars(
                select(FeedCardRow).where(
                    FeedCardRow.phase.in_(unresolved),
                    FeedCardRow.ts.is_not(None),
                    FeedCardRow.channel.in_(list(channels)),
                )
            )
            return [FeedCard(r.number, r.channel, r.ts, Phase(r.phase)) for r in rows]


class RollupStore:
    """`bot.core.feeds.Rollups` over `feed_rollups`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, channel: str, minute: str, number: str) -> int:
        """The incident's position among the minute's new ones; the row is locked while it is appended to (SQLite
        takes the write lock at BEGIN), so two replicas never get the same position. Making a minute's row drops
        the channel's minutes older than `KEEP`: nobody edits those any more."""
        async with self._db.session() as session:
            made = await session.execute(
                self._db.upsert(
                    FeedRollupRow,
                    {"channel": channel, "minute": minute, "ts": None, "numbers": []},
                    ["channel", "minute"],
                )
            )
            if getattr(made, "rowcount", 0):
                cutoff = minute_of(datetime.strptime(minute, MINUTE).replace(tzinfo=UTC) - KEEP)
                await session.execute(
                    delete(FeedRollupRow).where(FeedRollupRow.channel == channel, FeedRollupRow.minute < cutoff)
                )
            row = await session.scalar(
                select(FeedRollupRow)
                .where(FeedRollupRow.channel == channel, FeedRollupRow.minute == minute)
                .with_for_update()
            )
            assert row is not None  # inserted or already there, and locked
            if number in row.numbers:
                return row.numbers.index(number)
            row.numbers = [*row.numbers, number]  # a new list: SQLAlchemy sees a JSON column change by assignment
            return len(row.numbers) - 1

    async def rollup(self, channel: str, minute: str, limit: int) -> Rollup:
        async with self._db.reading() as session:
            row = await session.get(FeedRollupRow, (channel, minute))
            if row is None:
                return Rollup(channel, minute, (), None)
            return Rollup(channel, minute, tuple(row.numbers[limit:]), row.ts)

    async def posted(self, channel: str, minute: str, ts: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(FeedRollupRow)
                .where(FeedRollupRow.channel == channel, FeedRollupRow.minute == minute)
                .values(ts=ts)
            )
