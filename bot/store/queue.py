"""The durable action queue: every ack/resolve/reroute/create is written here first, then sent within budget.

Statuses: pending (waiting to be sent, not before `not_before`), sending (handed to VictorOps; a row still
sending after a restart was interrupted mid-send), done, failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.outcomes import MINE, Verb, verb_name
from bot.core.queue import QueuedAction
from bot.store.db import Database
from bot.store.tables import QueuedActionRow
from bot.victorops.limits import Clock

ACTIVE = ("pending", "sending")
FINISHED = ("done", "failed")


READ_MINE = {stored: verb for verb, stored in MINE.items()}  # the verb column names "mine" as it always did


def _action(row: QueuedActionRow) -> QueuedAction:
    mine = row.verb in READ_MINE
    return QueuedAction(
        id=row.id,
        created_at=row.created_at,
        verb=READ_MINE[row.verb] if mine else Verb(row.verb),
        mine=mine,
        vo_username=row.vo_username,
        slack_user_id=row.slack_user_id,
        slack_name=row.slack_name,
        incidents=tuple(row.incidents),
        payload=row.payload,
        reply=row.reply,
        status=row.status,
        attempts=row.attempts,
        not_before=row.not_before,
        sent_at=row.sent_at,
        finished_at=row.finished_at,
        result=row.result,
        error=row.error,
        handed_off=row.handed_off,
        dedupe_key=row.dedupe_key,
        told=row.told,
    )


class ActionQueue:
    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def enqueue(
        self,
        *,
        verb: Verb,
        mine: bool = False,
        vo_username: str,
        slack_user_id: str,
        slack_name: str,
        incidents: Sequence[str],
        payload: dict[str, Any],
        reply: dict[str, Any],
        dedupe_key: str | None,
    ) -> tuple[QueuedAction, bool]:
        """Add a pending action; returns it and True, or the unfinished action with `dedupe_key` and False."""
        while True:
            row = QueuedActionRow(
                created_at=self._now(),
                verb=verb_name(verb, mine),
                vo_username=vo_username,
                slack_user_id=slack_user_id,
                slack_name=slack_name,
                incidents=list(incidents),
                payload=payload,
                reply=reply,
                status="pending",
                attempts=0,
                handed_off=False,
                told=False,
                dedupe_key=dedupe_key,
            )
            # Insert first and let the unique key decide: a read-then-insert would let two clicks through.
            # The failed insert aborts its transaction (on Postgres the whole of it), so the read is a new one.
            try:
                async with self._db.session() as session:
                    session.add(row)
                return _action(row), True
            except IntegrityError:
                if dedupe_key is None:
                    raise
            async with self._db.session() as session:
                existing = await session.scalar(select(QueuedActionRow).where(QueuedActionRow.dedupe_key == dedupe_key))
            if existing is not None:
                return _action(existing), False
            # it finished (and released its key) in between: this click is a new action

    async def get(self, action_id: int) -> QueuedAction | None:
        async with self._db.reading() as session:
            row = await session.get(QueuedActionRow, action_id)
            return _action(row) if row else None

    async def pending(self, now: float | None = None) -> list[QueuedAction]:
        """Pending actions that may be sent at `now` (default: the clock), oldest first."""
        at = datetime.fromtimestamp(self._clock() if now is None else now, UTC)
        query = (
            select(QueuedActionRow)
            .where(QueuedActionRow.status == "pending")
            .where((QueuedActionRow.not_before.is_(None)) | (QueuedActionRow.not_before <= at))
            .order_by(QueuedActionRow.id)
        )
        return await self._list(query)

    async def interrupted(self) -> list[QueuedAction]:
        """Actions left `sending`: the process sending them stopped before it knew the outcome."""
        return await self._list(
            select(QueuedActionRow).where(QueuedActionRow.status == "sending").order_by(QueuedActionRow.id)
        )

    async def depth(self) -> int:
        """Actions not finished yet (pending or sending)."""
        return await self._count(QueuedActionRow.status.in_(ACTIVE))

    async def ahead_of(self, action_id: int) -> list[QueuedAction]:
        """Unfinished actions queued before this one, oldest first."""
        return await self._list(
            select(QueuedActionRow)
            .where(QueuedActionRow.status.in_(ACTIVE), QueuedActionRow.id < action_id)
            .order_by(QueuedActionRow.id)
        )

    async def hand_off(self, action_id: int) -> bool:
        """Note that the asker stopped waiting; False when the action already finished (the asker reports it).

        One conditional UPDATE, and `_finish` locks the row: either this lands first and the finished row
        says handed_off, or the finish lands first and this changes nothing. Nobody is told twice or never.
        """
        async with self._db.session() as session:
            result = await session.execute(
                update(QueuedActionRow)
                .where(QueuedActionRow.id == action_id, QueuedActionRow.status.in_(ACTIVE))
                .values(handed_off=True)
            )
            return bool(getattr(result, "rowcount", 0))

    async def claim_telling(self, action_id: int) -> bool:
        """Take the telling of a finished action; True for exactly one caller, who then tells the person."""
        async with self._db.session() as session:
            result = await session.execute(
                update(QueuedActionRow)
                .where(QueuedActionRow.id == action_id, QueuedActionRow.status.in_(FINISHED))
                .where(QueuedActionRow.told.is_(False))
                .values(told=True)
            )
            return bool(getattr(result, "rowcount", 0))

    async def untold(self, finished_before: float) -> list[QueuedAction]:
        """Finished before then and nobody told: the asker died, or the dispatcher that finished it did."""
        at = datetime.fromtimestamp(finished_before, UTC)
        return await self._list(
            select(QueuedActionRow)
            .where(QueuedActionRow.status.in_(FINISHED), QueuedActionRow.told.is_(False))
            .where(QueuedActionRow.finished_at < at)
            .order_by(QueuedActionRow.id)
        )

    async def mark_sending(self, ids: Iterable[int]) -> list[QueuedAction]:
        """Claim pending actions for sending; returns those claimed (as they are now). An action another
        sender claimed first, or that finished meanwhile, is not returned, so nothing is sent twice."""
        async with self._db.session() as session:
            claimed = await session.scalars(
                update(QueuedActionRow)
                .where(QueuedActionRow.id.in_(list(ids)), QueuedActionRow.status == "pending")
                .values(status="sending", attempts=QueuedActionRow.attempts + 1, sent_at=self._now())
                .returning(QueuedActionRow)
            )
            return sorted((_action(row) for row in claimed), key=lambda action: action.id)

    async def complete(self, action_id: int, result: dict[str, Any]) -> QueuedAction:
        return await self._finish(action_id, "done", result=result)

    async def fail(self, action_id: int, error: str, result: dict[str, Any] | None = None) -> QueuedAction:
        """`error` for people reading the table; `result`, when given, how it failed as the core states it."""
        return await self._finish(action_id, "failed", result=result, error=error)

    async def retry_later(self, ids: Iterable[int], not_before: float, error: str | None) -> None:
        """Put actions being sent back to pending, not to be sent before `not_before`; `error` says why (None
        clears it). A finished action stays finished."""
        async with self._db.session() as session:
            await session.execute(
                update(QueuedActionRow)
                .where(QueuedActionRow.id.in_(list(ids)), QueuedActionRow.status == "sending")
                .values(status="pending", not_before=datetime.fromtimestamp(not_before, UTC), error=error)
            )

    async def recent(self, limit: int = 100) -> list[QueuedAction]:
        """The newest actions first, whatever their status."""
        return await self._list(select(QueuedActionRow).order_by(QueuedActionRow.id.desc()).limit(limit))

    async def _finish(
        self, action_id: int, status: str, result: dict[str, Any] | None = None, error: str | None = None
    ) -> QueuedAction:
        async with self._db.session() as session:
            # FOR UPDATE (Postgres; SQLite transactions are serial anyway): see hand_off
            row = await session.get(QueuedActionRow, action_id, with_for_update=True)
            if row is None:
                raise LookupError(f"no queued action {action_id}")
            row.status, row.result, row.error, row.finished_at = status, result, error, self._now()
            row.dedupe_key = None  # the next click with this key is a new action
        return _action(row)

    async def _list(self, query: Select[QueuedActionRow]) -> list[QueuedAction]:
        async with self._db.reading() as session:
            return [_action(row) for row in await session.scalars(query)]

    async def _count(self, *conditions: ColumnElement[bool]) -> int:
        async with self._db.reading() as session:
            return (
                await session.execute(select(func.count()).select_from(QueuedActionRow).where(*conditions))
            ).scalar_one()
