"""Stored Slack -> VictorOps links: one row per Slack user, shared by every replica through the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from bot.core.identity import Link
from bot.store.db import Database
from bot.store.tables import UserLink


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
                select(UserLink).where(func.lower(UserLink.vo_username) == vo_username.lower())
            )
            return [_link(row) for row in rows]

    async def all(self) -> list[Link]:
        async with self._db.reading() as session:
            return [_link(row) for row in await session.scalars(select(UserLink).order_by(UserLink.slack_user_id))]

    async def put(self, link: Link) -> Link:
        """Create or replace the link of `link.slack_user_id`."""
        stamped = Link(link.slack_user_id, link.vo_username, link.source, link.linked_by, datetime.now(UTC))
        async with self._db.session() as session:
            await session.merge(_row(stamped))
        return stamped

    async def put_many(self, links: Iterable[Link]) -> int:
        """Write several links in one transaction: all or none."""
        now = datetime.now(UTC)
        count = 0
        async with self._db.session() as session:
            for link in links:
                await session.merge(_row(Link(link.slack_user_id, link.vo_username, link.source, link.linked_by, now)))
                count += 1
        return count

    async def delete(self, slack_user_id: str) -> bool:
        async with self._db.session() as session:
            result = await session.execute(delete(UserLink).where(UserLink.slack_user_id == slack_user_id))
            return bool(getattr(result, "rowcount", 0))


def _row(link: Link) -> UserLink:
    assert link.at is not None
    return UserLink(
        slack_user_id=link.slack_user_id,
        vo_username=link.vo_username,
        source=link.source,
        linked_by=link.linked_by,
        at=link.at,
    )
