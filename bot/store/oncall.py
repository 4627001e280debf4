"""The last on-call seen per team, and what each on-call user group was last set to: a compare-and-set decides
which replica handles a change, and a claim stays pending until it is done (bot.core.oncall)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.oncall import Seen
from bot.store.db import Database
from bot.store.tables import OnCallSeenRow


def _held(key: str, seen: Seen) -> tuple[Any, ...]:
    """The row, only while it still holds `seen` (what this replica wrote or read)."""
    pending = (
        OnCallSeenRow.pending_at.is_(None) if seen.pending_at is None else OnCallSeenRow.pending_at == seen.pending_at
    )
    return (
        OnCallSeenRow.key == key,
        OnCallSeenRow.users == seen.users,
        OnCallSeenRow.asked_at == seen.asked_at,
        pending,
    )


class OnCallSeen:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, Seen]:
        async with self._db.reading() as session:
            rows = (await session.execute(select(OnCallSeenRow))).scalars()
            return {row.key: Seen(row.users, row.asked_at, row.was, row.pending_at) for row in rows}

    async def claim(self, key: str, before: str | None, after: str, asked_at: float, pending_at: float | None) -> bool:
        if before is None:  # first sight: the one INSERT that gets in
            try:
                async with self._db.session() as session:
                    session.add(OnCallSeenRow(key=key, users=after, asked_at=asked_at, pending_at=pending_at))
            except IntegrityError:
                return False
            return True
        async with self._db.session() as session:
            result = await session.execute(
                update(OnCallSeenRow)
                .where(OnCallSeenRow.key == key, OnCallSeenRow.users == before, OnCallSeenRow.asked_at <= asked_at)
                .values(users=after, asked_at=asked_at, was=before, pending_at=pending_at)
            )
            return bool(getattr(result, "rowcount", 0))

    async def retake(self, key: str, held: Seen, at: float) -> bool:
        async with self._db.session() as session:
            result = await session.execute(update(OnCallSeenRow).where(*_held(key, held)).values(pending_at=at))
            return bool(getattr(result, "rowcount", 0))

    async def done(self, key: str, took: Seen) -> None:
        async with self._db.session() as session:
            await session.execute(update(OnCallSeenRow).where(*_held(key, took)).values(was=None, pending_at=None))

    async def give_back(self, key: str, took: Seen, back: Seen | None) -> None:
        async with self._db.session() as session:
            if back is None:
                await session.execute(delete(OnCallSeenRow).where(*_held(key, took)))
            else:
                values = {"users": back.users, "asked_at": back.asked_at, "was": None, "pending_at": None}
                await session.execute(update(OnCallSeenRow).where(*_held(key, took)).values(**values))
