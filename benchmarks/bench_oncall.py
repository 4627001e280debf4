"""VictorOps lookup calls a minute spent on who is on call, at the default interval (VOBOT_ONCALL_INTERVAL=60).

The real watch (bot.core.oncall: the shared answer, the compare-and-set per team and per group) over the real
store (SQLite, and Postgres when one answers at VOBOT_TEST_POSTGRES_URL), reading the VictorOps simulator over
loopback through the real client. The clock is virtual and shared by the simulator and the replicas: 60 minutes
pass in seconds. The simulator rotates every policy's on-call every 10 minutes by itself. Each replica reads every
interval at its own phase (staggered 0 s, 23 s, 41 s, a little jitter each time), or all at the same moment
(Postgres only: its advisory lock orders them). Printed: calls a minute, handoffs posted (one feed on Ops),
group updates (one group on Ops): each change must be handled once, whatever the replica count.
Target: about 1 call a minute whatever the number of replicas (the lookup budget is 15 a minute).
Run: .venv/bin/python benchmarks/bench_oncall.py
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench_link_race import postgres_problem, postgres_schema
from pydantic import SecretStr

from bot.core.feed import Feed
from bot.core.oncall import GroupRefused, Handoff, OnCallWatch, SharedOnCall
from bot.sim.server import ServerThread
from bot.sim.stack import OFF
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.store.db import Database
from bot.store.feeds import FeedStore
from bot.store.oncall import OnCallSeen
from bot.store.snapshots import Snapshots
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED
from bot.victorops.models import Incident

MINUTES = 60
INTERVAL = 60.0  # the default
ROTATE = 600.0
PHASES = (0.0, 23.0, 41.0)
START = 1_800_000_000.0


class VirtualClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Counted:
    """Slack as the watch sees it: handoffs and group updates counted, none refused."""

    def __init__(self) -> None:
        self.handoffs = 0
        self.updates = 0

    async def handoff(self, channel: str, handoff: Handoff) -> None:
        self.handoffs += 1

    async def set_members(self, group: str, slack_users: Sequence[str]) -> None:
        if not slack_users:
            raise GroupRefused("Slack refuses an empty group")
        self.updates += 1


class NoIncidents:
    async def latest(self) -> list[Incident]:
        return []

    def asked_at(self) -> float | None:
        return 0.0  # read, and nothing open


class People:
    async def slack_users(self) -> dict[str, str]:
        return {"alice": "U0ALICE", "bob.martinez": "U0BOB", "cchen": "U0CAROL"}


async def run(url: str, replicas: int, *, together: bool) -> tuple[float, int, int]:
    clock = VirtualClock()
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF, clock=clock, rotate_every=ROTATE))
    ops = state.directory.teams[0]
    slack = Counted()
    with ServerThread(build_app(state=state)) as server:
        databases = [Database(url) for _ in range(replicas)]
        await databases[0].migrate()
        await FeedStore(databases[0]).sync_config([Feed("C0OPS", teams=("Ops",), handoff=True)])
        clients = [
            VictorOpsClient(base_url=server.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED)
            for _ in range(replicas)
        ]
        watches = [
            OnCallWatch(
                SharedOnCall(vo.oncall_now, Snapshots(db), wall_clock=clock),
                OnCallSeen(db),
                FeedStore(db),
                NoIncidents(),
                People(),
                slack,
                slack,
                oncall_groups={ops.slug: "S0OPSONCALL"},
                interval=INTERVAL,
            )
            for vo, db in zip(clients, databases, strict=True)
        ]
        try:
            rng = random.Random(7)
            for minute in range(MINUTES):
                base = START + minute * INTERVAL
                if together:
                    clock.now = base
                    await asyncio.gather(*(w.check() for w in watches))
                    continue
                for watch, phase in zip(watches, PHASES, strict=False):
                    clock.now = base + phase + rng.uniform(0, 0.5)
                    await watch.check()
        finally:
            for vo in clients:
                await vo.aclose()
            for db in databases:
                await db.dispose()
    calls = sum(1 for c in state.calls() if c.path == "/api-public/v1/oncall/current")
    return calls / MINUTES, slack.handoffs, slack.updates


async def main() -> None:
    seen = int((MINUTES - 1) * INTERVAL // ROTATE)  # rotations before the last read
    print(f"{MINUTES} virtual minutes, a read every {INTERVAL:g} s per replica; reads see {seen} rotations:")
    print(f"  expected {seen} handoffs (first sight posts none) and {seen + 1} group updates (first sight sets it)")
    problem = postgres_problem()
    with tempfile.TemporaryDirectory() as folder:
        for name, replicas, together in (("1 replica", 1, False), ("3 replicas, staggered", 3, False)):
            url = f"sqlite:///{Path(folder) / f'{replicas}.db'}"
            print_row(f"sqlite   {name}", *await run(url, replicas, together=together))
    for name, replicas, together in (
        ("1 replica", 1, False),
        ("3 replicas, staggered", 3, False),
        ("3 replicas, together", 3, True),
    ):
        if problem:
            print(f"postgres {name}: skipped ({problem})")
            continue
        with postgres_schema() as url:
            print_row(f"postgres {name}", *await run(url, replicas, together=together))


def print_row(label: str, per_minute: float, handoffs: int, updates: int) -> None:
    print(f"  {label:32} {per_minute:.2f} lookup calls/minute; {handoffs} handoffs posted, {updates} group updates")


if __name__ == "__main__":
    asyncio.run(main())
