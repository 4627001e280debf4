"""A listing keeps its cards where they were, each in its new state, until it is redrawn on request; and it
names people and policies as people know them. Through the real app over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sim.slack import Message
from bot.slack.blocks import ActionId
from tests.harness import CHANNEL, Bot, buttons, running_bot, texts


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        while len(running.open_numbers("UNACKED")) < 39:
            running.vo.trigger(f"Disk filling on web{len(running.open_numbers()):02d}", "database")
        yield running


def order(message: Message) -> list[str]:
    """The incident numbers of the cards, top to bottom."""
    return [
        b["block_id"].removeprefix("inc-")
        for b in message.blocks
        if b.get("type") == "section" and str(b.get("block_id", "")).startswith("inc-")
    ]


def card_text(message: Message, number: str) -> str:
    return "\n".join(
        str(element.get("text", ""))
        for b in message.blocks
        if str(b.get("block_id", "")) in (f"inc-{number}", f"inc-{number}-note")
        for element in [b.get("text") or {}, *b.get("elements", [])]
        if isinstance(element, dict)
    )


async def listing(bot: Bot, text: str = "list triggered") -> Message:
    await bot.driver.command("U0ALICE", CHANNEL, text)
    return await bot.reply("U0ALICE", len(bot.slack.ephemerals("U0ALICE")))


async def redrawn(bot: Bot, message: Message, done: Any) -> Message:
    """The message once it shows what `done` wants (redraws land one after another)."""
    return await bot.until(lambda: (m := bot.slack.find_message(message.ts)) and done(m) and m, within=5)


async def test_batched_acks_keep_the_cards_in_place_acknowledged(bot: Bot) -> None:
    shown = await listing(bot)
    before = order(shown)
    assert len(before) >= 20 and "more not shown" in texts(shown)
    first = before[:3]
    clicks = [bot.driver.click("U0ALICE", shown, ActionId.ACK, block_id=f"inc-{n}-actions") for n in first]
    assert all(r.status == 200 for r in await asyncio.gather(*clicks))
    await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in first), within=5)
    assert len(bot.writes()) < 3  # batched into fewer calls than clicks

    def all_acked(m: Message) -> bool:
        return all("*Acknowledged*" in card_text(m, n) for n in first)

    after = await redrawn(bot, shown, all_acked)
    assert order(after) == before  # nothing vanished, nothing moved
    for n in first:
        assert "Acknowledged by you," in card_text(after, n)  # her ephemeral: she is "you"
        assert buttons(after, n) == [ActionId.RESOLVE, ActionId.REROUTE]
    assert "0 triggered" not in texts(after) and "3 acknowledged" in texts(after)


async def test_an_ack_far_down_the_list_stays_where_it_was_until_refresh(bot: Bot) -> None:
    shown = await listing(bot)
    before = order(shown)
    twentieth = before[19]
    await bot.driver.click("U0ALICE", shown, ActionId.ACK, block_id=f"inc-{twentieth}-actions")
    after = await redrawn(bot, shown, lambda m: "*Acknowledged*" in card_text(m, twentieth))
    assert order(after) == before and order(after)[19] == twentieth
    assert "Acknowledged by you." in card_text(after, twentieth)  # the note of what just happened

    # resolved from the same message: still there, resolved, without buttons
    await bot.driver.click("U0ALICE", after, ActionId.RESOLVE, block_id=f"inc-{twentieth}-actions")
    resolved = await redrawn(bot, shown, lambda m: "*Resolved*" in card_text(m, twentieth))
    assert order(resolved) == before and buttons(resolved, twentieth) == []

    # Refresh is the redraw on request: the listing as it is now, the resolved one gone
    await bot.driver.click("U0ALICE", resolved, ActionId.REFRESH)
    fresh = await redrawn(bot, shown, lambda m: twentieth not in order(m))
    assert order(fresh)[:19] == before[:19] and "Refresh" in texts(fresh)


async def test_a_channel_card_names_the_person_never_you(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list triggered public")
    shown = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    number = order(shown)[4]
    await bot.driver.click("U0ALICE", shown, ActionId.ACK, block_id=f"inc-{number}-actions")
    after = await redrawn(bot, shown, lambda m: "*Acknowledged*" in card_text(m, number))
    assert order(after) == order(shown)
    line = card_text(after, number)
    assert "Acknowledged by <@U0ALICE>." in line and "Acknowledged by <@U0ALICE>, <!date^" in line
    assert "you" not in line


async def test_paged_people_are_named_and_times_are_date_tokens(bot: Bot) -> None:
    shown = await listing(bot, "list")
    text = texts(shown)
    assert "<!date^" in text and " ago" not in text
    linked = {"alice": "U0ALICE", "bob.martinez": "U0BOB", "cchen": "U0CAROL", "dave": "U0DAVE", "heidi": "U0ADMIN1"}
    for number in order(shown):
        paged = bot.incident(number)["pagedUsers"]
        line = card_text(shown, number)
        for username in paged[:10]:
            if username in linked:  # alice reads her own ephemeral listing
                assert ("you" if username == "alice" else f"<@{linked[username]}>") in line
            else:
                full = next(u for u in bot.vo.directory.users if u.username == username)
                assert f"{full.first_name} {full.last_name}" in line, (username, line)
