"""The App Home, end to end: signed Events API deliveries and home clicks into the real app, the simulator behind
it, the Slack fake's views.publish recording what each person's home shows."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sim.slack import Json
from bot.sim.stack import block_texts
from bot.slack.blocks import ActionId
from bot.slack.home import REFRESH
from bot.slack.homes import WATCH_FOR
from tests.harness import CHANNEL, Bot, running_bot

BOB, ERIN = "U0BOB", "U0ERIN"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


def text_of(view: Json) -> str:
    return block_texts(view["blocks"])


def cards(view: Json) -> list[str]:
    """The incident numbers with a card in the home, in order."""
    return [
        b["block_id"][4:]
        for b in view["blocks"]
        if b.get("type") == "section" and b.get("block_id", "").startswith("inc-") and b["block_id"].count("-") == 1
    ]


def paged(bot: Bot, username: str) -> list[str]:
    return [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if i["currentPhase"] == "UNACKED" and username in i["pagedUsers"]
    ]


async def published(bot: Bot, user: str, count: int) -> Json:
    """The user's home once it has been published `count` times."""
    return await bot.until(lambda: (p := bot.slack.publishes(user)) and len(p) >= count and p[count - 1])


async def test_opening_the_home_tab_publishes_who_they_are_their_incidents_and_teams(bot: Bot) -> None:
    result = await bot.driver.open_home(BOB)
    assert result.status == 200 and result.elapsed < 3
    home = await published(bot, BOB, 1)
    assert home["type"] == "home"
    text = text_of(home)
    assert "You are *bob.martinez*" in text
    acked = [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if i["currentPhase"] == "ACKED" and i["transitions"][-1]["by"] == "bob.martinez"
    ]
    assert paged(bot, "bob.martinez") and acked
    assert cards(home) == [*paged(bot, "bob.martinez"), *acked]
    assert "*Paging you* (1)" in text and "*Acknowledged by you* (1)" in text
    assert "*Ops* — on call:" in text and "*Frontend* — on call:" in text and "*Payments*" not in text
    refresh = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == REFRESH]
    assert len(refresh) == 1
    assert bot.writes() == []


async def test_a_fresh_view_serves_the_home_without_a_victorops_call(bot: Bot) -> None:
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    before = len(bot.vo.calls())
    for count in range(2, 6):
        await bot.driver.open_home(BOB)
        await published(bot, BOB, count)
    assert len(bot.vo.calls()) == before
    assert len(bot.slack.publishes(BOB)) == 5  # one publish per open


async def test_the_messages_tab_is_ignored(bot: Bot) -> None:
    result = await bot.driver.open_home(BOB, tab="messages")
    assert result.status == 200
    await bot.driver.open_home("U0ALICE")
    await published(bot, "U0ALICE", 1)
    assert bot.slack.publishes(BOB) == []


async def test_url_verification_gets_its_challenge_back(bot: Bot) -> None:
    result = await bot.driver.event(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    )
    assert result.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in result.body


async def test_acknowledge_from_the_home_acks_and_republishes_it(bot: Bot) -> None:
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    number = paged(bot, "bob.martinez")[0]
    result = await bot.driver.click_home(BOB, ActionId.ACK, json.dumps({"n": number}, separators=(",", ":")))
    assert result.status == 200 and result.elapsed < 3
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    assert bot.incident(number)["transitions"][-1]["by"] == "bob.martinez"
    home = await bot.until(lambda: (h := bot.slack.home(BOB)) and "Acknowledged by you." in text_of(h.body) and h.body)
    assert "*Paging you* (0)" in text_of(home) and "*Acknowledged by you* (2)" in text_of(home)
    assert number in cards(home)


async def test_an_ack_from_the_home_publishes_it_once_more_and_a_burst_of_actions_once(bot: Bot) -> None:
    homes = bot.vobot.slack_side.homes
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.click_home(BOB, ActionId.ACK, json.dumps({"n": number}, separators=(",", ":")))
    await bot.until(lambda: (h := bot.slack.home(BOB)) and "Acknowledged by you." in text_of(h.body))
    await homes.drain()
    assert len(bot.slack.publishes(BOB)) == 2  # the open, then one redraw with the answer as its notice
    for _ in range(3):  # the audit records of a burst of actions
        await homes.acted(BOB)
    await homes.drain()
    assert len(bot.slack.publishes(BOB)) == 3


async def test_a_home_opened_long_ago_is_no_longer_republished(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    homes = bot.vobot.slack_side.homes
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    later = time.monotonic() + WATCH_FOR + 1
    monkeypatch.setattr(homes, "_clock", lambda: later)
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.command(BOB, CHANNEL, f"ack {number}")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    await bot.reply(BOB)
    await homes.drain()
    assert len(bot.slack.publishes(BOB)) == 1


async def test_refresh_redraws_the_home_with_what_changed(bot: Bot) -> None:
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.command("U0ALICE", CHANNEL, f"resolve {number}")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "RESOLVED")
    await bot.driver.click_home(BOB, REFRESH)
    home = await bot.until(lambda: (h := bot.slack.home(BOB)) and number not in cards(h.body) and h.body)
    assert "*Paging you* (0)" in text_of(home)


async def test_a_command_by_someone_who_opened_the_home_republishes_it(bot: Bot) -> None:
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.command(BOB, CHANNEL, f"ack {number}")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    home = await bot.until(lambda: (h := bot.slack.home(BOB)) and "*Paging you* (0)" in text_of(h.body) and h.body)
    assert number in cards(home)


async def test_someone_who_never_opened_the_home_gets_no_publish(bot: Bot) -> None:
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.command(BOB, CHANNEL, f"ack {number}")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    await bot.reply(BOB)
    await bot.vobot.slack_side.homes.drain()  # a redraw, had one been due, has run
    assert bot.slack.publishes(BOB) == []


async def test_an_unlinked_person_links_from_the_home_and_it_is_republished(bot: Bot) -> None:
    await bot.driver.open_home(ERIN)
    home = await published(bot, ERIN, 1)
    text = text_of(home)
    assert "You are not linked to a VictorOps user yet" in text
    assert "Your Slack email matches VictorOps user *erin.walsh* (Erin Walsh)" in text
    assert "Link me as erin.walsh" in text and cards(home) == []
    await bot.driver.click_home(ERIN, ActionId.LINK_AND_RETRY)
    home = await bot.until(lambda: (h := bot.slack.home(ERIN)) and "You are *erin.walsh*" in text_of(h.body) and h.body)
    assert "Linked you to VictorOps user `erin.walsh`" in text_of(home)
    assert "*Database* — on call: <@U0DAVE> · 1 triggered, 1 acknowledged" in text_of(home)
    assert bot.writes() == []


async def test_reroute_from_the_home_opens_the_modal_and_the_home_tells_how_it_went(bot: Bot) -> None:
    await bot.driver.open_home(BOB)
    await published(bot, BOB, 1)
    number = paged(bot, "bob.martinez")[0]
    await bot.driver.click_home(BOB, ActionId.REROUTE, json.dumps({"n": number}, separators=(",", ":")))
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "policy" in str(v.body)), None))
    await bot.driver.submit_view(BOB, view.id, {"users": {"users": ["dave"]}})
    await bot.until(lambda: bot.incident(number)["pagedUsers"] == ["dave"])
    home = await bot.until(lambda: (h := bot.slack.home(BOB)) and "home-notice" in str(h.body) and h.body)
    assert "Rerouted" in text_of(home) and number not in cards(home)
