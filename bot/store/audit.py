"""The audit log: every action taken from Slack, with its result, in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from bot.store.db import Database
from bot.store.tables import AuditLog


class AuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        slack_user_id: str,
        vo_username: str | None,
        action: str,
        incidents: Sequence[str],
        result: str,
        detail: str | None = None,
    ) -> None:
        async with self._db.session() as session:
            session.add(
                AuditLog(
                    at=datetime.now(UTC),
                    slack_user_id=slack_user_id,
                    vo_username=vo_username,
                    action=action,
                    incidents=list(incidents),
                    result=result[:32],
                    detail=detail,
                )
            )

    async def recent(self, limit: int = 100) -> list[AuditLog]:
        async with self._db.reading() as session:
            rows = await session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
            return list(rows)
