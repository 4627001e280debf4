"""The live feed survives a SIGKILL: `vobot run` with a feed and webhooks is killed after its cards were posted and
started again; no card is posted twice, and a claim the dead process left without a post is posted once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import yaml

from bot.sim.server import ServerThread
from bot.sim.slack import Message, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import wait_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.store.db import Database
from bot.store.feed_cards import STALE, CardStore
from bot.victorops.models import Phase
from tests.harness import CHANNEL, OFF, texts
from tests.procs import BotProcess, bot_env

pytestmark = pytest.mark.slow  # `vobot run` processes, killed and restarted

TOKEN = "feed-crash-token"


def cards(slack: SlackWorkspace) -> list[Message]:
    return [m for m in slack.messages(CHANNEL) if m.thread_ts is None]


def posted(slack: SlackWorkspace, number: str) -> int:
    return sum(f"#{number}" in m.text for m in cards(slack))


def add_feed(config: Path) -> None:
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "feeds": [{"channel": CHANNEL}]}))


async def test_sigkill_then_restart_posts_no_card_twice_and_a_claim_left_unposted_once(tmp_path: Path) -> None:
    vo, slack = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF)), SlackWorkspace()
    with ServerThread(build_app(state=vo)) as vo_server, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        env = bot_env(
            slack, slack_server.url, vo_server.url, tmp_path, VOBOT_WEBHOOK_TOKEN=TOKEN, VOBOT_POLL_INTERVAL="1"
        )
        add_feed(Path(env["VOBOT_CONFIG"]))

        first = await BotProcess(env, tmp_path / "first.log").start()
        try:
            await asyncio.sleep(1.1)  # VictorOps' start times are whole seconds: the feed's second is over
            vo.send_webhooks(f"{first.url}/victorops/webhook", TOKEN)
            numbers = [vo.trigger(f"crash feed {i}", "db") for i in range(3)]
            await wait_for(lambda: all(posted(slack, n) == 1 for n in numbers), within=10)
        finally:
            vo.send_webhooks(None)
            first.kill()

        # what a process killed between claim and post leaves: a claim, long enough ago, without a ts
        lost = vo.trigger("claimed, never posted", "db")
        db = Database(env["VOBOT_DATABASE_URL"])
        try:
            assert await CardStore(db, "dead", lambda: time.time() - 2 * STALE.total_seconds()).claim(
                lost, CHANNEL, Phase.UNACKED
            )
        finally:
            await db.dispose()

        second = await BotProcess(env, tmp_path / "second.log").start()
        try:
            vo.send_webhooks(f"{second.url}/victorops/webhook", TOKEN)
            await wait_for(lambda: posted(slack, lost) == 1, within=15)  # the poll takes the claim over
            vo.act("ack", "cchen", [numbers[0]], "from the phone")
            await wait_for(lambda: any("Acknowledged by" in texts(m) for m in cards(slack)), within=10)
            await asyncio.sleep(2.5)  # two more polls: time to repost, were anything to
        finally:
            vo.send_webhooks(None)
            second.stop()
        assert [posted(slack, n) for n in [*numbers, lost]] == [1, 1, 1, 1]
        assert len(cards(slack)) == 4
