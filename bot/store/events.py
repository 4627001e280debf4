"""VictorOps' webhook deliveries (`incident_events`): stored once each, before they are answered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from bot.core.ingest import StoredEvent
from bot.store.db import Database
from bot.store.tables import IncidentEventRow


class EventStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, key: str, number: str, phase: str, body: Mapping[str, Any], at: datetime) -> int | None:
        """The new row's id, or None when a delivery with this key is already stored (insert or nothing)."""
        values = {"key": key, "received_at": at, "number": number, "phase": phase, "body": dict(body)}
        async with self._db.session() as session:
            inserted = await session.execute(
                self._db.upsert(IncidentEventRow, values, ["key"]).returning(IncidentEventRow.id)
            )
            return inserted.scalar_one_or_none()

    async def processed(self, event_id: int, at: datetime) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(IncidentEventRow)
                .where(IncidentEventRow.id == event_id, IncidentEventRow.processed_at.is_(None))
                .values(processed_at=at)
            )

    async def unprocessed(self) -> list[StoredEvent]:
        """Oldest first, so a late redelivery is applied after what came before it."""
        async with self._db.reading() as session:
            rows = await session.scalars(
                select(IncidentEventRow).where(IncidentEventRow.processed_at.is_(None)).order_by(IncidentEventRow.id)
            )
            return [StoredEvent(r.id, r.received_at, r.body) for r in rows]

    async def last_received(self) -> datetime | None:
        async with self._db.reading() as session:
            found: datetime | None = await session.scalar(select(func.max(IncidentEventRow.received_at)))
            return found
