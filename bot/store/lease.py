"""A lease in the database: of the replicas asking for it, one holds it; it passes on when its holder stops renewing.

The holder should renew well within `ttl` (e.g. every ttl/3). Expiry compares one replica's clock with
another's, so their clocks must agree to much better than `ttl` (NTP does).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import or_, select, update

from bot.store.db import Database
from bot.store.tables import LeaseRow
from bot.victorops.limits import Clock

_RELEASED = datetime.fromtimestamp(0, UTC)  # expired for every clock


class Lease:
    def __init__(self, db: Database, name: str, holder: str, ttl: float = 10.0, clock: Clock = time.time) -> None:
        self._db = db
        self.name = name
        self.holder_id = holder
        self.ttl = ttl
        self._clock = clock

    async def acquire(self) -> bool:
        """Take the lease when it is free or expired, or renew it when ours; True when we hold it now."""
        now = self._clock()
        expires_at = datetime.fromtimestamp(now + self.ttl, UTC)
        # Each statement decides on its own, so two replicas cannot both win: Postgres re-checks the
        # UPDATE's condition on the row the other one just wrote; SQLite runs one transaction at a time.
        async with self._db.session() as session:
            taken = await session.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.name == self.name,
                    or_(LeaseRow.holder == self.holder_id, LeaseRow.expires_at < datetime.fromtimestamp(now, UTC)),
                )
                .values(holder=self.holder_id, expires_at=expires_at)
            )
            if getattr(taken, "rowcount", 0):
                return True
            # Nothing updated: held by another, or never taken. ON CONFLICT makes the first-time race a
            # quiet loss instead of an IntegrityError that would abort the transaction. RETURNING says
            # whether we inserted: psycopg reports no rowcount (-1) for ON CONFLICT.
            values = {"name": self.name, "holder": self.holder_id, "expires_at": expires_at}
            created = await session.scalar(self._db.upsert(LeaseRow, values, ["name"]).returning(LeaseRow.name))
            return created is not None

    async def release(self) -> None:
        """Give the lease up now, if we hold it, so another replica need not wait for it to expire."""
        async with self._db.session() as session:
            await session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder_id)
                .values(expires_at=_RELEASED)
            )

    async def holder(self) -> str | None:
        """Who holds the lease now; None when nobody does."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        async with self._db.reading() as session:
            return await session.scalar(
                select(LeaseRow.holder).where(LeaseRow.name == self.name, LeaseRow.expires_at >= now)
            )
