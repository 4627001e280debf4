"""A late outcome whose response URL Slack refuses still reaches the person (issue 12, item 8)."""

from __future__ import annotations

from pathlib import Path

from bot.sim.slack import RESPONSE_URL
from bot.sim.victorops import SimConfig, SimState
from bot.victorops.limits import RateSpec
from tests.harness import CHANNEL, OFF, Bot, running_bot, texts


def limited() -> SimState:
    return SimState(SimConfig(incidents=RateSpec.parse("2/6s"), reporting=OFF, lookups=OFF))


async def alice_acks_while_the_budget_is_spent(bot: Bot) -> str:
    """Bob's ack spends the budget, so Alice's is queued and its outcome arrives late; her incident's number."""
    first, second = bot.open_numbers("UNACKED")[:2]
    await bot.driver.command("U0BOB", CHANNEL, f"ack {first}")
    await bot.until(lambda: bot.incident(first)["currentPhase"] == "ACKED", within=5)
    await bot.driver.command("U0ALICE", CHANNEL, f"ack {second}")
    await bot.until(lambda: any("Queued" in texts(m) for m in bot.slack.ephemerals("U0ALICE")), within=5)
    return second


async def test_a_refused_response_url_falls_back_to_an_ephemeral_in_the_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path, state=limited(), VICTOROPS_RATE_LIMIT="2/6s", VOBOT_BATCH_WINDOW="0") as bot:
        second = await alice_acks_while_the_budget_is_spent(bot)
        bot.slack.fail_next(RESPONSE_URL, status=404, error="expired_url", times=5)
        await bot.until(lambda: bot.incident(second)["currentPhase"] == "ACKED", within=15)
        told = await bot.until(lambda: [c for c in bot.slack.calls("chat.postEphemeral") if c.error is None], within=5)
        assert told[0].params["user"] == "U0ALICE" and told[0].params["channel"] == CHANNEL
        assert "Acknowledged by" in texts(bot.slack.ephemerals("U0ALICE")[-1])


async def test_a_late_outcome_for_an_archived_channel_arrives_as_a_direct_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path, state=limited(), VICTOROPS_RATE_LIMIT="2/6s", VOBOT_BATCH_WINDOW="0") as bot:
        second = await alice_acks_while_the_budget_is_spent(bot)
        bot.slack.fail_next(RESPONSE_URL, status=500, error="internal_error", times=5)  # retried, then given up
        bot.slack.archive(CHANNEL)
        await bot.until(lambda: bot.incident(second)["currentPhase"] == "ACKED", within=15)
        dm = await bot.until(lambda: bot.slack.messages("D0ALICE"), within=8)
        assert "Acknowledged by" in texts(dm[-1])


async def test_a_slack_server_error_is_tried_again(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.slack.fail_next("chat.postMessage", status=503, retry_after=None, error="service_unavailable")
        await bot.vobot.slack.chat_postMessage(channel=CHANNEL, text="after one 503")
        assert [m.text for m in bot.slack.messages(CHANNEL)] == ["after one 503"]
