"""A sliding-window rate limit kept in the database, so every replica draws on one budget and a restart keeps it.

Each call is a row in `api_calls` (family, epoch seconds). The window's rules are SlidingWindow's: a call
at `t` counts until `t + period`. Timestamps come from each replica's clock, so their clocks must agree to
much better than the period (NTP does).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database
from bot.store.tables import ApiCallRow
from bot.victorops.limits import Clock, RateSpec


def _lock_id(family: str) -> int:
    """A Postgres advisory lock key for this family, the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.sha256(f"vobot:budget:{family}".encode()).digest()[:8], "big", signed=True)


class SharedWindow:
    def __init__(self, db: Database, family: str, spec: RateSpec, clock: Clock = time.time) -> None:
        self._db = db
        self.family = family
        self.spec = spec
        self._clock = clock

    async def reserve(self) -> float:
        """Take a slot and return 0 when a call fits now; otherwise take nothing and return the seconds to wait."""
        if self.spec.unlimited:
            return 0.0
        async with self._db.session() as session:
            now, calls = await self._locked_calls(session)
            wait = self._wait(calls, now)
            if wait == 0:
                session.add(ApiCallRow(family=self.family, at=now))
            return wait

    async def wait_time(self) -> float:
        """Seconds until a call fits (0 when one fits now)."""
        if self.spec.unlimited:
            return 0.0
        now = self._clock()
        return self._wait(await self._calls(now), now)

    async def remaining(self) -> int | None:
        """Calls that fit now, or None when unlimited."""
        if self.spec.unlimited:
            return None
        return max(0, self.spec.count - len(await self._calls(self._clock())))

    async def block_for(self, seconds: float) -> None:
        """Let no call through for `seconds` (the server said so): fill the window until then, on every replica."""
        if self.spec.unlimited or seconds <= 0:
            return
        async with self._db.session() as session:
            now, _ = await self._locked_calls(session)
            # `count` calls stamped so that they leave the window at now + seconds (in the future when
            # seconds > period). Calls already made stay: they may hold the window longer.
            until = now + seconds - self.spec.period
            session.add_all(ApiCallRow(family=self.family, at=until) for _ in range(self.spec.count))

    async def _locked_calls(self, session: AsyncSession) -> tuple[float, list[float]]:
        """Serialise with every other writer of this family; drop calls out of the window; return now and the rest.

        Postgres: a transaction-scoped advisory lock, released at commit. SQLite: BEGIN IMMEDIATE (see db.py)
        already makes write transactions serial; `session.connection()` is what issues it. The clock is read
        only once the lock is held, so stamps are in the order the calls were granted.
        """
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _lock_id(self.family)})
        now = self._clock()
        await session.execute(
            delete(ApiCallRow).where(ApiCallRow.family == self.family, ApiCallRow.at <= now - self.spec.period)
        )
        return now, await self._select_calls(session, now)

    async def _calls(self, now: float) -> list[float]:
        async with self._db.reading() as session:
            return await self._select_calls(session, now)

    async def _select_calls(self, session: AsyncSession, now: float) -> list[float]:
        """The stamps still in the window at `now`, oldest first."""
        rows = await session.scalars(
            select(ApiCallRow.at)
            .where(ApiCallRow.family == self.family, ApiCallRow.at > now - self.spec.period)
            .order_by(ApiCallRow.at)
        )
        return list(rows)

    def _wait(self, calls: Sequence[float], now: float) -> float:
        """0 when fewer than `count` calls are in the window, else until enough have left for one more."""
        excess = len(calls) - self.spec.count
        if excess < 0:
            return 0.0
        # block_for can leave more than `count` stamps: one more call fits once `excess + 1` have left
        return calls[excess] + self.spec.period - now
