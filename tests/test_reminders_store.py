"""Reminder slots and snoozes on SQLite and Postgres: a slot claimed once, a crashed claim taken over once, the
latest snooze wins; and two replicas on one Postgres database, ticking at once, post each reminder once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.core.feed import Feed
from bot.core.incidents import IncidentView
from bot.core.reminders import Kind, Reminders, SlotKey, Snooze
from bot.store.db import Database
from bot.store.feed_cards import STALE, CardStore
from bot.store.feeds import FeedStore
from bot.store.reminders import ReminderClaims, SnoozeStore
from bot.store.snapshots import Snapshots
from bot.victorops.models import Incident, Phase, Transition
from tests.memory import MemoryVictorOps
from tests.reminder_memory import RecordingReminders

DUE = datetime(2026, 12, 1, 9, 15, tzinfo=UTC)
KEY: SlotKey = ("42", "C1", Kind.UNACKED, 1)


async def test_a_slot_is_claimed_once(database: Database) -> None:
    replicas = [ReminderClaims(database, f"r{i}") for i in range(4)]
    won = await asyncio.gather(*(r.claim(KEY) for r in replicas))
    assert sorted(won) == [False, False, False, True]
    assert await replicas[0].claim(("42", "C1", Kind.ACKED, 1))  # another kind is another slot
    assert await replicas[0].claim(("42", "C1", Kind.UNACKED, 2))  # and another interval


async def test_release_frees_a_slot_not_posted_and_settled_sees_posted_ones(database: Database) -> None:
    claims = ReminderClaims(database, "r1")
    assert await claims.claim(KEY)
    assert await claims.settled([KEY]) == {KEY: False}  # in flight
    await claims.release(KEY)
    assert await claims.settled([KEY]) == {}
    assert await claims.claim(KEY)
    await claims.posted(KEY, "9.000")
    await claims.release(KEY)
    assert not await claims.claim(KEY)
    other: SlotKey = ("43", "C1", Kind.UNACKED, 1)
    assert await claims.settled([KEY, other]) == {KEY: True}


async def test_a_stale_claim_never_posted_is_taken_over_once(database: Database) -> None:
    now = [DUE.timestamp()]
    replicas = [ReminderClaims(database, f"r{i}", lambda: now[0]) for i in range(4)]
    assert await replicas[0].claim(KEY)  # ... and the process dies before the reply's ts is stored
    now[0] += STALE.total_seconds() - 1
    assert not any(await asyncio.gather(*(r.claim(KEY) for r in replicas[1:])))
    now[0] += 2
    assert await replicas[1].settled([KEY]) == {}  # stale: to be claimed again
    assert sorted(await asyncio.gather(*(r.claim(KEY) for r in replicas[1:]))) == [False, False, True]
    await replicas[2].posted(KEY, "9.000")
    now[0] += 10 * STALE.total_seconds()
    assert not await replicas[0].claim(KEY)  # a posted slot never goes stale


async def test_prune_forgets_the_claims_of_cards_no_longer_open(database: Database) -> None:
    cards, claims = CardStore(database, "r1"), ReminderClaims(database, "r1")
    await cards.claim("42", "C1", Phase.UNACKED)
    await cards.posted("42", "C1", "1.000")
    await claims.claim(KEY)
    await claims.posted(KEY, "9.000")
    gone: SlotKey = ("43", "C1", Kind.UNACKED, 1)  # a card that was never posted here (or is gone)
    await claims.claim(gone)
    await claims.prune()
    assert await claims.settled([KEY, gone]) == {KEY: True}
    await cards.advance("42", "C1", Phase.RESOLVED)
    await claims.prune()
    assert await claims.settled([KEY]) == {}


async def test_the_latest_snooze_or_stop_wins_and_expired_ones_are_pruned(database: Database) -> None:
    snoozes = SnoozeStore(database)
    await snoozes.put(Snooze("42", DUE, "U1", DUE - timedelta(hours=1)))
    await snoozes.put(Snooze("42", None, "U2", DUE - timedelta(minutes=30)))  # stopped
    await snoozes.put(Snooze("43", DUE, "U1", DUE - timedelta(hours=1)))
    found = await snoozes.of(["42", "43", "44"])
    assert (found["42"].until, found["42"].by) == (None, "U2")
    assert found["43"].until == DUE and set(found) == {"42", "43"}
    await snoozes.prune(DUE + timedelta(seconds=1))
    assert set(await snoozes.of(["42", "43"])) == {"42"}  # the stop stays
    assert await snoozes.clear("42")
    assert not await snoozes.clear("42")
    assert await snoozes.of(["42"]) == {}


async def test_open_cards_are_the_posted_cards_not_resolved(database: Database) -> None:
    cards = CardStore(database, "r1")
    for number, phase in (("1", Phase.UNACKED), ("2", Phase.ACKED), ("3", Phase.UNACKED), ("4", Phase.RESOLVED)):
        await cards.claim(number, "C1", phase)
        if number != "3":
            await cards.posted(number, "C1", f"{number}.000")
    assert sorted((c.number, c.phase) for c in await cards.open_cards(["C1"])) == [
        ("1", Phase.UNACKED),
        ("2", Phase.ACKED),
    ]
    assert await cards.open_cards(["C2"]) == []  # another channel's (a feed removed keeps its cards)


async def test_two_replicas_on_postgres_post_each_reminder_once(postgres_database_url: str) -> None:
    start = DUE - timedelta(minutes=15)
    incidents = [
        Incident(
            incident_number=str(n),
            current_phase=Phase.UNACKED,
            start_time=start,
            paged_users=["heidi"],
            transitions=[Transition(name="UNACKED", at=start)],
        )
        for n in range(1, 21)
    ]
    slack = RecordingReminders()
    dbs = [Database(postgres_database_url) for _ in range(2)]
    await dbs[0].migrate()
    try:
        feeds = FeedStore(dbs[0])
        await feeds.put(Feed("C1"))
        first = CardStore(dbs[0], "r0")
        for i in incidents:
            await first.claim(i.incident_number, "C1", Phase.UNACKED)
            await first.posted(i.incident_number, "C1", f"{i.incident_number}.000")
        source = MemoryVictorOps(*incidents)
        views = [IncidentView(source, snapshots=Snapshots(db)) for db in dbs]
        await views[0].all()  # one replica listed; the other has not, and reads the shared snapshot
        replicas = [
            Reminders(
                FeedStore(db).all,
                CardStore(db, f"r{i}"),
                views[i],
                ReminderClaims(db, f"r{i}"),
                SnoozeStore(db),
                slack,
                now=lambda: DUE,
            )
            for i, db in enumerate(dbs)
        ]
        posted = await asyncio.gather(*(r.tick(DUE + timedelta(seconds=s)) for r in replicas for s in (0, 1)))
        assert sum(posted) == 20
        assert sorted(r.number for r in slack.reminders) == sorted(i.incident_number for i in incidents)
        assert sum(await asyncio.gather(*(r.tick(DUE + timedelta(minutes=1)) for r in replicas))) == 0
        assert [c for c in source.calls if c[0] == "list"] == [("list",)]  # reminders never ask VictorOps
    finally:
        for db in dbs:
            await db.dispose()


async def test_a_reminder_claimed_by_a_process_that_died_is_posted_once_after_the_claim_goes_stale(
    database: Database,
) -> None:
    start = DUE - timedelta(minutes=15)
    paged = Incident(
        incident_number="42", current_phase=Phase.UNACKED, start_time=start, paged_users=["heidi"],
        transitions=[Transition(name="UNACKED", at=start)],
    )  # fmt: skip
    clock = [DUE.timestamp()]
    await FeedStore(database).put(Feed("C1"))
    cards = CardStore(database, "r0")
    await cards.claim("42", "C1", Phase.UNACKED)
    await cards.posted("42", "C1", "1.000")
    assert await ReminderClaims(database, "dead", lambda: clock[0]).claim(KEY)  # ... and it died before posting
    slack = RecordingReminders()
    view = IncidentView(MemoryVictorOps(paged))
    await view.all()
    survivor = Reminders(
        FeedStore(database).all, cards, view, ReminderClaims(database, "r1", lambda: clock[0]), SnoozeStore(database),
        slack, now=lambda: DUE,
    )  # fmt: skip
    assert await survivor.tick(DUE + timedelta(seconds=30)) == 0  # fresh: maybe still posting
    clock[0] += STALE.total_seconds() + 1
    assert await survivor.tick(DUE + STALE + timedelta(seconds=1)) == 1
    assert await survivor.tick(DUE + STALE + timedelta(seconds=20)) == 0
    assert [r.key for r in slack.reminders] == [KEY]
