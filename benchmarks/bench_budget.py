"""The VictorOps budget under a burst, with `6/10s` on both sides (our budget and the simulator's limit).

5 users each click Acknowledge on 4 incidents within 1 s. Target: <= 5 ack calls (one per user), 0 x 429,
all 20 acknowledged within 5 s. Also: 20 concurrent `/vo list` -> 1 GET. Baseline in the same run: the same
burst with batching off (VOBOT_BATCH_WINDOW=0).
Run: .venv/bin/python benchmarks/bench_budget.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bot.sim.stack import OFF, LocalStack, local_stack
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.victorops.limits import RateSpec

USERS = {"U0ALICE": "alice", "U0BOB": "bob.martinez", "U0CAROL": "cchen", "U0DAVE": "dave", "U0FRANK": "frank"}
CHANNEL = "C0OPS"


async def burst(stack: LocalStack) -> dict[str, float]:
    numbers = [stack.vo.trigger(f"Burst incident {i}", "burst") for i in range(20)]
    await stack.driver.command("U0ALICE", CHANNEL, "list route:burst public")
    listing = await stack.until(lambda: next(iter(stack.slack.messages(CHANNEL)), None), within=15)
    gets_before = len([c for c in stack.vo.calls() if c.method == "GET"])
    users = list(USERS)
    start = time.monotonic()

    async def click(index: int, number: str) -> None:
        await asyncio.sleep(index * 0.05)  # 20 clicks spread over 1 s
        await stack.driver.click(users[index % 5], listing, ActionId.ACK, block_id=f"inc-{number}-actions")

    await asyncio.gather(*(click(i, n) for i, n in enumerate(numbers)))
    await stack.until(lambda: all(stack.incident(n)["currentPhase"] == "ACKED" for n in numbers), within=120)
    elapsed = time.monotonic() - start
    calls = stack.vo.calls()
    return {
        "ack calls": len([c for c in calls if c.path == "/api-public/v1/incidents/ack"]),
        "429s": len([c for c in calls if c.rate_limited]),
        "all acked after (s)": elapsed,
        "GETs during the burst": len([c for c in calls if c.method == "GET"]) - gets_before,
    }


async def lists(stack: LocalStack) -> int:
    await asyncio.gather(*(stack.driver.command(u, CHANNEL, "list") for u in list(USERS) * 4))
    await stack.until(lambda: len(stack.slack.ephemerals()) >= 20, within=30)
    return len([c for c in stack.vo.calls() if c.path == "/api-public/v1/incidents"])


async def run(window: str, folder: Path) -> dict[str, float]:
    state = SimState(SimConfig(incidents=RateSpec.parse("6/10s"), reporting=OFF, lookups=OFF))
    config = {"users": USERS, "email_matching": False}
    async with local_stack(
        folder, state=state, config=config, VICTOROPS_RATE_LIMIT="6/10s", VOBOT_BATCH_WINDOW=window
    ) as stack:
        return await burst(stack)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        results = {
            "batching on (1 s window)": await run("1.0", Path(folder, "on")),
            "batching off (baseline)": await run("0", Path(folder, "off")),
        }
        config = {"users": USERS, "email_matching": False}
        async with local_stack(Path(folder, "lists"), config=config, VICTOROPS_RATE_LIMIT="6/10s") as stack:
            gets = await lists(stack)
    print("5 users x 4 Acknowledge clicks within 1 s; budget 6/10s on both sides:")
    for name, figures in results.items():
        shown = "   ".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in figures.items())
        print(f"  {name:26s} {shown}")
    print("  target: <= 5 ack calls, 0 x 429, all acked within 5 s")
    print(f"20 concurrent `/vo list`: {gets} GET /api-public/v1/incidents (target 1)")


if __name__ == "__main__":
    asyncio.run(main())
