"""Reminders through in-memory ports and an injected clock: when each is due, that a bot down for hours posts one,
that snoozes, stops and phase changes silence them, and that a slot is posted once whoever ticks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.feed import Feed, FeedCard
from bot.core.reminders import Kind, Pause, Reminder, Reminders, due_slot, snooze_length
from bot.victorops.models import Incident, Phase, Transition
from tests.feed_memory import MemoryCardStore, MemoryFeedStore, refused
from tests.reminder_memory import MemoryClaims, MemorySnoozes, MemoryView, RecordingReminders

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def incident(number: str = "42", phase: Phase = Phase.UNACKED, *, acked_at: datetime | None = None) -> Incident:
    transitions = [Transition(name="UNACKED", at=START)]
    if phase is not Phase.UNACKED:
        transitions.append(Transition(name="ACKED", at=acked_at or START + 5 * MIN, by="ivan"))
    if phase is Phase.RESOLVED:
        transitions.append(Transition(name="RESOLVED", at=START + 6 * MIN, by="ivan"))
    return Incident(
        incident_number=number, current_phase=phase, start_time=START, paged_users=["heidi"], transitions=transitions
    )


class Stack:
    def __init__(self, *feeds: Feed) -> None:
        self.now = START
        self.feeds = MemoryFeedStore(*(feeds or (Feed("C1"),)), now=START - timedelta(days=1))
        self.cards = MemoryCardStore()
        self.view = MemoryView()
        self.claims = MemoryClaims()
        self.snoozes = MemorySnoozes()
        self.slack = RecordingReminders()
        self.reminders = self.replica()

    def replica(self) -> Reminders:
        """Another Reminders over the same stores: a second replica, or this one after a restart."""
        return Reminders(
            self.feeds.all, self.cards, self.view, self.claims, self.snoozes, self.slack, now=lambda: self.now
        )

    def open(self, inc: Incident, channel: str = "C1", ts: str = "1.000") -> None:
        self.view.put(inc)
        self.cards.rows[inc.incident_number, channel] = FeedCard(inc.incident_number, channel, ts, inc.current_phase)

    async def at(self, after: timedelta, replica: Reminders | None = None) -> int:
        self.now = START + after
        return await (replica or self.reminders).tick(self.now)

    def sent(self) -> list[tuple[str, Kind, timedelta, tuple[str, ...]]]:
        return [
            (r.number, r.kind, r.since + timedelta(seconds=r.waited) - START, r.people) for r in self.slack.reminders
        ]


def test_the_due_slot_is_the_latest_one_not_before_the_first() -> None:
    assert due_slot(START, 900, START + 14 * MIN) is None
    assert due_slot(START, 900, START + 15 * MIN) == 1
    assert due_slot(START, 900, START + 44 * MIN) == 2


async def test_the_first_reminder_comes_after_the_interval_then_each_interval() -> None:
    stack = Stack()
    stack.open(incident())
    assert await stack.at(14 * MIN + timedelta(seconds=59)) == 0
    assert await stack.at(15 * MIN) == 1
    assert await stack.at(16 * MIN) == 0  # the same slot is not posted again
    assert await stack.at(30 * MIN + timedelta(seconds=10)) == 1
    assert stack.sent() == [("42", Kind.UNACKED, 15 * MIN, ("heidi",)), ("42", Kind.UNACKED, 30 * MIN, ("heidi",))]
    assert stack.slack.reminders[0].ts == "1.000"  # in the card's thread


async def test_after_an_outage_one_reminder_not_one_per_missed_interval() -> None:
    stack = Stack()
    stack.open(incident())
    await stack.at(15 * MIN)
    restarted = stack.replica()
    assert await stack.at(2 * 60 * MIN + 20 * MIN, restarted) == 1
    assert await stack.at(2 * 60 * MIN + 21 * MIN, restarted) == 0
    assert stack.sent()[-1][2] == 2 * 60 * MIN + 15 * MIN


async def test_two_replicas_post_each_slot_once() -> None:
    stack = Stack()
    stack.open(incident())
    other = stack.replica()
    assert await stack.at(15 * MIN) + await stack.at(15 * MIN, other) == 1


async def test_a_snooze_silences_until_it_ends_then_one() -> None:
    stack = Stack()
    stack.open(incident())
    stack.now = START + 10 * MIN
    paused = await stack.reminders.snooze("42", timedelta(hours=1), "U1")
    assert paused.pause is Pause.SNOOZED and paused.until == START + 70 * MIN
    assert [(c, ts, p.by) for c, ts, p in stack.slack.lines] == [("C1", "1.000", "U1")]  # said in the thread
    assert await stack.at(15 * MIN) == 0
    assert await stack.at(60 * MIN) == 0
    assert await stack.at(70 * MIN) == 1  # the latest due slot, at the snooze's end
    assert stack.sent() == [("42", Kind.UNACKED, 60 * MIN, ("heidi",))]


async def test_a_stop_silences_for_good_and_unsnooze_resumes() -> None:
    stack = Stack()
    stack.open(incident())
    assert (await stack.reminders.stop("42", "U1")).pause is Pause.STOPPED
    assert await stack.at(15 * MIN) == 0
    assert await stack.at(24 * 60 * MIN) == 0
    assert (await stack.reminders.unsnooze("42", "U2")).pause is Pause.RESUMED
    assert await stack.at(24 * 60 * MIN + MIN) == 1
    assert [p.pause for _, _, p in stack.slack.lines] == [Pause.STOPPED, Pause.RESUMED]


async def test_an_ack_stops_the_unacked_reminders_and_starts_the_acked_ones() -> None:
    stack = Stack(Feed("C1", remind_acked=3600))
    stack.open(incident())
    assert await stack.at(15 * MIN) == 1
    stack.view.put(incident(phase=Phase.ACKED, acked_at=START + 20 * MIN))  # the card is still drawn unacked
    assert await stack.at(30 * MIN) == 0  # no unacked reminder once acknowledged
    assert await stack.at(80 * MIN) == 1
    assert stack.sent()[-1] == ("42", Kind.ACKED, 80 * MIN, ("ivan",))  # who acknowledged
    assert stack.slack.reminders[-1].since == START + 20 * MIN


async def test_resolve_stops_every_reminder() -> None:
    stack = Stack()
    stack.open(incident(phase=Phase.ACKED))
    stack.view.put(incident(phase=Phase.RESOLVED))
    assert await stack.at(10 * 60 * MIN) == 0
    assert stack.slack.reminders == []


@pytest.mark.parametrize(
    ("feed", "phase"), [(Feed("C1", remind_unacked=None), Phase.UNACKED), (Feed("C1", remind_acked=None), Phase.ACKED)]
)
async def test_off_disables_its_kind(feed: Feed, phase: Phase) -> None:
    stack = Stack(feed)
    stack.open(incident(phase=phase))
    assert await stack.at(24 * 60 * MIN) == 0


async def test_no_feed_no_posted_card_or_unknown_incident_gets_none() -> None:
    stack = Stack()
    stack.open(incident("1"), channel="C9")  # a channel without a feed (unsubscribed)
    stack.view.put(incident("2"))
    stack.cards.rows["2", "C1"] = FeedCard("2", "C1", None, Phase.UNACKED)  # claimed, not posted
    stack.cards.rows["3", "C1"] = FeedCard("3", "C1", "3.000", Phase.UNACKED)  # the view does not know #3
    assert await stack.at(60 * MIN) == 0


async def test_a_failed_post_is_tried_again_and_a_refused_channel_held() -> None:
    stack = Stack(Feed("C1"), Feed("C2"))
    stack.open(incident("1"), channel="C1")
    stack.open(incident("2"), channel="C2")
    stack.slack.fail_next = [RuntimeError("slack down"), refused("C2")]
    assert await stack.at(15 * MIN) == 0
    assert await stack.at(16 * MIN) == 1  # #1 again; C2 held
    assert await stack.at(17 * MIN) == 0
    assert [r.channel for r in stack.slack.reminders] == ["C1"]


async def test_snoozing_a_resolved_or_unknown_incident_is_refused_and_stores_nothing() -> None:
    stack = Stack()
    stack.open(incident(phase=Phase.RESOLVED))
    assert (await stack.reminders.snooze("42", timedelta(hours=1), "U1")).refused is Phase.RESOLVED
    assert (await stack.reminders.stop("7", "U1")).unknown
    assert stack.snoozes.rows == {} and stack.slack.lines == []


async def test_a_tick_with_nothing_due_reads_no_claims_or_snoozes() -> None:
    stack = Stack()
    for n in range(50):
        stack.open(incident(str(n + 1)))
    await stack.at(15 * MIN)
    reads = stack.snoozes.reads
    assert await stack.at(16 * MIN) == 0
    assert stack.snoozes.reads == reads


def test_snooze_lengths() -> None:
    assert snooze_length("30m") == timedelta(minutes=30)
    assert snooze_length("2h") == timedelta(hours=2)
    assert snooze_length("7d") == timedelta(days=7)
    for bad in ("8d", "0m", "2", "2w", "-1h", "1.5h"):
        with pytest.raises(ValueError):
            snooze_length(bad)


async def test_the_run_loop_ticks_at_once_on_start_and_ends_when_stopped() -> None:
    stack = Stack()
    stack.open(incident())
    stack.now = START + 2 * 60 * MIN  # the bot starts two hours in: the reminder due now is posted at once
    stop = asyncio.Event()
    posted = stack.slack.remind

    async def remind_then_stop(reminder: Reminder) -> str:
        stop.set()
        return await posted(reminder)

    stack.slack.remind = remind_then_stop  # type: ignore[method-assign]
    await asyncio.wait_for(stack.reminders.run(stop), 5)
    assert stack.sent() == [("42", Kind.UNACKED, 2 * 60 * MIN, ("heidi",))]


async def test_a_phase_start_that_moves_by_a_second_is_still_one_reminder() -> None:
    """The ack time comes from the bot's clock after a click, then from VictorOps' list: one slot either way."""
    stack = Stack(Feed("C1", remind_acked=3600))
    stack.open(incident(phase=Phase.ACKED, acked_at=START + 10 * MIN + timedelta(milliseconds=400)))
    assert await stack.at(70 * MIN + timedelta(seconds=2)) == 1
    stack.view.put(incident(phase=Phase.ACKED, acked_at=START + 10 * MIN))  # VictorOps' own time
    assert await stack.at(70 * MIN + timedelta(seconds=6)) == 0
    stack.view.put(incident(phase=Phase.ACKED, acked_at=START + 10 * MIN + timedelta(seconds=1)))
    assert await stack.at(71 * MIN) == 0
    assert len(stack.slack.reminders) == 1


async def test_a_paused_incident_is_not_asked_about_on_every_tick() -> None:
    stack = Stack()
    stack.open(incident())
    await stack.reminders.stop("42", "U1")
    assert await stack.at(15 * MIN) == 0
    claims, snoozes = stack.claims.reads, stack.snoozes.reads
    for seconds in range(15, 60, 15):  # within a minute the pause seen is trusted
        assert await stack.at(15 * MIN + timedelta(seconds=seconds)) == 0
    assert (stack.claims.reads, stack.snoozes.reads) == (claims, snoozes)
    assert await stack.at(17 * MIN) == 0  # then read again: still stopped
    assert stack.snoozes.reads == snoozes + 1


async def test_a_snooze_another_replica_ends_is_seen_within_the_recheck() -> None:
    stack = Stack()
    stack.open(incident())
    other = stack.replica()
    await stack.reminders.snooze("42", timedelta(hours=1), "U1")
    assert await stack.at(15 * MIN) == 0
    await other.unsnooze("42", "U2")
    assert await stack.at(15 * MIN + timedelta(seconds=30)) == 0  # the pause this replica saw is trusted a while
    assert await stack.at(16 * MIN + timedelta(seconds=1)) == 1


async def test_unsnoozing_reminders_that_were_not_paused_changes_nothing_and_says_nothing_in_threads() -> None:
    stack = Stack()
    stack.open(incident())
    paused = await stack.reminders.unsnooze("42", "U1")
    assert paused.unchanged and stack.slack.lines == []
