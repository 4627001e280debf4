"""The VictorOps budget through signed HTTP, with rate limits on both sides: batching, the queue, sharing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.victorops.limits import RateSpec
from tests.harness import CHANNEL, OFF, Bot, buttons, running_bot, texts

USERS = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ADMIN1"]


def limited(incidents: str) -> SimState:
    return SimState(SimConfig(incidents=RateSpec.parse(incidents), reporting=OFF, lookups=OFF))


def ack_calls(bot: Bot) -> list[Any]:
    return [c for c in bot.vo.calls() if c.path == "/api-public/v1/incidents/ack"]


def acked_numbers(call: Any) -> list[str]:
    return list(json.loads(call.body)["incidentNames"])


def trigger(bot: Bot, count: int, route: str = "burst") -> list[str]:
    return [bot.vo.trigger(f"Burst incident {i}", route) for i in range(count)]


async def public_list(bot: Bot, route: str) -> Any:
    await bot.driver.command("U0ALICE", CHANNEL, f"list route:{route} public")
    return await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))


@pytest.mark.slow  # twenty clicks at a tight budget
async def test_a_burst_of_clicks_is_one_call_per_user_and_no_429(tmp_path: Path) -> None:
    state = limited("6/10s")
    async with running_bot(tmp_path, state=state, VICTOROPS_RATE_LIMIT="6/10s", VOBOT_BATCH_WINDOW="1.0") as bot:
        numbers = trigger(bot, 20)
        listing = await public_list(bot, "burst")
        clicks = [
            bot.driver.click(USERS[i % 5], listing, ActionId.ACK, block_id=f"inc-{n}-actions")
            for i, n in enumerate(numbers)
        ]
        await asyncio.gather(*clicks)
        await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in numbers), within=8)
        calls = ack_calls(bot)
        assert len(calls) <= 5
        assert sorted(n for c in calls for n in acked_numbers(c)) == sorted(numbers)  # each sent exactly once
        assert not any(c.rate_limited for c in state.calls())
        for n in numbers:
            assert [t["name"] for t in bot.incident(n)["transitions"]].count("ACKED") == 1


async def test_a_double_click_is_one_action(tmp_path: Path) -> None:
    async with running_bot(tmp_path, VOBOT_BATCH_WINDOW="0.5") as bot:
        number = bot.open_numbers("UNACKED")[0]
        await bot.driver.command("U0ALICE", CHANNEL, "list public")
        listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
        block = f"inc-{number}-actions"
        await asyncio.gather(*(bot.driver.click("U0BOB", listing, ActionId.ACK, block_id=block) for _ in range(3)))
        await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
        await asyncio.sleep(0.5)
        assert [acked_numbers(c) for c in ack_calls(bot)] == [[number]]
        assert len(await bot.vobot.store.queue.recent()) == 1


async def test_twenty_concurrent_lists_cost_one_call(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        results = await asyncio.gather(*(bot.driver.command(u, CHANNEL, "list") for u in USERS * 4))
        assert all(r.status == 200 for r in results)
        await bot.until(lambda: len(bot.slack.ephemerals()) == 20, within=10)
        # one call for the incidents, and the names the cards show (users, policies) fetched once, then cached
        assert sorted(c.path for c in bot.vo.calls()) == [
            "/api-public/v1/incidents",
            "/api-public/v1/policies",
            "/api-public/v1/user",
        ]


async def test_an_action_that_must_wait_is_queued_and_the_card_updates_when_it_lands(tmp_path: Path) -> None:
    state = limited("2/6s")
    async with running_bot(tmp_path, state=state, VICTOROPS_RATE_LIMIT="2/6s", VOBOT_BATCH_WINDOW="0") as bot:
        numbers = bot.open_numbers("UNACKED")[:2]
        await bot.driver.command("U0ALICE", CHANNEL, "list public")  # one call: the listing
        listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
        await bot.driver.click("U0ALICE", listing, ActionId.ACK, block_id=f"inc-{numbers[0]}-actions")  # the 2nd
        await bot.until(lambda: bot.incident(numbers[0])["currentPhase"] == "ACKED")
        await bot.driver.click("U0BOB", listing, ActionId.ACK, block_id=f"inc-{numbers[1]}-actions")
        queued = await bot.until(lambda: "Queued: VictorOps allows 2/6s" in texts(bot.slack.messages(CHANNEL)[0]))
        assert queued and bot.incident(numbers[1])["currentPhase"] == "UNACKED"
        card = bot.slack.messages(CHANNEL)[0]
        assert "goes out in about" in texts(card) and buttons(card, numbers[1])[0] == ActionId.ACK
        await bot.until(lambda: bot.incident(numbers[1])["currentPhase"] == "ACKED", within=10)
        await bot.until(lambda: "Acknowledged by <@U0BOB>" in texts(bot.slack.messages(CHANNEL)[0]), within=5)
        assert not any(c.rate_limited for c in state.calls())


async def test_a_rate_limit_from_another_tool_is_waited_out(tmp_path: Path) -> None:
    """VictorOps allows fewer calls than we think (another tool shares the key): the 429 is not an error."""
    state = SimState(SimConfig(incidents=RateSpec.parse("2/4s"), reporting=OFF, lookups=OFF, send_retry_after=True))
    async with running_bot(tmp_path, state=state, VICTOROPS_RATE_LIMIT="10/4s", VOBOT_BATCH_WINDOW="0") as bot:
        first, second, third = bot.open_numbers("UNACKED")[:3]
        for user, number in [("U0ALICE", first), ("U0BOB", second), ("U0CAROL", third)]:
            await bot.driver.command(user, CHANNEL, f"ack {number}")
        await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in (first, second, third)), 15)
        assert any(c.rate_limited for c in state.calls())  # it did happen ...
        seen = " ".join(texts(m) for m in bot.slack.ephemerals())
        assert "rate limit" not in seen.lower() and "error" not in seen.lower()  # ... and nobody was told off
        assert Counter(n for c in ack_calls(bot) if c.status == 200 for n in acked_numbers(c)) == {
            first: 1,
            second: 1,
            third: 1,
        }


async def test_a_failure_that_will_not_heal_is_reported_to_the_asker(tmp_path: Path) -> None:
    async with running_bot(tmp_path, users={"U0ALICE": "ghost"}) as bot:  # linked to nobody VictorOps knows
        number = bot.open_numbers("UNACKED")[0]
        await bot.driver.command("U0ALICE", CHANNEL, f"ack {number}")
        reply = await bot.reply("U0ALICE")
        assert "VictorOps has no user `ghost`" in reply.text
        assert bot.incident(number)["currentPhase"] == "UNACKED"
        assert [a.status for a in await bot.vobot.store.queue.recent()] == ["failed"]
