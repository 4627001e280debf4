"""Bulk acknowledge of 100 triggered incidents: VictorOps calls made, and the time to the redrawn listing.

The real bot (its ASGI app over loopback, SQLite, the dispatcher running), the VictorOps simulator and the Slack
fake, budgets off and the batch window the tests use (VOBOT_BATCH_WINDOW=0.1 s; the default is 1 s). 100
incidents are triggered on one route and 100 on another; then, in the same run:
1. Bulk: `/vo list route:bulk` -> click "Acknowledge all triggered (100)" (Slack's confirmation is the client's)
   -> until the listing's redraw lands in the Slack fake.
2. Baseline: `/vo list route:cards` -> click Acknowledge on each triggered card shown, one after another, each
   waiting for its card to redraw; Refresh when the shown ones are done (a listing shows ~20 cards) -> until
   all 100 are acknowledged.
Prints the VictorOps calls per endpoint and the time of each, and what the calls mean at VictorOps' default
budget (6 calls a minute on incident endpoints).
Run: .venv/bin/python benchmarks/bench_bulk.py  (about a minute)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.sim.slack import Message
from bot.sim.stack import LocalStack, local_stack
from bot.slack.blocks import ActionId

COUNT = 100
USER, CHANNEL = "U0ALICE", "C0OPS"
CONFIG = {"users": {USER: "alice"}, "email_matching": False}


def calls_since(stack: LocalStack, start: int) -> Counter[str]:
    return Counter(f"{c.method} {c.path}" for c in stack.vo.calls()[start:])


async def listing(stack: LocalStack, route: str) -> Message:
    before = len(stack.slack.ephemerals(USER))
    await stack.driver.command(USER, CHANNEL, f"list route:{route}")
    return await stack.reply(USER, before, within=10)


async def redrawn(stack: LocalStack, message: Message, versions: int) -> Message:
    found: Message = await stack.until(
        lambda: (m := stack.slack.find_message(message.ts)) and len(m.history) >= versions and m, within=30
    )
    return found


def triggered_cards(stack: LocalStack, message: Message) -> list[str]:
    return [
        b["block_id"].removeprefix("inc-").removesuffix("-actions")
        for b in message.blocks
        if b.get("block_id", "").endswith("-actions")
        and b["block_id"].startswith("inc-")
        and any(e["action_id"] == ActionId.ACK for e in b["elements"])
    ]


async def bulk(stack: LocalStack, numbers: list[str]) -> tuple[Counter[str], float]:
    message = await listing(stack, "bulk")
    assert f"Acknowledge all triggered ({COUNT})" in str(message.blocks)
    start, began = len(stack.vo.calls()), time.perf_counter()
    await stack.driver.click(USER, message, ActionId.ACK_TRIGGERED)
    await redrawn(stack, message, 1)
    elapsed = time.perf_counter() - began
    assert all(stack.incident(n)["currentPhase"] == "ACKED" for n in numbers)
    return calls_since(stack, start), elapsed


async def one_by_one(stack: LocalStack, numbers: list[str]) -> tuple[Counter[str], float, int, float]:
    message = await listing(stack, "cards")
    start, began, refreshes = len(stack.vo.calls()), time.perf_counter(), 0
    versions, clicks = 0, []
    while not all(stack.incident(n)["currentPhase"] == "ACKED" for n in numbers):
        current = stack.slack.find_message(message.ts) or message
        cards = triggered_cards(stack, current)
        if not cards:
            await stack.driver.click(USER, current, ActionId.REFRESH)
            refreshes += 1
        else:
            await stack.driver.click(USER, current, ActionId.ACK, block_id=f"inc-{cards[0]}-actions")
        versions, clicked = versions + 1, time.perf_counter()
        await redrawn(stack, message, versions)
        clicks.append(time.perf_counter() - clicked)
    return calls_since(stack, start), time.perf_counter() - began, refreshes, statistics.median(clicks)


def at_default_budget(calls: Counter[str]) -> str:
    incident_calls = sum(n for call, n in calls.items() if "/api-public/v1/incidents" in call)
    minutes = max(0, incident_calls - 6) / 6  # the first 6 go at once, then 6 a minute
    return f"{incident_calls} incident-endpoint calls: ~{minutes:.0f} min of VictorOps' 6/minute budget"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with local_stack(Path(folder), config=CONFIG, VOBOT_BATCH_WINDOW="0.1") as stack:
            bulk_numbers = [stack.vo.trigger(f"Queue depth high on worker {n:03d}", "bulk") for n in range(COUNT)]
            card_numbers = [stack.vo.trigger(f"Disk filling on node {n:03d}", "cards") for n in range(COUNT)]
            bulk_calls, bulk_time = await bulk(stack, bulk_numbers)
            card_calls, card_time, refreshes, per_click = await one_by_one(stack, card_numbers)
    print(f"bulk acknowledge of {COUNT} triggered incidents (budgets off, batch window 0.1 s)")
    print(f"  bulk, one click:     {bulk_time * 1000:7.0f} ms to the redrawn listing")
    print(f"    VictorOps calls: {dict(bulk_calls)}; {at_default_budget(bulk_calls)}")
    print(
        f"  one card at a time:  {card_time * 1000:7.0f} ms for {COUNT} clicks and {refreshes} Refresh "
        f"(median {per_click * 1000:.0f} ms from a click to its redraw)"
    )
    print(f"    VictorOps calls: {dict(card_calls)}; {at_default_budget(card_calls)}")


if __name__ == "__main__":
    asyncio.run(main())
