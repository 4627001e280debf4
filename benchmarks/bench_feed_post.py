"""The live feed's posting, through the real bot, the VictorOps simulator and the Slack fake.

1. Latency: an incident reconciled (as a webhook hands it over) -> its card in the Slack fake, p50 and p99 over
   200 incidents, 20 channels, each channel's incidents 1.2 s apart (Slack takes ~1 message/s per channel).
   Target p99 < 500 ms.
2. Storm: 200 incidents in 60 s to one channel (limit 10 a minute), with Slack answering 429 three times:
   posts made, every incident visible (a card or the rolled-up message) within 10 s, 0 unhandled 429.
Run: .venv/bin/python benchmarks/bench_feed_post.py
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

from bot.core.feed import Feed
from bot.sim.slack import SlackChannel
from bot.sim.stack import LocalStack, local_stack
from bot.victorops.models import Incident

CHANNELS = [f"C0FEED{n:02d}" for n in range(20)]


def visible(bot: LocalStack, channel: str) -> dict[str, float]:
    """Incident number -> when it first showed in the channel (a card, or a version of the rolled-up message)."""
    seen: dict[str, float] = {}
    for call in bot.slack.calls():
        if (
            call.error
            or call.method not in ("chat.postMessage", "chat.update")
            or call.params.get("channel") != channel
        ):
            continue
        if call.params.get("thread_ts"):
            continue
        for number in re.findall(r"#(\d+)", str(call.params.get("text", ""))):
            seen.setdefault(number, call.at)
    return seen


async def fresh(bot: LocalStack, number: str) -> Incident:
    found = (await bot.vobot.lookups.incidents.current()).get(number)
    assert found is not None
    return found


async def latency(folder: Path) -> None:
    async with local_stack(folder) as bot:
        for channel in CHANNELS:
            bot.slack.add_channel(SlackChannel(channel, channel.lower()))
            await bot.vobot.store.feeds.put(Feed(channel, routes=(channel.lower(),)))
        numbers = [bot.vo.trigger(f"load {n}", CHANNELS[n % 20].lower()) for n in range(200)]
        incidents = [await fresh(bot, n) for n in numbers]
        seconds: list[float] = []

        async def one(incident: Incident) -> None:
            start = time.perf_counter()
            await bot.vobot.core.feed.reconcile([incident])
            seconds.append(time.perf_counter() - start)

        tasks = []
        for incident in incidents:
            tasks.append(asyncio.create_task(one(incident)))
            await asyncio.sleep(0.06)  # 20 channels: each gets one every 1.2 s
        await asyncio.gather(*tasks)
        posts = len([c for c in bot.slack.calls("chat.postMessage") if not c.error])
        p50, p99 = statistics.median(seconds), statistics.quantiles(seconds, n=100)[98]
        print(
            f"reconcile -> card posted, 200 incidents: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, {posts} posts"
        )
        print("target: p99 < 500 ms")


async def storm(folder: Path) -> None:
    channel = CHANNELS[0]
    async with local_stack(folder) as bot:
        bot.slack.add_channel(SlackChannel(channel, "storm"))
        await bot.vobot.store.feeds.put(Feed(channel, routes=("db",), max_cards_per_minute=10))
        bot.slack.fail_next("chat.postMessage")  # Slack's 429 with Retry-After: 1
        bot.slack.fail_next("chat.update", times=2)
        arrived: dict[str, float] = {}
        start = time.time()
        tasks = []
        for n in range(200):
            incident = await fresh(bot, bot.vo.trigger(f"storm {n}", "db"))
            arrived[incident.incident_number] = time.time()  # handed to the feed, as a webhook would
            tasks.append(asyncio.create_task(bot.vobot.core.feed.reconcile([incident])))
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.3 - time.time()))  # 200 in 60 s
        await asyncio.gather(*tasks)
        await bot.vobot.core.feed.drain()
        seen = visible(bot, channel)
        delays = [seen[n] - at for n, at in arrived.items() if n in seen]
        missing = [n for n in arrived if n not in seen]
        calls = bot.slack.calls()
        posts = [c for c in calls if c.method == "chat.postMessage" and not c.error]
        edits = [c for c in calls if c.method == "chat.update" and not c.error]
        refused = [c for c in calls if c.error == "ratelimited"]
        per_second = max(sum(1 for d in posts if p.at <= d.at < p.at + 1) for p in posts)
        failures = sum(
            s.value for m in bot.vobot.metrics.feed_failures.collect() for s in m.samples if s.name.endswith("_total")
        )
        print(
            f"storm, 200 incidents in 60 s to one channel (10 a minute): {len(posts)} posts, {len(edits)} edits, "
            f"at most {per_second} post(s) in any second; visible within max {max(delays):.1f} s "
            f"(p50 {statistics.median(delays):.1f} s), {len(missing)} never shown; "
            f"{len(refused)} x 429 injected, {failures:.0f} unhandled"
        )
        print("target: every incident visible within 10 s, 0 unhandled 429")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        await latency(Path(folder) / "latency")
        await storm(Path(folder) / "storm")


if __name__ == "__main__":
    asyncio.run(main())
