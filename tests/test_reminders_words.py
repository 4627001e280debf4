"""A reminder's words and blocks, pure: human durations, mentions where linked, names escaped, the buttons by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.reminders import Kind, Pause, Paused, Reminder
from bot.slack.blocks import ActionId
from bot.slack.names import Names
from bot.slack.reminders import ReminderRef, reminder_blocks, reminder_done
from bot.slack.sentences import paused_line, span
from bot.victorops.models import Incident, Named, PagedPolicy, Phase

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAMES = Names(slack_ids={"heidi": "U0HEIDI"}, full_names={"eve": "Eve <!channel> & co"})


def reminder(kind: Kind, people: tuple[str, ...], after: timedelta, **fields: object) -> Reminder:
    incident = Incident(incident_number="42", current_phase=Phase.UNACKED, start_time=START, **fields)  # type: ignore[arg-type]
    return Reminder(incident, "C1", "1.000", kind, START, int(after.total_seconds()), 1, people)


def test_spans_read_as_people_say_them() -> None:
    assert [span(s) for s in (30, 900, 4500, 14400, 86400 + 3 * 3600 + 60)] == [
        "1 min",
        "15 min",
        "1 h 15 min",
        "4 h",
        "1 d 3 h",
    ]


def test_the_paged_are_mentioned_where_linked_and_escaped_otherwise() -> None:
    text, blocks = reminder_blocks(reminder(Kind.UNACKED, ("heidi", "eve"), timedelta(minutes=15)), NAMES)
    assert text == "Still not acknowledged after 15 min — <@U0HEIDI>, Eve &lt;!channel&gt; &amp; co"
    buttons = blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == [ActionId.REMIND_ACK, ActionId.REMIND_SNOOZE, ActionId.REMIND_STOP]
    assert ReminderRef.decode(buttons[0]["value"]) == ReminderRef(n="42")


def test_without_paged_users_the_policies_are_named() -> None:
    policy = PagedPolicy(policy=Named(name="DB <primary>", slug="pol-db"))
    text, _ = reminder_blocks(reminder(Kind.UNACKED, (), timedelta(minutes=15), paged_policies=[policy]), NAMES)
    assert text == "Still not acknowledged after 15 min — DB &lt;primary&gt;"


def test_an_acked_reminder_names_who_acknowledged_and_offers_a_confirmed_resolve() -> None:
    text, blocks = reminder_blocks(reminder(Kind.ACKED, ("heidi",), timedelta(hours=4)), NAMES)
    assert text == "Still not resolved, 4 h after <@U0HEIDI> acknowledged it."
    resolve = blocks[-1]["elements"][0]
    assert resolve["action_id"] == ActionId.REMIND_RESOLVE and resolve["confirm"]["confirm"]["text"] == "Resolve"


def test_after_a_click_the_reminder_keeps_its_words_and_loses_its_buttons() -> None:
    _, blocks = reminder_blocks(reminder(Kind.UNACKED, ("heidi",), timedelta(minutes=15)), NAMES)
    done = reminder_done(reminder_done(blocks, "first"), "Acknowledged by <@U0BOB>.")
    assert [b["type"] for b in done] == ["section", "context"]
    assert done[-1]["elements"][0]["text"] == "Acknowledged by <@U0BOB>."


def test_pause_lines() -> None:
    until = START + timedelta(hours=1)
    assert paused_line(Paused("42", Pause.SNOOZED, "U1", until=until), NAMES) == (
        f"Reminders snoozed until <!date^{int(until.timestamp())}^{{date_short_pretty}} {{time}}|2026-12-01 10:00 UTC> "
        "by <@U1>."
    )
    assert paused_line(Paused("42", Pause.STOPPED, "U1"), NAMES) == "Reminders stopped by <@U1>."
    assert paused_line(Paused("42", Pause.RESUMED, "U1"), NAMES) == "Reminders back on (by <@U1>)."
