"""Server-side context of modals and link prompts, shared by every replica (a modal opened through one may be
submitted to another)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from bot.core.contexts import SPENT, Saved
from bot.store.db import Database
from bot.store.tables import InteractionContextRow

# An expired row is kept this long, so a late click is told it expired rather than that it is unknown.
KEEP_EXPIRED = timedelta(days=1)


class SavedContexts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, saved: Saved) -> None:
        """Store a new context, and drop the ones long expired (no separate clean-up job to forget)."""
        async with self._db.session() as session:
            old = datetime.now(UTC) - KEEP_EXPIRED
            await session.execute(delete(InteractionContextRow).where(InteractionContextRow.expires_at < old))
            session.add(
                InteractionContextRow(
                    token=saved.token,
                    kind=saved.kind,
                    slack_user_id=saved.slack_user_id,
                    body=saved.body,
                    expires_at=saved.expires_at,
                )
            )

    async def get(self, token: str) -> Saved | None:
        async with self._db.reading() as session:
            row = await session.get(InteractionContextRow, token)
            return Saved(row.token, row.kind, row.slack_user_id, row.body, row.expires_at) if row else None

    async def spend(self, token: str, kind: str) -> bool:
        """A conditional UPDATE: of two submissions of one confirmation, only one changes the row."""
        async with self._db.session() as session:
            row = InteractionContextRow
            spent = await session.execute(update(row).where(row.token == token, row.kind == kind).values(kind=SPENT))
            return bool(getattr(spent, "rowcount", 0))
