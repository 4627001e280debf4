"""The last on-call seen per team, and what each on-call user group was last set to: a compare-and-set decides
which replica handles a change (bot.core.oncall)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.oncall import Seen
from bot.store.db import Database
from bot.store.tables import OnCallSeenRow


class OnCallSeen:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, Seen]:
        async with self._db.reading() as session:
            rows = (await session.execute(select(OnCallSeenRow))).scalars()
            return {row.key: Seen(row.users, row.asked_at) for row in rows}

    async def claim(self, key: str, before: str | None, after: str, asked_at: float) -> bool:
        if before is None:  # first sight: the one INSERT that gets in
            try:
                async with self._db.session() as session:
                    session.add(OnCallSeenRow(key=key, users=after, asked_at=asked_at))
            except IntegrityError:
                return False
            return True
        async with self._db.session() as session:
            result = await session.execute(
                update(OnCallSeenRow)
                .where(OnCallSeenRow.key == key, OnCallSeenRow.users == before, OnCallSeenRow.asked_at <= asked_at)
                .values(users=after, asked_at=asked_at)
            )
            return bool(getattr(result, "rowcount", 0))

    async def give_back(self, key: str, took: Seen, back: Seen | None) -> None:
        mine = (OnCallSeenRow.key == key, OnCallSeenRow.users == took.users, OnCallSeenRow.asked_at == took.asked_at)
        async with self._db.session() as session:
            if back is None:
                await session.execute(delete(OnCallSeenRow).where(*mine))
            else:
                await session.execute(
                    update(OnCallSeenRow).where(*mine).values(users=back.users, asked_at=back.asked_at)
                )
