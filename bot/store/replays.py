"""Requests already taken, shared by every replica through the database: the primary key lets one insert in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import delete

from bot.store.db import Database
from bot.store.tables import SeenRequestRow
from bot.victorops.limits import Clock

PURGE_EVERY = 60.0  # seconds between deletions of expired rows, per replica


class SeenRequestStore:
    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock
        self._purged_at = 0.0

    async def first_time(self, key: str, expires_at: int) -> bool:
        now = self._clock()
        async with self._db.session() as session:
            if now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                await session.execute(
                    delete(SeenRequestRow).where(SeenRequestRow.expires_at < datetime.fromtimestamp(now, UTC))
                )
            # ON CONFLICT: the losing insert is a quiet None, not an IntegrityError; RETURNING says who won
            # (psycopg reports no rowcount for ON CONFLICT).
            row = {"key": key, "expires_at": datetime.fromtimestamp(expires_at, UTC)}
            won = await session.scalar(self._db.upsert(SeenRequestRow, row, ["key"]).returning(SeenRequestRow.key))
        return won is not None
