"""Reminders through the real app, the VictorOps simulator and the Slack fake, the tick driven with explicit
times: the reminder in the card's thread with its mention and buttons, its Snooze 1h, Stop reminders and
Acknowledge buttons, `/vo snooze` and `/vo unsnooze` with their malformed forms, and tampered button values."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.core.feed import Feed
from bot.sim.slack import Message
from bot.sim.stack import LocalStack
from bot.slack.blocks import ActionId
from bot.victorops.models import Phase
from tests.harness import CHANNEL, UNLINKED, running_bot, texts

MIN = timedelta(minutes=1)
REMINDER_BUTTONS = [ActionId.REMIND_SNOOZE, ActionId.REMIND_STOP]


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[LocalStack]:
    async with running_bot(tmp_path) as running:
        await running.vobot.store.feeds.put(Feed(CHANNEL, routes=("db",), remind_acked=3600))
        yield running


async def paged(bot: LocalStack, summary: str = "disk full on db-1") -> tuple[str, Message, datetime]:
    """A new incident on route db (pages alice), its card posted: its number, the card, its start."""
    number = bot.vo.trigger(summary, "db")
    view = await bot.vobot.lookups.incidents.current()
    await bot.vobot.core.feed.reconcile(list(view.values()))
    [card] = [m for m in bot.slack.messages(CHANNEL) if m.thread_ts is None and f"#{number}" in m.text]
    start = view[number].start_time
    assert start is not None
    return number, card, start


def thread(bot: LocalStack, card: Message) -> list[Message]:
    return [m for m in bot.slack.messages(CHANNEL) if m.thread_ts == card.ts]


def reminders(bot: LocalStack, card: Message) -> list[Message]:
    return [m for m in thread(bot, card) if any(b.get("block_id") == "reminder" for b in m.blocks)]


def action_ids(message: Message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def phase(bot: LocalStack, number: str) -> str:
    found = bot.vo.incident(number)
    assert found is not None
    return str(found["currentPhase"])


async def say(bot: LocalStack, user: str, text: str) -> str:
    before = len(bot.slack.ephemerals(user))
    result = await bot.driver.command(user, CHANNEL, text)
    assert result.status == 200
    if result.message:  # a malformed command is answered in the ack
        return str(result.message.get("text", ""))
    return texts(await bot.reply(user, before))


async def test_a_reminder_in_the_thread_and_its_snooze_and_stop_buttons(bot: LocalStack) -> None:
    reminders_ = bot.vobot.core.reminders
    number, card, start = await paged(bot)
    assert await reminders_.tick(start + 14 * MIN) == 0
    assert await reminders_.tick(start + 15 * MIN) == 1
    assert await reminders_.tick(start + 16 * MIN) == 0
    [reminder] = reminders(bot, card)
    assert reminder.thread_ts == card.ts
    assert reminder.text == "Still not acknowledged after 15 min — <@U0ALICE>"
    assert action_ids(reminder) == [ActionId.REMIND_ACK, *REMINDER_BUTTONS]

    await bot.driver.click("U0BOB", reminder, ActionId.REMIND_SNOOZE)
    await bot.until(lambda: action_ids(bot.slack.find_message(reminder.ts) or reminder) == [], within=5)
    edited = bot.slack.find_message(reminder.ts)
    assert edited is not None and action_ids(edited) == []
    assert "Reminders snoozed until <!date^" in texts(edited) and "by <@U0BOB>" in texts(edited)
    stored = (await bot.vobot.store.snoozes.of([number]))[number]
    assert stored.by == "U0BOB" and stored.until is not None
    lines = [m.text for m in thread(bot, card) if m.ts != reminder.ts]
    assert len(lines) == 1 and lines[0].startswith("Reminders snoozed until <!date^") and "by <@U0BOB>" in lines[0]

    assert await reminders_.tick(start + 30 * MIN) == 0  # snoozed for an hour from now (real time)
    said = await say(bot, "U0CAROL", f"unsnooze {number}")
    assert f"Reminders for #{number} are back on" in said
    assert thread(bot, card)[-1].text == "Reminders back on (by <@U0CAROL>)."
    assert await reminders_.tick(start + 30 * MIN) == 1
    second = reminders(bot, card)[-1]
    assert second.text == "Still not acknowledged after 30 min — <@U0ALICE>"

    await bot.driver.click("U0CAROL", second, ActionId.REMIND_STOP)
    await bot.until(lambda: thread(bot, card)[-1].text == "Reminders stopped by <@U0CAROL>.", within=5)
    assert (await bot.vobot.store.snoozes.of([number]))[number].until is None
    assert await reminders_.tick(start + 10 * 60 * MIN) == 0


async def test_acknowledge_from_a_reminder_acks_and_the_acked_reminder_follows(bot: LocalStack) -> None:
    reminders_ = bot.vobot.core.reminders
    number, card, start = await paged(bot)
    await reminders_.tick(start + 15 * MIN)
    [reminder] = reminders(bot, card)
    await bot.driver.click("U0BOB", reminder, ActionId.REMIND_ACK)
    await bot.until(lambda: phase(bot, number) == "ACKED", within=5)
    await bot.until(lambda: action_ids(bot.slack.find_message(reminder.ts) or reminder) == [], within=5)
    edited = bot.slack.find_message(reminder.ts)
    assert edited is not None and "Acknowledged by <@U0BOB>." in texts(edited)
    assert edited.text.startswith("Acknowledged by")  # the reminder says what happened; it is not a card
    await bot.vobot.core.feed.drain()

    acked = (await bot.vobot.lookups.incidents.current())[number].last_transition(Phase.ACKED)
    assert acked is not None
    assert await reminders_.tick(acked.at + 30 * MIN) == 0  # no more unacknowledged reminders
    assert await reminders_.tick(acked.at + 60 * MIN) == 1
    last = reminders(bot, card)[-1]
    assert last.text == "Still not resolved, 1 h after <@U0BOB> acknowledged it."
    assert action_ids(last) == [ActionId.REMIND_RESOLVE, *REMINDER_BUTTONS]

    bot.vo.act("resolve", "cchen", [number], "fixed")  # from the phone
    await bot.vobot.core.feed.reconcile(list((await bot.vobot.lookups.incidents.current()).values()))
    assert await reminders_.tick(acked.at + 2 * 60 * MIN) == 0  # resolved: no reminder of any kind
    assert await bot.vobot.store.cards.open_cards([CHANNEL]) == []


async def test_an_unlinked_clicker_gets_the_link_prompt_and_nothing_is_acked(bot: LocalStack) -> None:
    number, card, start = await paged(bot)
    await bot.vobot.core.reminders.tick(start + 15 * MIN)
    [reminder] = reminders(bot, card)
    before = len(bot.slack.ephemerals(UNLINKED))
    await bot.driver.click(UNLINKED, reminder, ActionId.REMIND_ACK)
    prompt = await bot.reply(UNLINKED, before)
    assert "link" in texts(prompt).lower()
    assert phase(bot, number) == "UNACKED"
    assert action_ids(bot.slack.find_message(reminder.ts) or reminder) == [ActionId.REMIND_ACK, *REMINDER_BUTTONS]


async def test_snooze_and_unsnooze_commands_and_their_refusals(bot: LocalStack) -> None:
    number, card, _ = await paged(bot)
    said = await say(bot, "U0ALICE", f"snooze #{number} 2h")
    assert f"Reminders for #{number} snoozed until <!date^" in said and f"`/vo unsnooze {number}` ends it" in said
    stored = (await bot.vobot.store.snoozes.of([number]))[number]
    assert stored.until is not None and stored.by == "U0ALICE"
    assert thread(bot, card)[-1].text.startswith("Reminders snoozed until <!date^")

    for text, expected in (
        ("snooze", "`snooze` needs an incident number, like `/vo snooze 42 2h`."),
        (f"snooze {number}", "`snooze` needs an incident number and how long"),
        (f"snooze {number} 8d", "is not a snooze length: use minutes, hours or days up to 7 days"),
        (f"snooze {number} soon", "is not a snooze length"),
        ("snooze 2h 42", "is not an incident number"),
        (f"unsnooze {number} now", "`unsnooze` takes only an incident number"),
    ):
        assert expected in await say(bot, "U0ALICE", text), text

    assert "I don't know incident #99999" in await say(bot, "U0ALICE", "snooze 99999 1h")
    bot.vo.act("resolve", "cchen", [number], "fixed")
    await bot.vobot.core.feed.reconcile(list((await bot.vobot.lookups.incidents.current()).values()))
    assert f"#{number} is resolved: it has no reminders." in await say(bot, "U0ALICE", f"unsnooze {number}")
    assert (await bot.vobot.store.snoozes.of([number]))[number].until == stored.until  # unchanged


@pytest.mark.parametrize(
    "value", ['{"n":"1; drop"}', '{"n":42}', '{"n":"42","x":1}', "42", "", '{"n":"' + "9" * 3000 + '"}']
)
async def test_a_tampered_button_value_is_refused_and_changes_nothing(bot: LocalStack, value: str) -> None:
    number, card, start = await paged(bot)
    await bot.vobot.core.reminders.tick(start + 15 * MIN)
    [reminder] = reminders(bot, card)
    payload = bot.driver.click_payload("U0BOB", reminder, ActionId.REMIND_SNOOZE)
    payload["actions"][0]["value"] = value
    before = len(bot.slack.ephemerals("U0BOB"))
    result = await bot.driver.post(urlencode({"payload": json.dumps(payload)}))
    assert result.status == 200
    assert "could not read this button, so nothing was done" in texts(await bot.reply("U0BOB", before))
    assert await bot.vobot.store.snoozes.of([number]) == {}


async def test_a_well_formed_value_naming_another_incident_is_refused(bot: LocalStack) -> None:
    """A button acts on the incident whose card is the reminder's thread parent, whatever its value names."""
    number, card, start = await paged(bot)
    other, _, _ = await paged(bot, "cpu high on db-2")
    await bot.vobot.core.reminders.tick(start + 15 * MIN)
    [reminder] = reminders(bot, card)
    for action_id in (ActionId.REMIND_ACK, ActionId.REMIND_STOP):
        payload = bot.driver.click_payload("U0BOB", reminder, action_id)
        payload["actions"][0]["value"] = json.dumps({"n": other})
        before = len(bot.slack.ephemerals("U0BOB"))
        assert (await bot.driver.post(urlencode({"payload": json.dumps(payload)}))).status == 200
        assert "could not read this button, so nothing was done" in texts(await bot.reply("U0BOB", before))
    assert phase(bot, other) == "UNACKED" and await bot.vobot.store.snoozes.of([number, other]) == {}


async def test_pausing_reminders_takes_a_linked_user(bot: LocalStack) -> None:
    number, card, start = await paged(bot)
    assert "link" in (await say(bot, UNLINKED, f"snooze {number} 1h")).lower()
    await bot.vobot.core.reminders.tick(start + 15 * MIN)
    [reminder] = reminders(bot, card)
    before = len(bot.slack.ephemerals(UNLINKED))
    await bot.driver.click(UNLINKED, reminder, ActionId.REMIND_SNOOZE)
    assert "link" in texts(await bot.reply(UNLINKED, before)).lower()
    assert await bot.vobot.store.snoozes.of([number]) == {}
    assert "were not paused" in await say(bot, "U0ALICE", f"unsnooze {number}")
