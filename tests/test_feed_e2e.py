"""The live feed through the real app, the VictorOps simulator and the Slack fake: a card posted with the paged
people mentioned, its own Acknowledge button editing it with one thread line, and two replicas on one Postgres
posting each incident once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.core.feed import Feed
from bot.sim.slack import Message, SlackWorkspace
from bot.sim.stack import LocalStack, local_stack
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from tests.dbfixtures import fresh_postgres_schema
from tests.harness import CHANNEL, OFF, USERS, buttons, running_bot, texts


def cards(bot: LocalStack) -> list[Message]:
    return [m for m in bot.slack.messages(CHANNEL) if m.thread_ts is None]


def thread(bot: LocalStack, ts: str) -> list[str]:
    return [m.text for m in bot.slack.messages(CHANNEL) if m.thread_ts == ts]


async def reconcile(bot: LocalStack) -> None:
    """What a poll does: the whole view, fresh from VictorOps."""
    await bot.vobot.core.feed.reconcile(list((await bot.vobot.lookups.incidents.current()).values()))


async def test_a_card_is_posted_once_with_mentions_and_its_button_edits_it_with_one_thread_line(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        backlog = bot.vo.trigger("old news", "db")
        await asyncio.sleep(1.1)  # VictorOps' start times are whole seconds: the backlog's second is over
        await bot.vobot.store.feeds.put(Feed(CHANNEL, routes=("db",)))
        number = bot.vo.trigger("disk full on db-1", "db")
        bot.vo.trigger("elsewhere", "web")
        await reconcile(bot)
        await reconcile(bot)
        [message] = cards(bot)
        assert f"#{number}" in message.text and f"#{backlog}" not in message.text
        assert "Paging <@U0ALICE>" in texts(message)  # alice is paged and linked: pinged
        assert buttons(message, number)[0] == ActionId.ACK

        await bot.driver.click("U0BOB", message, ActionId.ACK, block_id=f"inc-{number}-actions")
        await bot.until(lambda: thread(bot, message.ts), within=5)
        await reconcile(bot)  # the poll sees the ack as well: nothing more
        await bot.vobot.core.feed.drain()
        [edited] = cards(bot)
        assert "Acknowledged by <@U0BOB>" in texts(edited) and buttons(edited, number)[0] == ActionId.RESOLVE
        assert thread(bot, message.ts) == ["Acknowledged by <@U0BOB> (Slack)."]

        bot.vo.act("resolve", "cchen", [number], "fixed from the phone")  # as the phone would
        await reconcile(bot)
        [resolved] = cards(bot)
        assert "Resolved by <@U0CAROL>" in texts(resolved) and buttons(resolved, number) == []
        assert thread(bot, message.ts)[-1] == "Resolved by <@U0CAROL> (VictorOps)."
        metrics = bot.vobot.metrics.render().decode()
        assert f'vobot_feed_posts_total{{channel="{CHANNEL}",kind="card"}} 1.0' in metrics
        assert f'vobot_feed_posts_total{{channel="{CHANNEL}",kind="thread"}} 2.0' in metrics
        assert f'vobot_feed_edits_total{{channel="{CHANNEL}"}}' in metrics


async def test_two_replicas_on_postgres_post_each_incident_once(tmp_path: Path) -> None:
    state, slack = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF)), SlackWorkspace()
    config = {"users": dict(USERS), "admins": ["U0ADMIN1"], "email_matching": False}
    with fresh_postgres_schema() as url:
        shared = {"state": state, "slack": slack, "config": config, "VOBOT_DATABASE_URL": url}
        async with (
            local_stack(tmp_path / "a", **shared) as one,  # type: ignore[arg-type]
            local_stack(tmp_path / "b", **shared) as two,  # type: ignore[arg-type]
        ):
            await one.vobot.store.feeds.put(Feed(CHANNEL))
            numbers = [state.trigger(f"incident {n}", "db") for n in range(6)]
            await asyncio.gather(*(reconcile(bot) for bot in (one, two, one, two)))
            posted = [m.text for m in cards(one)]
            assert len(posted) == len(numbers)
            assert all(sum(f"#{n}" in text for text in posted) == 1 for n in numbers)
