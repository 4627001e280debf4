"""Small test doubles shared by several test modules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.core.outcomes import Verb
from bot.core.queue import QueuedAction


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it: a simulated minute takes no time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def queued(
    verb: str,
    *numbers: str,
    payload: dict[str, Any] | None = None,
    attempts: int = 1,
    id: int = 1,
    user: str = "alice",
    at: float | None = None,
    mine: bool = False,
) -> QueuedAction:
    """A queued action as the dispatcher hands it to the sender (claimed: `attempts` counts this send), by
    VictorOps user `user`, queued at `at` (epoch seconds; default now)."""
    now = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return QueuedAction(
        id=id, created_at=now, verb=Verb(verb), mine=mine, vo_username=user, slack_user_id=f"U0{user.upper()}",
        slack_name=user, incidents=numbers, payload=payload or {}, reply={}, status="sending", attempts=attempts,
        not_before=None, sent_at=now, finished_at=None, result=None, error=None, handed_off=False, dedupe_key=None,
    )  # fmt: skip
