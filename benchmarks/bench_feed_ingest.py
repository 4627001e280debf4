"""The live feed's sources: how fast a webhook reaches the feeds, and what polling costs in VictorOps calls.

1. Webhook received -> `Reconciler.reconcile` called: the simulator POSTs 200 incident changes (§6a bodies,
   trigger then ack) over loopback to the bot's real ASGI app (uvicorn, SQLite), one after the other; p50 and
   p99 from the POST leaving to reconcile being called. Target: p99 well under 500 ms.
2. VictorOps calls a minute spent by polling, at the default interval (30 s) and budget (6/minute), over ten
   simulated minutes: with no webhooks, and with webhooks arriving (polls five times rarer).
3. Poll mode: an incident appears in the simulator -> reconcile called, polling every 2 s, budget off;
   target: at most the interval + 2 s.
4. bench_budget.py's burst (5 users x 4 clicks at 6/10s) while polling every 2 s: target <= 5 ack calls,
   0 x 429, all acked within 5 s.
Run: .venv/bin/python benchmarks/bench_feed_ingest.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.config import AppConfig, Settings
from bot.core.incidents import IncidentView
from bot.core.ingest import Ingest
from bot.core.poller import Poller
from bot.sim.server import ServerThread, serve
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.stack import OFF, LocalStack, local_stack, settings_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops.limits import Budget, Family, RateSpec
from bot.victorops.models import Incident
from bot.web import Webhook, build_http_app
from bot.wiring import build

WEBHOOKS = 200
TOKEN = "bench-webhook-token"
MINUTES = 10


class Timed:
    """A Reconciler noting when each incident number reached it."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, str], float] = {}
        self.arrived = asyncio.Event()

    async def reconcile(self, incidents: Sequence[Incident], *, everything: bool = False) -> None:
        for incident in incidents:
            self.at.setdefault((incident.incident_number, incident.current_phase.value), time.perf_counter())
        self.arrived.set()

    async def until(self, key: tuple[str, str]) -> float:
        while key not in self.at:
            self.arrived.clear()
            await self.arrived.wait()
        return self.at[key]


async def webhook_latency(folder: Path) -> list[float]:
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    slack = SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        settings: Settings = settings_for(slack, slack_server.url, vo.url, folder, VOBOT_WEBHOOK_TOKEN=TOKEN)
        vobot = await build(settings, AppConfig())
        timed = Timed()
        ingest = Ingest(vobot.store.events, vobot.lookups.incidents, timed, lambda: datetime.now(UTC))
        app = build_http_app(vobot.metrics, {}, None, Webhook(TOKEN, ingest, vobot.metrics))
        latencies = []
        try:
            await vobot.lookups.incidents.all()
            async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
                for i in range(WEBHOOKS):
                    if i % 2 == 0:
                        number = state.trigger(f"Bench incident {i}", "bench")
                    else:
                        state.act("ack", "alice", [number])
                    body = state.webhook(number)
                    assert body is not None
                    sent = time.perf_counter()
                    answer = await client.post("/victorops/webhook", params={"token": TOKEN}, json=body)
                    assert answer.status_code == 200, answer.text
                    phase = str(body["INCIDENT.CURRENT_PHASE"])
                    latencies.append(timed.at[(number, phase)] - sent)
        finally:
            await vobot.aclose()
    return latencies


class FakeTime:
    """Time that passes only when slept, and stops the poller once `until` is reached."""

    def __init__(self, until: float) -> None:
        self.now, self.until, self.stop = 0.0, until, asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now >= self.until:
            self.stop.set()
        await asyncio.sleep(0)


class Counting:
    """VictorOps' incident list through the budget, counted."""

    def __init__(self, budget: Budget) -> None:
        self.budget, self.calls = budget, 0

    async def list_incidents(self) -> list[Incident]:
        await self.budget.acquire()
        self.calls += 1
        return []


class Nothing:
    async def reconcile(self, incidents: Sequence[Incident], *, everything: bool = False) -> None:
        return None

    async def depth(self) -> int:
        return 0


async def polling_calls(webhooks: bool) -> float:
    clock = FakeTime(MINUTES * 60)
    budget = Budget(RateSpec(6, 60).padded(), clock, clock.sleep)
    source = Counting(budget)
    view = IncidentView(source, clock=clock, wall_clock=clock)

    async def webhooks_on() -> bool:
        return webhooks

    nothing = Nothing()
    poller = Poller(view, nothing, budget, nothing, webhooks_on, interval=30.0, clock=clock, sleep=clock.sleep)
    await poller.run(clock.stop)
    return source.calls / MINUTES


def poller_on(stack: LocalStack, feeds: Timed, interval: float) -> Poller:
    vobot = stack.vobot
    budget = vobot.vo.budgets[Family.INCIDENTS]
    hooks = vobot.sources.ingest.webhooks_on
    return Poller(vobot.lookups.incidents, feeds, budget, vobot.store.queue, hooks, interval=interval)


async def poll_latency(folder: Path, interval: float = 2.0, incidents: int = 10) -> list[float]:
    async with local_stack(folder) as stack:
        feeds, stop = Timed(), asyncio.Event()
        task = asyncio.create_task(poller_on(stack, feeds, interval).run(stop))
        latencies = []
        try:
            for i in range(incidents):
                await asyncio.sleep(0.37 * (i % 5))  # at different moments of the interval
                appeared = time.perf_counter()
                number = stack.vo.trigger(f"Polled incident {i}", "polled")
                latencies.append(await feeds.until((number, "UNACKED")) - appeared)
        finally:
            stop.set()
            await task
    return latencies


async def burst_while_polling(folder: Path) -> dict[str, float]:
    import bench_budget  # the same burst, beside this file

    state = SimState(SimConfig(incidents=RateSpec.parse("6/10s"), reporting=OFF, lookups=OFF))
    config = {"users": bench_budget.USERS, "email_matching": False}
    async with local_stack(folder, state=state, config=config, VICTOROPS_RATE_LIMIT="6/10s") as stack:
        stop = asyncio.Event()
        task = asyncio.create_task(poller_on(stack, Timed(), 2.0).run(stop))
        try:  # polls come every 2 s from now on, and must leave the burst its calls
            return await bench_budget.burst(stack)
        finally:
            stop.set()
            await task


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        latencies = await webhook_latency(Path(folder))
        polled = await poll_latency(Path(folder, "poll"))
        burst = await burst_while_polling(Path(folder, "burst"))
    ms = sorted(x * 1000 for x in latencies)
    p50, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
    print(f"webhook received -> reconcile called, {len(ms)} webhooks over loopback (SQLite):")
    print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {ms[-1]:.1f} ms   (target: p99 well under 500 ms)")
    without, with_hooks = await polling_calls(False), await polling_calls(True)
    print(f"VictorOps calls a minute spent by polling (interval 30 s, budget 6/minute, {MINUTES} simulated minutes):")
    print(f"  without webhooks {without:.2f}/min   with webhooks arriving {with_hooks:.2f}/min")
    print(f"poll mode (every 2 s, budget off), {len(polled)} incidents: appeared -> reconcile called")
    print(f"  median {statistics.median(polled):.2f} s   max {max(polled):.2f} s   (target: at most 4 s)")
    shown = "   ".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in burst.items())
    print("5 users x 4 Acknowledge clicks at 6/10s while polling every 2 s:")
    print(f"  {shown}   (target: <= 5 ack calls, 0 x 429, all acked within 5 s)")


if __name__ == "__main__":
    asyncio.run(main())
