"""One channel's posts (bot.slack.feed.Turns): one at a time, spaced, in order, a rolled-up message first."""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.slack.feed import Turns


async def test_posts_go_one_at_a_time_spaced_in_order_and_first_ones_jump_the_queue() -> None:
    turns = Turns(0.05, time.monotonic)
    done: list[tuple[str, float]] = []
    inside = 0

    async def post(name: str, first: bool = False) -> None:
        nonlocal inside
        async with turns.turn(first=first):
            inside += 1
            assert inside == 1
            await asyncio.sleep(0.001)
            done.append((name, time.monotonic()))
            inside -= 1

    tasks = [asyncio.create_task(post(f"card{n}")) for n in range(4)]
    await asyncio.sleep(0)  # card0 has the turn, the others wait
    tasks.append(asyncio.create_task(post("rollup", first=True)))
    await asyncio.gather(*tasks)
    assert [name for name, _ in done] == ["card0", "rollup", "card1", "card2", "card3"]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(done)]
    assert min(gaps) >= 0.045


async def test_a_waiter_cancelled_does_not_stop_the_channel() -> None:
    turns = Turns(0.01, time.monotonic)
    order: list[str] = []

    async def post(name: str) -> None:
        async with turns.turn():
            await asyncio.sleep(0.02)
            order.append(name)

    first, second, third = (asyncio.create_task(post(n)) for n in ("a", "b", "c"))
    await asyncio.sleep(0.005)
    second.cancel()
    await asyncio.gather(first, third)
    assert order == ["a", "c"]
