"""Reminder slots and snoozes, shared by every replica: the database decides who posts each reminder.

A slot is one `reminder_slots` row per (incident, channel, kind, k-th interval): the first insert wins the post. A
claim whose post never stored its ts (the process died in between) is taken over once it is `STALE` (the feed
cards' rule, `bot.store.feed_cards.STALE`), by one conditional UPDATE, so one replica posts it on its next tick.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from bot.core.reminders import SlotKey, Snooze
from bot.store.db import Database
from bot.store.feed_cards import STALE
from bot.store.tables import FeedCardRow, ReminderSlotRow, ReminderSnoozeRow
from bot.victorops.limits import Clock
from bot.victorops.models import Phase


def _is(key: SlotKey) -> list[ColumnElement[bool]]:
    number, channel, kind, slot = key
    return [
        ReminderSlotRow.number == number,
        ReminderSlotRow.channel == channel,
        ReminderSlotRow.kind == kind.value,
        ReminderSlotRow.slot == slot,
    ]


class ReminderClaims:
    """`bot.core.reminders.ReminderClaims` for one replica (`holder`)."""

    def __init__(self, db: Database, holder: str, clock: Clock = time.time) -> None:
        self._db = db
        self.holder = holder
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def claim(self, key: SlotKey) -> bool:
        """True only for the one call, on any replica, whose insert made the row, or whose UPDATE took over a
        stale claim (on Postgres a second insert or UPDATE waits for the first to commit, then loses)."""
        number, channel, kind, slot = key
        now = self._now()
        row = ReminderSlotRow(
            number=number, channel=channel, kind=kind.value, slot=slot, ts=None, claimed_by=self.holder, claimed_at=now
        )
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError:
            async with self._db.session() as session:
                result = await session.execute(
                    update(ReminderSlotRow)
                    .where(*_is(key), ReminderSlotRow.ts.is_(None), ReminderSlotRow.claimed_at < now - STALE)
                    .values(claimed_by=self.holder, claimed_at=now)
                )
                return bool(getattr(result, "rowcount", 0))
        return True

    async def posted(self, key: SlotKey, ts: str) -> None:
        async with self._db.session() as session:
            await session.execute(update(ReminderSlotRow).where(*_is(key)).values(ts=ts))

    async def release(self, key: SlotKey) -> None:
        async with self._db.session() as session:
            await session.execute(delete(ReminderSlotRow).where(*_is(key), ReminderSlotRow.ts.is_(None)))

    async def settled(self, keys: Sequence[SlotKey]) -> dict[SlotKey, bool]:
        """Of `keys`, those posted (True) or claimed lately (False: in flight); a stale claim is neither, so it is
        claimed again."""
        if not keys:
            return {}
        wanted = {(n, c, k.value, slot): (n, c, k, slot) for n, c, k, slot in keys}
        columns = (ReminderSlotRow.number, ReminderSlotRow.channel, ReminderSlotRow.kind, ReminderSlotRow.slot)
        live = or_(ReminderSlotRow.ts.is_not(None), ReminderSlotRow.claimed_at >= self._now() - STALE)
        async with self._db.reading() as session:
            rows = await session.execute(
                select(*columns, ReminderSlotRow.ts).where(tuple_(*columns).in_(list(wanted)), live)
            )
            found = {(n, c, k, slot): ts is not None for n, c, k, slot, ts in rows}
        return {key: found[raw] for raw, key in wanted.items() if raw in found}

    async def prune(self) -> None:
        """The claims of cards no longer open (resolved, or gone): only an open card's slots can come again."""
        open_card = exists().where(
            FeedCardRow.number == ReminderSlotRow.number,
            FeedCardRow.channel == ReminderSlotRow.channel,
            FeedCardRow.phase != Phase.RESOLVED.value,
        )
        async with self._db.session() as session:
            await session.execute(delete(ReminderSlotRow).where(~open_card))


class SnoozeStore:
    """`bot.core.reminders.Snoozes` over `reminder_snoozes`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, snooze: Snooze) -> None:
        values = {"number": snooze.number, "until": snooze.until, "by": snooze.by, "at": snooze.at}
        async with self._db.session() as session:
            await session.execute(
                self._db.upsert(
                    ReminderSnoozeRow, values, ["number"], update={k: values[k] for k in ("until", "by", "at")}
                )
            )

    async def clear(self, number: str) -> bool:
        async with self._db.session() as session:
            result = await session.execute(delete(ReminderSnoozeRow).where(ReminderSnoozeRow.number == number))
            return bool(getattr(result, "rowcount", 0))

    async def of(self, numbers: Sequence[str]) -> dict[str, Snooze]:
        if not numbers:
            return {}
        async with self._db.reading() as session:
            rows = await session.scalars(select(ReminderSnoozeRow).where(ReminderSnoozeRow.number.in_(list(numbers))))
            return {r.number: Snooze(r.number, r.until, r.by, r.at) for r in rows}

    async def prune(self, before: datetime) -> None:
        """Snoozes that ended before `before`; stops stay (they are for good)."""
        async with self._db.session() as session:
            await session.execute(
                delete(ReminderSnoozeRow).where(
                    and_(ReminderSnoozeRow.until.is_not(None), ReminderSnoozeRow.until < before)
                )
            )
