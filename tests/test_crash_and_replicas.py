"""Nothing lost: a SIGKILL with actions queued, and two replicas on Postgres with one killed mid-burst."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sim.server import ServerThread
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.store.db import Database
from bot.store.lease import Lease
from bot.store.queue import ActionQueue
from bot.victorops.limits import RateSpec
from tests.dbfixtures import fresh_postgres_schema
from tests.harness import CHANNEL, OFF, texts
from tests.procs import BotProcess, bot_env

pytestmark = pytest.mark.slow  # `vobot run` processes, killed and restarted

USERS = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ADMIN1"]


@dataclass
class Fakes:
    vo: SimState
    slack: SlackWorkspace
    vo_url: str
    slack_url: str

    def driver(self, bot: BotProcess) -> SlackDriver:
        return SlackDriver(self.slack, f"{bot.url}/slack/events", self.slack.signing_secret)

    def accepted_acks(self) -> Counter[str]:
        """How many times each incident was in an ack call VictorOps took."""
        counts: Counter[str] = Counter()
        for call in self.vo.calls():
            if call.path == "/api-public/v1/incidents/ack" and call.status == 200:
                counts.update(json.loads(call.body)["incidentNames"])
        return counts

    def phase(self, number: str) -> str:
        incident = self.vo.incident(number)
        assert incident is not None
        return str(incident["currentPhase"])


@contextmanager
def fakes(limit: str) -> Iterator[Fakes]:
    state = SimState(SimConfig(incidents=RateSpec.parse(limit), reporting=OFF, lookups=OFF))
    slack = SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        yield Fakes(state, slack, vo.url, slack_server.url)


async def test_sigkill_with_queued_actions_then_restart_sends_each_exactly_once(tmp_path: Path) -> None:
    with fakes("2/6s") as f:
        env = bot_env(
            f.slack, f.slack_url, f.vo_url, tmp_path,
            VICTOROPS_RATE_LIMIT="2/6s", VOBOT_BATCH_WINDOW="0.2", VOBOT_LEASE_SECONDS="3",
        )  # fmt: skip
        numbers = [f.vo.trigger(f"Crash test {i}", "crash") for i in range(4)]
        first = await BotProcess(env, tmp_path / "first.log").start()
        try:
            driver = f.driver(first)
            for user, number in zip(USERS, numbers, strict=False):
                await driver.command(user, CHANNEL, f"ack {number}")
            # the budget (one listing, one ack) is spent: the other three wait in the queue, and say so
            await wait_for(lambda: sum("Queued" in texts(m) for m in f.slack.ephemerals()) >= 3, within=10)
        finally:
            first.kill()
        queued = [n for n in numbers if f.phase(n) == "UNACKED"]
        assert queued, "nothing was left in the queue to survive the crash"

        second = await BotProcess(env, tmp_path / "second.log").start()
        try:
            await wait_for(lambda: all(f.phase(n) == "ACKED" for n in numbers), within=45)
            await wait_for(lambda: sum("Acknowledged by" in texts(m) for m in f.slack.ephemerals()) >= 4, within=10)
        finally:
            second.stop()
        assert f.accepted_acks() == Counter({n: 1 for n in numbers})
        assert not any(c.rate_limited for c in f.vo.calls())


async def test_two_replicas_on_postgres_one_killed_mid_burst(tmp_path: Path) -> None:
    with fresh_postgres_schema() as url, fakes("6/10s") as f:
        env = bot_env(
            f.slack, f.slack_url, f.vo_url, tmp_path,
            VICTOROPS_RATE_LIMIT="6/10s", VOBOT_BATCH_WINDOW="0.3", VOBOT_LEASE_SECONDS="3",
            VOBOT_DATABASE_URL=url,
        )  # fmt: skip
        numbers = [f.vo.trigger(f"Replica test {i}", "replicas") for i in range(12)]
        bots = [await BotProcess(env, tmp_path / f"bot{i}.log").start() for i in range(2)]
        db = Database(url)
        try:
            holder = await wait_for_async(lambda: Lease(db, "dispatcher", "test").holder(), within=10)
            leader = next(b for b in bots if f":{b.process.pid}:" in holder)  # type: ignore[union-attr]
            survivor = next(b for b in bots if b is not leader)
            drivers = {id(b): f.driver(b) for b in bots}
            # half the clicks arrive at each replica, then the sender dies mid-burst
            first_half = [
                drivers[id(bots[i % 2])].command(USERS[i % 4], CHANNEL, f"ack {n}") for i, n in enumerate(numbers[:6])
            ]
            await asyncio.gather(*first_half)
            # accepted = queued (a click is only acknowledged to Slack before; its reply comes after queueing)
            await wait_for_async(lambda: has_rows(db, 6), within=10)
            leader.kill()
            rest = [drivers[id(survivor)].command(USERS[i % 4], CHANNEL, f"ack {n}") for i, n in enumerate(numbers[6:])]
            results = await asyncio.gather(*rest)
            assert all(r.status == 200 for r in results)
            await wait_for(lambda: all(f.phase(n) == "ACKED" for n in numbers), within=60)
        finally:
            for bot in bots:
                bot.stop()
            await db.dispose()
        assert f.accepted_acks() == Counter({n: 1 for n in numbers})
        assert not any(c.rate_limited for c in f.vo.calls())


async def has_rows(db: Database, count: int) -> bool:
    return len(await ActionQueue(db).recent()) >= count


async def wait_for_async(probe, within: float):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (found := await probe()):
        assert loop.time() < deadline, "nothing matched"
        await asyncio.sleep(0.1)
    return found
