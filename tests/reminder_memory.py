"""The reminders' ports in memory, with the real stores' rules (bot/store/reminders.py): one claim per slot,
`release` only of a slot not posted, one snooze per incident. `RecordingReminders` is Slack as the core sees it."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.reminders import Paused, Reminder, SlotKey, Snooze
from bot.victorops.models import Incident


class MemoryClaims:
    def __init__(self) -> None:
        self.rows: dict[SlotKey, str | None] = {}  # the slot -> its reply's ts (None: in flight)
        self.reads = 0

    async def claim(self, key: SlotKey) -> bool:
        if key in self.rows:
            return False
        self.rows[key] = None
        return True

    async def posted(self, key: SlotKey, ts: str) -> None:
        self.rows[key] = ts

    async def release(self, key: SlotKey) -> None:
        if key in self.rows and self.rows[key] is None:
            del self.rows[key]

    async def settled(self, keys: Sequence[SlotKey]) -> dict[SlotKey, bool]:
        self.reads += 1
        return {k: self.rows[k] is not None for k in keys if k in self.rows}

    async def prune(self) -> None:
        return None  # the real store drops the claims of cards no longer open (tests/test_reminders_store.py)


class MemorySnoozes:
    def __init__(self) -> None:
        self.rows: dict[str, Snooze] = {}
        self.reads = 0

    async def put(self, snooze: Snooze) -> None:
        self.rows[snooze.number] = snooze

    async def clear(self, number: str) -> bool:
        return self.rows.pop(number, None) is not None

    async def of(self, numbers: Sequence[str]) -> dict[str, Snooze]:
        self.reads += 1
        return {n: self.rows[n] for n in numbers if n in self.rows}

    async def prune(self, before: datetime) -> None:
        self.rows = {n: s for n, s in self.rows.items() if s.until is None or s.until >= before}


class MemoryView:
    """The shared view as the reminders read it: what it holds, no VictorOps."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}

    def put(self, *incidents: Incident) -> None:
        self.incidents |= {i.incident_number: i for i in incidents}

    async def held(self, numbers: Iterable[str]) -> dict[str, Incident | None]:
        return {n: self.incidents.get(n) for n in numbers}


@dataclass
class RecordingReminders:
    reminders: list[Reminder] = field(default_factory=list)
    lines: list[tuple[str, str, Paused]] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def remind(self, reminder: Reminder) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.reminders.append(reminder)
        return f"9{next(self._ts)}.000"

    async def paused(self, channel: str, ts: str, paused: Paused) -> None:
        self.lines.append((channel, ts, paused))
