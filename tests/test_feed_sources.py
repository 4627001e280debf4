"""The live feed's sources end to end: the simulator's webhooks into the running bot, polling that notices what
changed in VictorOps by itself (the phone), clicks that keep their budget while polling, and a `vobot run`
process whose output never carries the webhook token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.core.poller import Poller
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.victorops.limits import Family, RateSpec
from bot.victorops.models import Phase
from tests.harness import CHANNEL, OFF, Bot, running_bot, texts
from tests.memory import RecordingReconciler
from tests.procs import BotProcess, bot_env
from tests.test_crash_and_replicas import fakes

TOKEN = "hook-token-8d1f2c"
INCIDENTS_GET = "/api-public/v1/incidents"


def incident_gets(bot: Bot) -> int:
    return len([c for c in bot.vo.calls() if c.method == "GET" and c.path == INCIDENTS_GET])


@asynccontextmanager
async def polling(bot: Bot, interval: float) -> AsyncIterator[RecordingReconciler]:
    """A poller over the bot's own view, budget and queue, handing what it sees to a recording reconciler."""
    vobot, feeds, stop = bot.vobot, RecordingReconciler(), asyncio.Event()
    poller = Poller(
        vobot.lookups.incidents,
        feeds,
        vobot.vo.budgets[Family.INCIDENTS],
        vobot.store.queue,
        vobot.sources.ingest.webhooks_on,
        interval=interval,
    )
    task = asyncio.create_task(poller.run(stop))
    try:
        yield feeds
    finally:
        stop.set()
        await task


async def test_a_webhook_changes_the_view_with_zero_victorops_calls(tmp_path: Path) -> None:
    async with running_bot(tmp_path, VOBOT_WEBHOOK_TOKEN=TOKEN) as bot:
        view = bot.vobot.lookups.incidents
        await view.all()
        gets = incident_gets(bot)
        bot.vo.send_webhooks(f"{bot.url}/victorops/webhook", TOKEN)
        try:
            number = bot.vo.trigger("Replication lag on db02", "db")
            await bot.until(lambda: view.known([number])[number] is not None)
            bot.vo.act("ack", "heidi", [number], "from my phone")
            await bot.until(lambda: (i := view.known([number])[number]) and i.current_phase is Phase.ACKED)
            acked = view.known([number])[number]
            assert acked is not None
            transition = acked.last_transition(Phase.ACKED)
            assert transition is not None and transition.by == "heidi"
            listed = {i.incident_number: i for i in await view.open()}  # a listing sees it, no call made
            assert listed[number].current_phase is Phase.ACKED
            assert incident_gets(bot) == gets
            assert await bot.vobot.sources.ingest.webhooks_on()
            await bot.driver.command("U0ALICE", CHANNEL, "status")
            status = texts(await bot.reply("U0ALICE"))
            assert "Live feed: webhooks last received" in status and "polling every 30 s, last never" in status
        finally:
            bot.vo.send_webhooks(None)


async def test_polling_alone_notices_what_changed_in_victorops(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, polling(bot, interval=0.3) as feeds:
        number = bot.vo.trigger("Queue depth high", "polled")
        await bot.until(lambda: feeds.seen().get(number) is Phase.UNACKED)
        bot.vo.act("ack", "cchen", [number])  # from the phone: nobody tells the bot
        await bot.until(lambda: feeds.seen().get(number) is Phase.ACKED)
        bot.vo.act("resolve", "cchen", [number])
        await bot.until(lambda: feeds.seen().get(number) is Phase.RESOLVED)  # listed as recently resolved


@pytest.mark.slow  # twenty clicks at a tight budget, with polling
async def test_a_burst_of_clicks_while_polling_keeps_its_budget(tmp_path: Path) -> None:
    state = SimState(SimConfig(incidents=RateSpec.parse("6/10s"), reporting=OFF, lookups=OFF))
    users = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ADMIN1"]
    async with running_bot(tmp_path, state=state, VICTOROPS_RATE_LIMIT="6/10s", VOBOT_BATCH_WINDOW="1.0") as bot:
        numbers = [bot.vo.trigger(f"Burst incident {i}", "burst") for i in range(20)]
        async with polling(bot, interval=2.0) as feeds:
            await bot.until(lambda: feeds.calls, within=5)  # a poll read VictorOps: the listing takes its answer
            await bot.driver.command("U0ALICE", CHANNEL, "list route:burst public")
            listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
            await asyncio.sleep(2.5)  # polling goes on while people read the listing
            start = time.monotonic()
            clicks = [
                bot.driver.click(users[i % 5], listing, ActionId.ACK, block_id=f"inc-{n}-actions")
                for i, n in enumerate(numbers)
            ]
            await asyncio.gather(*clicks)
            await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in numbers), within=8)
            elapsed = time.monotonic() - start
        acks = [c for c in state.calls() if c.path == "/api-public/v1/incidents/ack"]
        assert len(acks) <= 5
        assert not any(c.rate_limited for c in state.calls())
        assert elapsed < 5.0, elapsed


@pytest.mark.slow  # a `vobot run` process
async def test_a_running_bot_takes_webhooks_and_never_prints_the_token(tmp_path: Path) -> None:
    with fakes("off") as f:
        env = bot_env(f.slack, f.slack_url, f.vo_url, tmp_path, VOBOT_WEBHOOK_TOKEN=TOKEN, VOBOT_LOG_LEVEL="DEBUG")
        bot = await BotProcess(env, tmp_path / "bot.log").start()
        try:
            async with httpx.AsyncClient(base_url=bot.url) as http:
                refused = await http.post("/victorops/webhook", params={"token": "wrong"}, json={})
                assert refused.status_code == 401
                f.vo.send_webhooks(f"{bot.url}/victorops/webhook", TOKEN)
                f.vo.trigger("Webhook through a real process", "proc")
                for _ in range(100):
                    metrics = (await http.get("/metrics")).text
                    if 'vobot_webhooks_total{result="accepted"}' in metrics:
                        break
                    await asyncio.sleep(0.05)
                assert 'vobot_webhooks_total{result="accepted"} 1.0' in metrics
                assert TOKEN not in metrics
        finally:
            f.vo.send_webhooks(None)
            bot.stop()
        log = bot.log.read_text()
    assert "webhook refused (401)" in log  # the process did log about webhooks
    assert TOKEN not in log
