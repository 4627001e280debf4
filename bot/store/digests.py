"""Stored digests, and the slots claimed for them, shared by every replica through the database.

A digest comes from the YAML file (source "config", written again at every start: config as code wins) or
from `/vo digest add` (source "slack"). A slot is claimed under its local wall-clock key
(`bot.core.schedule.slot_key`); the first replica to insert the (digest, slot) row posts it, the others do not.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.digest import Digest, Source, WhenEmpty
from bot.store.db import Database
from bot.store.tables import DigestRow, DigestSlotRow
from bot.victorops.limits import Clock


def _digest(row: DigestRow) -> Digest:
    return Digest(
        name=row.name,
        channel=row.channel,
        schedule=row.schedule,
        timezone=row.timezone,
        when_empty=cast(WhenEmpty, row.when_empty),
        routes=tuple(row.routes),
        teams=tuple(row.teams),
        phases=tuple(row.phases),
        source=cast(Source, row.source),
        created_by=row.created_by,
    )


def _values(digest: Digest) -> dict[str, Any]:
    return {
        "name": digest.name,
        "channel": digest.channel,
        "schedule": digest.schedule,
        "timezone": digest.timezone,
        "when_empty": digest.when_empty,
        "routes": list(digest.routes),
        "teams": list(digest.teams),
        "phases": list(digest.phases),
        "source": digest.source,
        "created_by": digest.created_by,
    }


class DigestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Digest]:
        """Every digest, by name."""
        async with self._db.reading() as session:
            return [_digest(row) for row in await session.scalars(select(DigestRow).order_by(DigestRow.name))]

    async def get(self, name: str) -> Digest | None:
        async with self._db.reading() as session:
            row = await session.get(DigestRow, name)
            return _digest(row) if row else None

    async def in_channel(self, channel: str) -> list[Digest]:
        """The digests posted to this channel, by name."""
        async with self._db.reading() as session:
            rows = await session.scalars(select(DigestRow).where(DigestRow.channel == channel).order_by(DigestRow.name))
            return [_digest(row) for row in rows]

    async def put(self, digest: Digest) -> None:
        """Create the digest, or replace the one of the same name."""
        async with self._db.session() as session:
            await session.execute(self._upsert(digest, datetime.now(UTC)))

    def _upsert(self, digest: Digest, now: datetime) -> Insert:
        """Insert the digest or replace the one of its name, keeping when that was first created: one statement,
        so replicas syncing the same file at start cannot collide on the primary key."""
        values = _values(digest)
        replaced = {key: value for key, value in values.items() if key != "name"}
        return self._db.upsert(DigestRow, {**values, "created_at": now}, ["name"], update=replaced)

    async def remove(self, name: str) -> bool:
        """Delete the digest (its claimed slots stay); False when there was none."""
        async with self._db.session() as session:
            result = await session.execute(delete(DigestRow).where(DigestRow.name == name))
            return bool(getattr(result, "rowcount", 0))

    async def sync_config(self, digests: Sequence[Digest]) -> None:
        """Make the stored config digests those of the file, in one transaction.

        Each is written over any digest of its name, one made in Slack too (config as code wins); config
        digests no longer in the file are deleted; digests made in Slack stay.
        """
        now = datetime.now(UTC)
        async with self._db.session() as session:
            # by name: replicas starting together lock the rows in the same order, so they cannot deadlock
            for digest in sorted(digests, key=lambda d: d.name):
                await session.execute(self._upsert(digest, now))
            await session.execute(
                delete(DigestRow).where(DigestRow.source == "config", DigestRow.name.not_in([d.name for d in digests]))
            )


class SlotClaims:
    """Claims of digest slots by one replica (`holder`); among all replicas, the first claim of a slot wins."""

    def __init__(self, db: Database, holder: str, clock: Clock = time.time) -> None:
        self._db = db
        self.holder = holder
        self._clock = clock

    async def claim(self, digest: str, slot: str) -> bool:
        """Claim the slot (a `slot_key`); True only for the one call, on any replica, that inserted it."""
        row = DigestSlotRow(
            digest=digest, slot=slot, claimed_by=self.holder, claimed_at=datetime.fromtimestamp(self._clock(), UTC)
        )
        # Insert and let the primary key decide: a read-then-insert would let two replicas through. On
        # Postgres the second insert waits for the first to commit, then fails.
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    async def release(self, digest: str, slot: str) -> None:
        """Give a claimed slot back (its post failed), so that it can be claimed and posted again."""
        async with self._db.session() as session:
            await session.execute(
                delete(DigestSlotRow).where(DigestSlotRow.digest == digest, DigestSlotRow.slot == slot)
            )

    async def posted(self, digest: str, slot: str, ts: str) -> None:
        """Record the Slack message (its ts) posted for a claimed slot."""
        async with self._db.session() as session:
            await session.execute(
                update(DigestSlotRow)
                .where(DigestSlotRow.digest == digest, DigestSlotRow.slot == slot)
                .values(posted_ts=ts)
            )

    async def prune(self, keep: timedelta) -> None:
        """Forget claims older than `keep`: far past any grace period, they only grow the table."""
        cutoff = datetime.fromtimestamp(self._clock(), UTC) - keep
        async with self._db.session() as session:
            await session.execute(delete(DigestSlotRow).where(DigestSlotRow.claimed_at < cutoff))

    async def last(self, digest: str) -> str | None:
        """The latest slot claimed for the digest, by any replica; None before the first."""
        async with self._db.reading() as session:
            return await session.scalar(select(func.max(DigestSlotRow.slot)).where(DigestSlotRow.digest == digest))

    async def recent(self, digest: str, limit: int) -> list[tuple[str, str | None]]:
        """The latest claimed slots of the digest and their messages' ts (None if not posted), newest first."""
        async with self._db.reading() as session:
            rows = await session.execute(
                select(DigestSlotRow.slot, DigestSlotRow.posted_ts)
                .where(DigestSlotRow.digest == digest)
                .order_by(DigestSlotRow.slot.desc())
                .limit(limit)
            )
            return [(slot, ts) for slot, ts in rows]
