"""Reminder due -> posted: how late at most, at the default tick; and what a tick costs the database.

On SQLite (a file) and on Postgres (a fresh schema at VOBOT_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test; skipped when none answers), with the real stores (cards, claims,
snoozes, feeds, the shared snapshot) and a poster that records when each reminder would go to Slack:

- lateness: N open incidents whose reminders fall due at once, ticked at offsets spread over one tick interval
  (a due time lands anywhere between two ticks): late = offset + the tick's own work until that post.
  Slack's pace in one channel (about one post a second, `bot.slack.feed.Turns`) comes on top; printed apart.
- cost: the statements one tick runs with N open incidents and no reminder due, in steady state and on the first
  tick after a restart (nothing remembered yet), which is what issue 17 asks to keep from scanning every incident.

Run: .venv/bin/python benchmarks/bench_reminders.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_link_race import postgres_problem, postgres_schema  # run as a script: benchmarks/ is on the path
from sqlalchemy import event

from bot.core.feed import Feed
from bot.core.incidents import IncidentView
from bot.core.reminders import TICK, Paused, Reminder, Reminders
from bot.store.db import Database
from bot.store.feed_cards import CardStore
from bot.store.feeds import FeedStore
from bot.store.reminders import ReminderClaims, SnoozeStore
from bot.store.snapshots import Snapshots
from bot.victorops.models import Incident, Phase, Transition

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTERVAL = 15 * 60  # the default remind_unacked
CHANNELS = 5
OPEN = 500  # incidents open, each with its card, spread over the channels
ROUNDS = 10  # ticks, at offsets spread over one tick interval


class Source:
    def __init__(self, incidents: list[Incident]) -> None:
        self.incidents = incidents

    async def list_incidents(self) -> list[Incident]:
        return self.incidents


class Recorder:
    """Slack as the core sees it: when each reminder would be sent (perf_counter)."""

    def __init__(self) -> None:
        self.at: list[float] = []

    async def remind(self, reminder: Reminder) -> str:
        self.at.append(time.perf_counter())
        return f"{len(self.at)}.000"

    async def paused(self, channel: str, ts: str, paused: Paused) -> None:
        return None


class Statements:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        statement = str(args[2]).lstrip().upper()
        if statement.startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            self.count += 1


def incident(n: int) -> Incident:
    return Incident(
        incident_number=str(n),
        current_phase=Phase.UNACKED,
        start_time=START,
        paged_users=["alice"],
        transitions=[Transition(name="UNACKED", at=START)],
    )


async def measure(url: str) -> str:
    db = Database(url)
    await db.migrate()
    try:
        feeds = FeedStore(db)
        for c in range(CHANNELS):
            await feeds.put(Feed(f"C{c}"))
        cards = CardStore(db, "bench")
        incidents = [incident(n) for n in range(1, OPEN + 1)]
        for i in incidents:
            channel = f"C{int(i.incident_number) % CHANNELS}"
            await cards.claim(i.incident_number, channel, Phase.UNACKED)
            await cards.posted(i.incident_number, channel, f"{i.incident_number}.000")
        view = IncidentView(Source(incidents), snapshots=Snapshots(db))
        await view.all()  # the shared snapshot, as the poller leaves it

        def replica(poster: Recorder) -> Reminders:
            return Reminders(
                feeds.all, cards, view, ReminderClaims(db, "bench"), SnoozeStore(db), poster, now=lambda: START
            )

        statements = Statements(db)
        idle = replica(Recorder())
        await idle.tick(START + timedelta(minutes=5))  # the hourly prune runs on the first tick
        statements.count = 0
        await idle.tick(START + timedelta(minutes=6))
        nothing_due = statements.count

        late: list[float] = []
        work: list[float] = []
        poster = Recorder()
        reminders = replica(poster)
        for k in range(1, ROUNDS + 1):
            offset = TICK * (k - 0.5) / ROUNDS  # where between two ticks the due time fell
            due = START + timedelta(seconds=k * INTERVAL)
            poster.at.clear()
            began = time.perf_counter()
            posted = await reminders.tick(due + timedelta(seconds=offset))
            assert posted == OPEN, posted
            late += [offset + (at - began) for at in poster.at]
            work.append(time.perf_counter() - began)

        statements.count = 0
        after = START + timedelta(seconds=ROUNDS * INTERVAL + 60)
        await reminders.tick(after)
        steady = statements.count
        statements.count = 0
        await replica(Recorder()).tick(after + timedelta(seconds=1))  # a restarted replica: nothing remembered
        restarted = statements.count
        per_channel = OPEN // CHANNELS
        return (
            f"  due -> posted at a {TICK:.0f} s tick, {OPEN} due at once: p50 {statistics.median(late):.2f} s, "
            f"max {max(late):.2f} s (a tick's work for {OPEN}: median {statistics.median(work):.2f} s, "
            f"max {max(work):.2f} s)\n"
            f"  plus Slack's ~1 post/s per channel: {per_channel} due at once in one channel, the last "
            f"~{per_channel} s later\n"
            f"  statements per tick, {OPEN} open, none due: {nothing_due} before the first reminders, {steady} "
            f"after them, {restarted} on a restarted replica's first tick"
        )
    finally:
        await db.dispose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite")
        print(await measure(f"sqlite:///{Path(folder) / 'vobot.db'}"))
    if (problem := postgres_problem()) is not None:
        print(f"Postgres skipped: {problem}")
        return
    with postgres_schema() as url:
        print("Postgres")
        print(await measure(url))


if __name__ == "__main__":
    asyncio.run(main())
