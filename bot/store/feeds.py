"""Stored feeds, one per channel, shared by every replica through the database.

A feed comes from the YAML file (source "config", written again at every start: config as code wins) or from
`/vo subscribe` (source "slack"). Replacing a feed keeps when it was first made: incidents that started before
then are its backlog, and a change of filters must not turn them into new cards.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Insert, delete, select

from bot.core.feed import Feed, Source
from bot.store.db import Database
from bot.store.tables import FeedRow


def _feed(row: FeedRow) -> Feed:
    return Feed(
        channel=row.channel,
        routes=tuple(row.routes),
        teams=tuple(row.teams),
        policies=tuple(row.policies),
        remind_unacked=row.remind_unacked,
        remind_acked=row.remind_acked,
        handoff=row.handoff,
        max_cards_per_minute=row.max_cards_per_minute,
        source=cast(Source, row.source),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _values(feed: Feed) -> dict[str, Any]:
    return {
        "channel": feed.channel,
        "routes": list(feed.routes),
        "teams": list(feed.teams),
        "policies": list(feed.policies),
        "remind_unacked": feed.remind_unacked,
        "remind_acked": feed.remind_acked,
        "handoff": feed.handoff,
        "max_cards_per_minute": feed.max_cards_per_minute,
        "source": feed.source,
        "created_by": feed.created_by,
    }


class FeedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Feed]:
        """Every feed, by channel."""
        async with self._db.reading() as session:
            return [_feed(row) for row in await session.scalars(select(FeedRow).order_by(FeedRow.channel))]

    async def get(self, channel: str) -> Feed | None:
        async with self._db.reading() as session:
            row = await session.get(FeedRow, channel)
            return _feed(row) if row else None

    async def put(self, feed: Feed) -> Feed:
        """Create the channel's feed, or replace it; returns it as stored, with when it was first made."""
        async with self._db.session() as session:
            await session.execute(self._upsert(feed, datetime.now(UTC)))
            row = await session.scalar(select(FeedRow).where(FeedRow.channel == feed.channel))
            assert row is not None  # written just above, in this transaction
            return _feed(row)

    def _upsert(self, feed: Feed, now: datetime) -> Insert:
        """Insert the feed or replace the channel's, keeping `created_at`: one statement, so two subscribes of
        one channel (or replicas syncing the same file) cannot both find it missing."""
        values = _values(feed)
        replaced = {key: value for key, value in values.items() if key != "channel"}
        return self._db.upsert(FeedRow, {**values, "created_at": now}, ["channel"], update=replaced)

    async def remove(self, channel: str) -> bool:
        """Delete the channel's feed (its cards stay, so it never reposts them); False when there was none."""
        async with self._db.session() as session:
            result = await session.execute(delete(FeedRow).where(FeedRow.channel == channel))
            return bool(getattr(result, "rowcount", 0))

    async def sync_config(self, feeds: Sequence[Feed]) -> None:
        """Make the stored config feeds those of the file, in one transaction.

        Each is written over any feed of its channel, one made in Slack too (config as code wins); config feeds
        no longer in the file are deleted; feeds made in Slack stay.
        """
        now = datetime.now(UTC)
        async with self._db.session() as session:
            # by channel: replicas starting together lock the rows in the same order, so they cannot deadlock
            for feed in sorted(feeds, key=lambda f: f.channel):
                await session.execute(self._upsert(feed, now))
            await session.execute(
                delete(FeedRow).where(FeedRow.source == "config", FeedRow.channel.not_in([f.channel for f in feeds]))
            )
