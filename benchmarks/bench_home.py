"""The App Home: a signed `app_home_opened` -> its `views.publish` in the Slack fake, p50/p99 over 100 opens.

The real bot (its ASGI app over loopback, SQLite) with the VictorOps simulator and the Slack fake; five linked
people open their Home tab in turn, the incident view fresh (one warm-up open first). Target: p99 < 500 ms and
0 VictorOps calls during the opens. Baseline in the same run: `/vo list` from signed request to its ephemeral
reply (a response URL post), 100 times, the same people.
Then the first open with cold caches in an organisation of T teams (bob in all of them), with VictorOps' real
lookup budget (15/minute): its latency, its VictorOps calls, and how many of bob's teams it shows.
Run: .venv/bin/python benchmarks/bench_home.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from bot.core.directory import RESERVE
from bot.sim.seed import Team
from bot.sim.slack_driver import wait_for
from bot.sim.stack import OFF, LocalStack, local_stack
from bot.sim.victorops import LOOKUPS_LIMIT, SimConfig, SimState

OPENS = 100
TEAM_COUNTS = (5, 40)
USERS = {"U0ALICE": "alice", "U0BOB": "bob.martinez", "U0CAROL": "cchen", "U0DAVE": "dave", "U0ADMIN1": "heidi"}
CHANNEL = "C0OPS"


async def timed(send: Callable[[], Awaitable[object]], landed: Callable[[], float | None]) -> float:
    """Seconds from sending the request to the moment the fake recorded its answer (`landed`)."""
    start = time.time()
    await send()
    return await wait_for(landed, within=5, interval=0.001) - start


def publish_at(stack: LocalStack, user: str, before: int) -> Callable[[], float | None]:
    def landed() -> float | None:
        calls = [c for c in stack.slack.calls("views.publish") if c.params.get("user_id") == user and not c.error]
        return calls[before].at if len(calls) > before else None

    return landed


def reply_at(stack: LocalStack, before: int) -> Callable[[], float | None]:
    def landed() -> float | None:
        posts = stack.slack.response_posts()
        return posts[before].at if len(posts) > before else None

    return landed


def p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p50 = statistics.median(ms)
    return f"{name:<32} n={len(ms):<4} p50={p50:6.1f} ms  p99={p99(seconds):6.1f} ms  max={ms[-1]:6.1f} ms"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = {"users": USERS, "email_matching": False}
        async with local_stack(Path(folder), config=config) as stack:
            people = list(USERS)
            for user in people:  # warm up: the incident view, the directory (teams, members, on-call), names
                await timed(lambda u=user: stack.driver.open_home(u), publish_at(stack, user, 0))
            calls_before = len(stack.vo.calls())
            opens = []
            for n in range(OPENS):
                user = people[n % len(people)]
                done = len([c for c in stack.slack.calls("views.publish") if c.params.get("user_id") == user])
                opens.append(await timed(lambda u=user: stack.driver.open_home(u), publish_at(stack, user, done)))
            vo_calls = len(stack.vo.calls()) - calls_before
            lists = []
            for n in range(OPENS):
                user = people[n % len(people)]
                posted = len(stack.slack.response_posts())
                lists.append(
                    await timed(lambda u=user: stack.driver.command(u, CHANNEL, "list"), reply_at(stack, posted))
                )
            age = stack.vobot.lookups.incidents.max_age
    print(summary("app_home_opened -> views.publish", opens))
    print(summary("/vo list -> ephemeral reply", lists))
    print(f"VictorOps calls during the {OPENS} opens: {vo_calls} (incident view max age {age:.0f} s)")
    print(f"target p99 < 500 ms and 0 calls: {'met' if p99(opens) < 500 and vo_calls == 0 else 'NOT met'}")


async def cold_open(teams: int) -> str:
    """The first home bob opens, nothing cached, `teams` teams in VictorOps (bob in each)."""
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=LOOKUPS_LIMIT))
    made = tuple(Team(f"Team {n}", f"team-bench-{n}", ("bob.martinez",)) for n in range(teams))
    state.directory = replace(state.directory, teams=made)
    with tempfile.TemporaryDirectory() as folder:
        env = {"VICTOROPS_LOOKUP_RATE_LIMIT": str(LOOKUPS_LIMIT)}
        async with local_stack(
            Path(folder), state=state, config={"users": USERS, "email_matching": False}, **env
        ) as stack:
            took = await timed(lambda: stack.driver.open_home("U0BOB"), publish_at(stack, "U0BOB", 0))
            calls = len(stack.vo.calls())
            shown = str(stack.slack.calls("views.publish")[0].params.get("view", "")).count("Team ")
    return (
        f"first open, cold, {teams:>3} teams: {took * 1000:6.1f} ms, {calls} VictorOps calls, "
        f"{shown}/{teams} of bob's teams shown (lookups {LOOKUPS_LIMIT}, {RESERVE} kept for clicks)"
    )


if __name__ == "__main__":
    asyncio.run(main())
    for count in TEAM_COUNTS:
        print(asyncio.run(cold_open(count)))
