"""Sliding windows on channel posts, shared by every replica: at most `count` posts per `period` seconds a key.

A window is `count` slots, each holding the time of its last post. Taking a slot is one statement — an upsert
that writes only when the slot is free or its post has left the window — so two replicas can never both take
the last one: the database decides, on SQLite and Postgres alike. Rows stay (a few per person and channel).
"""

from __future__ import annotations

import time

from sqlalchemy import delete, func, select

from bot.store.db import Database
from bot.store.tables import PostLimitRow
from bot.victorops.limits import Clock, RateSpec


class PostWindows:
    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock

    async def take(self, key: str, spec: RateSpec) -> float:
        """Take a post for `key`: 0 when it may go out now, else nothing is taken and the seconds until one may."""
        async with self._db.session() as session:
            now = self._clock()
            for slot in range(spec.count):
                # a slot is taken when free, or when its post has left the window
                taken = await session.execute(
                    self._db.upsert(
                        PostLimitRow,
                        {"key": key, "slot": slot, "at": now},
                        ["key", "slot"],
                        update={"at": now},
                        where=PostLimitRow.at <= now - spec.period,
                    ).returning(PostLimitRow.slot)
                )
                if taken.first() is not None:
                    return 0.0
            oldest = await session.scalar(select(func.min(PostLimitRow.at)).where(PostLimitRow.key == key))
            return max(0.0, (oldest or now) + spec.period - now)

    async def give_back(self, key: str) -> None:
        """Free the slot of `key`'s newest post: it did not go out after all."""
        async with self._db.session() as session:
            newest = await session.scalar(
                select(PostLimitRow.slot).where(PostLimitRow.key == key).order_by(PostLimitRow.at.desc()).limit(1)
            )
            if newest is not None:
                await session.execute(delete(PostLimitRow).where(PostLimitRow.key == key, PostLimitRow.slot == newest))
