"""The live feed's sources: how fast a webhook reaches the feeds, and what polling costs in VictorOps calls.

1. Webhook received -> `Reconciler.reconcile` called: the simulator POSTs 200 incident changes (§6a bodies,
   trigger then ack) over loopback to the bot's real ASGI app (uvicorn, SQLite), one after the other; p50 and
   p99 from the POST leaving to reconcile being called. Target: p99 well under 500 ms.
2. VictorOps calls a minute spent by polling, at the default interval (30 s) and budget (6/minute), over ten
   simulated minutes: with no webhooks, and with webhooks arriving (polls five times rarer).
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
from bot.sim.stack import OFF, settings_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops.limits import Budget, RateSpec
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

    async def reconcile(self, incidents: Sequence[Incident], *, everything: bool = False) -> None:
        for incident in incidents:
            self.at.setdefault((incident.incident_number, incident.current_phase.value), time.perf_counter())


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


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        latencies = await webhook_latency(Path(folder))
    ms = sorted(x * 1000 for x in latencies)
    p50, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
    print(f"webhook received -> reconcile called, {len(ms)} webhooks over loopback (SQLite):")
    print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {ms[-1]:.1f} ms   (target: p99 well under 500 ms)")
    without, with_hooks = await polling_calls(False), await polling_calls(True)
    print(f"VictorOps calls a minute spent by polling (interval 30 s, budget 6/minute, {MINUTES} simulated minutes):")
    print(f"  without webhooks {without:.2f}/min   with webhooks arriving {with_hooks:.2f}/min")


if __name__ == "__main__":
    asyncio.run(main())
