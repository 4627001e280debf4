"""Stored Slack -> VictorOps links: one row per Slack user, shared by every replica through the database.

The unique index LIVE_LINK_INDEX keeps a VictorOps user to one Slack user; a write it refuses raises the
core's VictorOpsUserTaken.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.identity import UNLINKED, Link, VictorOpsUserTaken
from bot.store.db import Database
from bot.store.tables import LIVE_LINK_INDEX, UserLink


def _link(row: UserLink) -> Link:
    return Link(row.slack_user_id, row.vo_username, row.source, row.linked_by, row.at)  # type: ignore[arg-type]


class LinkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, slack_user_id: str) -> Link | None:
        async with self._db.reading() as session:
            row = await session.get(UserLink, slack_user_id)
            return _link(row) if row else None

    async def holders(self, vo_username: str) -> list[Link]:
        """Who is linked to this VictorOps user (case-insensitive, as VictorOps usernames are)."""
        async with self._db.reading() as session:
            rows = await session.scalars(
                select(UserLink).where(
                    func.lower(UserLink.vo_username) == vo_username.lower(), UserLink.source != UNLINKED
                )
            )
            return [_link(row) for row in rows]

    async def all(self) -> list[Link]:
        async with self._db.reading() as session:
            return [_link(row) for row in await session.scalars(select(UserLink).order_by(UserLink.slack_user_id))]

    async def put(self, link: Link) -> Link:
        """Create or replace the link of `link.slack_user_id`."""
        stamped = Link(link.slack_user_id, link.vo_username, link.source, link.linked_by, datetime.now(UTC))
        async with self._db.session() as session:
            await self._upsert(session, stamped)
        return stamped

    async def put_many(self, links: Iterable[Link]) -> int:
        """Write several links in one transaction: all or none."""
        now = datetime.now(UTC)
        stamped = [Link(link.slack_user_id, link.vo_username, link.source, link.linked_by, now) for link in links]
        async with self._db.session() as session:
            # Out with the old rows first: the index is checked per statement, so two people swapping
            # VictorOps users would otherwise collide halfway.
            await session.execute(
                delete(UserLink).where(UserLink.slack_user_id.in_([s.slack_user_id for s in stamped]))
            )
            for link in stamped:
                await self._upsert(session, link)
        return len(stamped)

    async def delete(self, slack_user_id: str) -> bool:
        async with self._db.session() as session:
            result = await session.execute(delete(UserLink).where(UserLink.slack_user_id == slack_user_id))
            return bool(getattr(result, "rowcount", 0))

    async def _upsert(self, session: AsyncSession, link: Link) -> None:
        # INSERT … ON CONFLICT rather than read-then-write: two writers of one Slack user's row cannot both
        # find it missing and collide on the primary key.
        values = {
            "slack_user_id": link.slack_user_id,
            "vo_username": link.vo_username,
            "source": link.source,
            "linked_by": link.linked_by,
            "at": link.at,
        }
        try:
            await session.execute(self._db.upsert(UserLink, values, ["slack_user_id"], update=values))
        except IntegrityError as exc:
            if LIVE_LINK_INDEX in str(exc.orig):
                raise VictorOpsUserTaken(link.vo_username) from exc
            raise
