"""The live feed end to end: an incident triggered in the VictorOps simulator -> its card in the Slack fake.

The real bot (its ASGI app over loopback, SQLite, the poller running) with one feed on one channel:
1. Webhooks on (the simulator POSTs §6a bodies, as VictorOps' `Any-Incident` webhook): 200 incidents triggered
   1.1 s apart (Slack takes ~1 message/s per channel; the feed's limit is raised to 60 a minute so that none is
   rolled up). p50 and p99 from the trigger to the card's post; target p99 < 500 ms, 0 duplicates, 0 missing.
2. Poll only (no webhook token), at the default interval (30 s) and VictorOps' default budget (6/minute on both
   sides): a few incidents triggered 20 s apart, each until its card is posted. The poller leaves `BURST` calls
   of the window for clicks, so at 6/minute it polls when the window is all free: about once a minute.
Run: .venv/bin/python benchmarks/bench_feed_e2e.py  (about six minutes)
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.sim.stack import OFF, LocalStack, local_stack
from bot.sim.victorops import SimConfig
from bot.victorops.limits import RateSpec

CHANNEL = "C0OPS"
TOKEN = "bench-feed-e2e-token"
COUNT, GAP = 200, 1.1
POLLED, POLL_GAP = 4, 20.0


def card_posts(stack: LocalStack) -> dict[str, list[float]]:
    """Incident number -> when each card naming it was posted to the channel (threads and edits left out)."""
    posts: dict[str, list[float]] = {}
    for call in stack.slack.calls("chat.postMessage"):
        if call.error or call.params.get("channel") != CHANNEL or call.params.get("thread_ts"):
            continue
        for number in set(re.findall(r"#(\d+)", str(call.params.get("text", "")))):
            posts.setdefault(number, []).append(call.at)
    return posts


async def webhooks(folder: Path) -> dict[str, str]:
    config = {"feeds": [{"channel": CHANNEL, "max_cards_per_minute": 60}]}
    async with local_stack(folder, config=config, VOBOT_WEBHOOK_TOKEN=TOKEN) as stack:
        stop = asyncio.Event()
        poller = asyncio.create_task(stack.vobot.sources.poller.run(stop))
        await asyncio.sleep(1.1)  # VictorOps' start times are whole seconds: the feed's second is over
        stack.vo.send_webhooks(f"{stack.url}/victorops/webhook", TOKEN)
        triggered: dict[str, float] = {}
        start = time.time()
        for n in range(COUNT):
            await asyncio.sleep(max(0.0, start + n * GAP - time.time()))
            at = time.time()
            triggered[stack.vo.trigger(f"e2e {n}", "db")] = at
        await stack.until(lambda: set(triggered) <= set(card_posts(stack)), within=30)
        stack.vo.send_webhooks(None)
        stop.set()
        await poller
        posts = card_posts(stack)
    delays = [posts[n][0] - at for n, at in triggered.items() if n in posts]
    duplicates = sum(len(posts[n]) - 1 for n in triggered if n in posts)
    missing = len([n for n in triggered if n not in posts])
    p50, p99 = statistics.median(delays), statistics.quantiles(delays, n=100, method="inclusive")[98]
    return {
        "incidents": str(COUNT),
        "p50": f"{p50 * 1000:.0f} ms",
        "p99": f"{p99 * 1000:.0f} ms",
        "max": f"{max(delays) * 1000:.0f} ms",
        "duplicates": str(duplicates),
        "missing": str(missing),
    }


async def poll_only(folder: Path) -> dict[str, str]:
    sim = SimConfig(incidents=RateSpec.parse("6/minute"), reporting=OFF, lookups=OFF)
    config = {"feeds": [{"channel": CHANNEL}]}
    async with local_stack(folder, sim=sim, config=config, VICTOROPS_RATE_LIMIT="6/minute") as stack:
        stop = asyncio.Event()
        poller = asyncio.create_task(stack.vobot.sources.poller.run(stop))
        await asyncio.sleep(1.1)
        triggered: dict[str, float] = {}
        start = time.time()
        for n in range(POLLED):
            await asyncio.sleep(max(0.0, start + n * POLL_GAP - time.time()))
            triggered[stack.vo.trigger(f"polled {n}", "db")] = time.time()
        await stack.until(lambda: set(triggered) <= set(card_posts(stack)), within=240)
        elapsed = time.time() - start
        stop.set()
        await poller
        posts = card_posts(stack)
        polls = len([c for c in stack.vo.calls() if c.method == "GET" and c.path == "/api-public/v1/incidents"])
        rate_limited = len([c for c in stack.vo.calls() if c.rate_limited])
    delays = sorted(posts[n][0] - at for n, at in triggered.items())
    counts = Counter(len(p) for p in posts.values())
    return {
        "incidents": str(POLLED),
        "p50": f"{statistics.median(delays):.0f} s",
        "p99": "-",
        "max": f"{max(delays):.0f} s",
        "duplicates": str(sum((k - 1) * v for k, v in counts.items())),
        "missing": "0",
        "reads": f"{polls} GET incidents in {elapsed:.0f} s ({polls / elapsed * 60:.1f}/minute), {rate_limited} x 429",
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = {
            f"webhooks, one every {GAP} s": await webhooks(Path(folder, "webhooks")),
            "poll only, 30 s at 6/minute": await poll_only(Path(folder, "poll")),
        }
    print("trigger in the VictorOps simulator -> card posted to the Slack fake (one feed, one channel):")
    keys = ["incidents", "p50", "p99", "max", "duplicates", "missing"]
    print(f"  {'mode':30s}" + "".join(f"{k:>12s}" for k in keys))
    for mode, row in rows.items():
        print(
            f"  {mode:30s}" + "".join(f"{row[k]:>12s}" for k in keys) + (f"   {row['reads']}" if "reads" in row else "")
        )
    print("  target (webhooks): p99 < 500 ms, 0 duplicates, 0 missing")


if __name__ == "__main__":
    asyncio.run(main())
