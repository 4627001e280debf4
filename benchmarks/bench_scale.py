"""The whole system under a growing webhook stream: three `vobot run` replicas on one Postgres database, the
VictorOps simulator and the Slack fake, 50 feeds (one channel and one route each, so every incident belongs to
exactly one channel), 2,000 open incidents seeded before the replicas start (the backlog: held by the shared
view, never posted).

Each step triggers incidents at a steady rate (60 a minute, doubled each step) spread over the 50 routes; the
simulator sends its webhook for every change (triggers and the acks that clicks make) to a round-robin balancer
in front of the three replicas, which forwards each delivery at once without waiting for the one before (as a
load balancer does; VictorOps' own concurrency is not documented). Meanwhile a few people click Acknowledge on
feed cards and type `/vo list`, signed requests sent round-robin to the replicas.

Per step: webhook -> card p50/p99 (trigger in the simulator to the card's post, or for an incident past the
feed's `max_cards_per_minute`, to the first draw of the rolled-up message naming it), click -> ack p99 and
`/vo list` -> ack p99 (Slack's HTTP answer), Postgres connections (max seen) and transactions and rows read a
second, CPU and RSS per replica (and the CPU of this process, which runs every fake, and the load average:
the machine's share of the limit), VictorOps incident calls in the busiest 60 s (budget 6), Slack calls a minute
in the busiest channel, and incidents lost or posted twice (every incident must be named exactly once in its
channel: by a card or in a rolled-up message). The run stops at the first step where something gives:
lost or doubled incidents, a webhook not taken (non-200), the VictorOps budget exceeded or a 429, webhook -> card
p99 over CARD_P99, or a click or command answered over ACK_P99 (Slack's 3 s) or not at all.

Run: .venv/bin/python benchmarks/bench_scale.py [--step 45] [--start-rate 60] [--max-rate 7680]
(up to 8 steps of 45 s, each followed by up to 30 s for its last cards: under 10 minutes)
Needs Postgres (VOBOT_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test); a fresh database
is created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import yaml
from bench_link_race import POSTGRES_URL, postgres_problem  # run as a script: benchmarks/ is on the path
from psycopg import sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sim.server import ServerThread, rss_mb
from bot.sim.slack import Message, SlackChannel, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import DriverResult, SlackDriver, wait_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.slack.blocks import ActionId

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (the replica processes' helpers)
from tests.procs import BotProcess, bot_env

REPLICAS, FEEDS, BACKLOG = 3, 50, 2000
TOKEN = "bench-scale-token"
PEOPLE = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]  # linked in the replicas' YAML (tests.harness.USERS)
CLICK_EVERY, LIST_EVERY = 5.0, 5.0  # seconds between a person's click on a card, and between `/vo list`s
CARD_P99, ACK_P99 = 5.0, 3.0  # seconds: past these a step gives
BUDGET = 6  # VictorOps incident calls in any 60 s
SETTLE = 30.0  # seconds after a step for its last cards to be posted before one counts as lost
LATE = 100.0  # seconds more, after the last step, for those to be posted by the feeds' retry (then: lost)
INCIDENTS_PATH = "/api-public/v1/incidents"
ROLLUP_MARK = ":rotating_light:"
CARD_BLOCK = re.compile(r"inc-(\d+)(?:-.*)?")  # every block of an incident's card (bot.slack.blocks.block_prefix)
ACTIONS_BLOCK = re.compile(r"inc-(\d+)-actions")


def channel_of(feed: int) -> str:
    return f"C0LOAD{feed:02d}"


def route_of(feed: int) -> str:
    return f"load{feed:02d}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """A URL on a new, empty database, dropped afterwards: its statistics count this run alone."""
    name = f"bench_scale_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class Postgres:
    """The run database's activity: connections now, and counters since the database was created."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)

    def connections(self) -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        row = self._conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def counters(self) -> tuple[int, int]:
        """(transactions committed, rows read); this connection's own probes are a few a second."""
        query = (
            "SELECT xact_commit, tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()"
        )
        self._conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self._conn.execute(query).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def close(self) -> None:
        self._conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def balancer(urls: Sequence[str], refused: list[int]) -> Starlette:
    """`POST /victorops/webhook` forwarded round-robin to the replicas, each delivery at once (not after the one
    before); what a replica did not take with 200 is counted in `refused`."""
    turn = itertools.cycle(urls)
    pending: set[asyncio.Task[None]] = set()
    client: list[httpx.AsyncClient] = []  # made in the server's own loop, on the first delivery

    async def deliver(url: str, body: bytes, query: str) -> None:
        try:
            response = await client[0].post(f"{url}/victorops/webhook?{query}", content=body,
                                            headers={"content-type": "application/json"})  # fmt: skip
            status = response.status_code
        except httpx.HTTPError:
            status = 599
        if status != 200:
            refused.append(status)

    async def webhook(request: Request) -> Response:
        if not client:
            client.append(httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)))
        task = asyncio.create_task(deliver(next(turn), await request.body(), request.url.query))
        pending.add(task)
        task.add_done_callback(pending.discard)
        return Response(status_code=200)

    return Starlette(routes=[Route("/victorops/webhook", webhook, methods=["POST"])])


@dataclass
class Stream:
    """What the run did and saw: every incident triggered, and every answer people got."""

    triggered: dict[str, tuple[float, str]] = field(default_factory=dict)  # number -> (when, channel)
    clicks: list[float] = field(default_factory=list)  # seconds to Slack's HTTP answer
    lists: list[float] = field(default_factory=list)
    unanswered: int = 0  # a click or command without a 200 within the driver's 3 s


def appearances(slack: SlackWorkspace) -> dict[str, list[tuple[float, str]]]:
    """Incident number -> (when, how) it was first shown in a feed channel: each card post ("card"), and the
    first draw of a rolled-up message naming it ("rollup")."""
    channels = {channel_of(f) for f in range(FEEDS)}
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    in_rollup: set[str] = set()
    for call in slack.calls():
        params = call.params
        if call.error or params.get("channel") not in channels or params.get("thread_ts"):
            continue
        if call.method not in ("chat.postMessage", "chat.update"):
            continue
        text = str(params.get("text", ""))
        numbers = re.findall(r"#(\d+)", text)
        if text.startswith(ROLLUP_MARK):
            for number in set(numbers) - in_rollup:
                in_rollup.add(number)
                found[number].append((call.at, "rollup"))
        elif call.method == "chat.postMessage":
            for number in set(numbers):
                found[number].append((call.at, "card"))
    return found


def naming(slack: SlackWorkspace) -> Counter[tuple[str, str]]:
    """(number, channel) -> how many top-level messages show it now: cards by their blocks (a click's answer
    replaces a card's text), rolled-up messages by their text."""
    counts: Counter[tuple[str, str]] = Counter()
    for feed in range(FEEDS):
        channel = channel_of(feed)
        for message in slack.messages(channel):
            if message.thread_ts is not None:
                continue
            if message.text.startswith(ROLLUP_MARK):
                numbers = set(re.findall(r"#(\d+)", message.text))
            else:
                numbers = {
                    m.group(1) for b in message.blocks if (m := CARD_BLOCK.fullmatch(str(b.get("block_id", ""))))
                }
            counts.update((n, channel) for n in numbers)
    return counts


def busiest_window(times: Sequence[float], width: float = 60.0) -> int:
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= width:
            start += 1
        most = max(most, end - start + 1)
    return most


def p(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def people(stream: Stream, drivers: Sequence[SlackDriver], slack: SlackWorkspace, stop: asyncio.Event) -> None:
    """Clicks on the newest unacknowledged card of a random channel, and `/vo list`, round-robin to the replicas."""
    rng, turn = random.Random(17), itertools.cycle(drivers)

    async def timed(answers: list[float], request: Awaitable[DriverResult]) -> None:
        try:
            result = await request
        except httpx.HTTPError:
            stream.unanswered += 1
            return
        if result.status != 200:
            stream.unanswered += 1
        else:
            answers.append(result.elapsed)

    async def clicking() -> None:
        while not stop.is_set():
            await asyncio.sleep(CLICK_EVERY / len(PEOPLE))
            card = unacked_card(slack, channel_of(rng.randrange(FEEDS)))
            if card is not None:
                message, number = card
                click = next(turn).click(rng.choice(PEOPLE), message, ActionId.ACK, block_id=f"inc-{number}-actions")
                await timed(stream.clicks, click)

    async def listing() -> None:
        while not stop.is_set():
            await asyncio.sleep(LIST_EVERY)
            await timed(stream.lists, next(turn).command(rng.choice(PEOPLE), channel_of(rng.randrange(FEEDS)), "list"))

    await asyncio.gather(clicking(), listing())


def unacked_card(slack: SlackWorkspace, channel: str) -> tuple[Message, str] | None:
    for message in reversed(slack.messages(channel)):
        for block in message.blocks:
            block_id = str(block.get("block_id", ""))
            found = ACTIONS_BLOCK.fullmatch(block_id) if message.thread_ts is None else None
            if found and any(e.get("action_id") == ActionId.ACK for e in block.get("elements", [])):
                return message, found.group(1)
    return None


@dataclass
class Step:
    rate: int
    row: dict[str, str]
    gave: list[str]
    late: list[str]  # incidents not shown SETTLE seconds after the step


async def shown(slack: SlackWorkspace, numbers: Sequence[str], within: float) -> None:
    """Until every incident of `numbers` is shown in its channel, or `within` seconds have passed."""
    with contextlib.suppress(TimeoutError):
        await wait_for(lambda: set(numbers) <= set(appearances(slack)), within, interval=0.5)


async def shown_later(slack: SlackWorkspace, numbers: Sequence[str], within: float) -> list[str]:
    """Of incidents not shown in time, those a later pass posts (an event the feeds failed on is applied again
    a minute later, bot.core.ingest.RETRY_EVERY): late, not lost."""
    await shown(slack, numbers, within)
    return [n for n in numbers if n in appearances(slack)]


def log_errors(logs: Sequence[Path]) -> Counter[str]:
    """The replicas' ERROR and WARNING lines, by their message's start (times and numbers left out)."""
    found: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if " ERROR " in line or " WARNING " in line or line.startswith(("ERROR", "WARNING")):
                found[re.sub(r"\d+", "N", line.split(" - ", 1)[-1])[:120]] += 1
    return found


async def step(
    rate: int, seconds: float, vo: SimState, slack: SlackWorkspace, bots: Sequence[BotProcess], pg: Postgres,
    drivers: Sequence[SlackDriver], refused: list[int],
) -> Step:  # fmt: skip
    stream, stop = Stream(), asyncio.Event()
    started, pg_before = time.time(), pg.counters()
    cpu_before = [cpu_seconds(b.process.pid) for b in bots]  # type: ignore[union-attr]
    own_before = cpu_seconds(os.getpid())
    refused_before, connections = len(refused), 0
    clicking = asyncio.create_task(people(stream, drivers, slack, stop))
    gap, n = 60.0 / rate, 0
    while (due := started + n * gap) < started + seconds:
        await asyncio.sleep(max(0.0, due - time.time()))
        feed = n % FEEDS
        at = time.time()
        stream.triggered[vo.trigger(f"load {rate}/min {n}", route_of(feed))] = (at, channel_of(feed))
        if n % max(1, rate // 60) == 0:
            connections = max(connections, await asyncio.to_thread(pg.connections))
        n += 1
    elapsed = time.time() - started
    pg_after = pg.counters()
    cpu = [(cpu_seconds(b.process.pid) - c) / elapsed * 100 for b, c in zip(bots, cpu_before, strict=True)]  # type: ignore[union-attr]
    rss = [rss_mb(b.process.pid) for b in bots]  # type: ignore[union-attr]
    own = (cpu_seconds(os.getpid()) - own_before) / elapsed * 100
    await shown(slack, list(stream.triggered), SETTLE)
    stop.set()
    await clicking

    seen = appearances(slack)
    delays = [seen[num][0][0] - at for num, (at, _) in stream.triggered.items() if num in seen]
    named = naming(slack)
    lost = [num for num, (_, ch) in stream.triggered.items() if named[(num, ch)] == 0]
    doubled = [num for num, (_, ch) in stream.triggered.items() if named[(num, ch)] > 1]
    doubled += [num for num in stream.triggered if sum(1 for _, how in seen.get(num, []) if how == "card") > 1]
    rolled = sum(1 for num in stream.triggered if seen.get(num) and seen[num][0][1] == "rollup")
    vo_calls = [c for c in vo.calls() if c.path.startswith(INCIDENTS_PATH)]
    window = busiest_window([c.at for c in vo_calls])  # over the whole run so far: a window may span steps
    in_step = [c for c in vo_calls if started <= c.at < started + elapsed]
    limited = sum(c.rate_limited for c in vo_calls)
    per_channel = Counter(
        str(c.params.get("channel"))
        for c in slack.calls()
        if started <= c.at < started + elapsed and c.params.get("channel")
    )  # fmt: skip
    webhook_errors = len(refused) - refused_before
    card_p50, card_p99 = (statistics.median(delays), p(delays, 99)) if delays else (0.0, 0.0)
    answers = stream.clicks + stream.lists
    row = {
        "rate/min": str(rate),
        "incidents": str(len(stream.triggered)),
        "rolled up": str(rolled),
        "card p50": f"{card_p50:.2f}s",
        "card p99": f"{card_p99:.2f}s",
        "click p99": f"{p(stream.clicks, 99):.2f}s ({len(stream.clicks)})",
        "list p99": f"{p(stream.lists, 99):.2f}s ({len(stream.lists)})",
        "pg conns": str(connections),
        "pg xact/s": f"{(pg_after[0] - pg_before[0]) / elapsed:.0f}",
        "pg rows/s": f"{(pg_after[1] - pg_before[1]) / elapsed:.0f}",
        "cpu % each": "/".join(f"{c:.0f}" for c in cpu),
        "rss MB each": "/".join(f"{r:.0f}" for r in rss),
        "fakes cpu %": f"{own:.0f}",
        "load": f"{os.getloadavg()[0]:.1f}",
        "VO calls": f"{len(in_step)} (max {window}/60s)",
        "Slack/min/ch": f"{max(per_channel.values(), default=0) / elapsed * 60:.1f}",
        "lost": str(len(lost)),
        "twice": str(len(set(doubled))),
    }
    gave = []
    if lost or doubled:
        gave.append(
            f"lost: {' '.join(lost[:10]) or 'none'}; posted twice: {' '.join(sorted(set(doubled))[:10]) or 'none'}"
        )
    if webhook_errors:
        gave.append(f"{webhook_errors} webhooks not taken ({Counter(refused[refused_before:]).most_common(3)})")
    if window > BUDGET or limited:
        gave.append(f"VictorOps budget: {window} incident calls in 60 s (budget {BUDGET}), {limited} x 429")
    if card_p99 > CARD_P99:
        gave.append(f"webhook -> card p99 {card_p99:.1f} s > {CARD_P99:.0f} s")
    if stream.unanswered or (answers and max(p(stream.clicks, 99), p(stream.lists, 99)) > ACK_P99):
        gave.append(f"Slack answers: {stream.unanswered} unanswered, p99 over {ACK_P99:.0f} s")
    return Step(rate, row, gave, lost)


def print_table(steps: Sequence[Step], *, header: bool = True) -> None:
    keys = list(steps[0].row)
    widths = {k: max(len(k), 11, *(len(s.row[k]) for s in steps)) for k in keys}
    if header:
        print("  ".join(k.rjust(widths[k]) for k in keys))
    for s in steps:
        print("  ".join(s.row[k].rjust(widths[k]) for k in keys), flush=True)


def add_feeds(config: Path, feeds: list[dict[str, object]]) -> None:
    """The feeds, added to the YAML file `bot_env` wrote (its users)."""
    config.write_text(yaml.safe_dump(yaml.safe_load(config.read_text()) | {"feeds": feeds}))


async def run(seconds: float, max_rate: int, start_rate: int) -> None:
    vo, slack, refused = SimState(SimConfig()), SlackWorkspace(), []  # the real budgets: 6/min on incidents
    for feed in range(FEEDS):
        slack.add_channel(SlackChannel(channel_of(feed), f"load-{feed:02d}"))
    for n in range(BACKLOG):
        vo.trigger(f"backlog {n}", route_of(n % FEEDS))
    feeds = [{"channel": channel_of(f), "filter": {"routing_keys": [route_of(f)]}} for f in range(FEEDS)]
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_database() as url,
        ServerThread(build_app(state=vo)) as vo_server,
        ServerThread(build_slack_api(slack)) as slack_server,
    ):
        slack.base_url = slack_server.url
        knobs = {"VOBOT_WEBHOOK_TOKEN": TOKEN, "VICTOROPS_RATE_LIMIT": "6/minute", "VOBOT_LOG_LEVEL": "WARNING"}
        env = bot_env(slack, slack_server.url, vo_server.url, Path(folder), VOBOT_DATABASE_URL=url, **knobs)
        for family in ("VICTOROPS_REPORTING_RATE_LIMIT", "VICTOROPS_LOOKUP_RATE_LIMIT"):
            env.pop(family)  # the real budgets
        add_feeds(Path(env["VOBOT_CONFIG"]), feeds)
        bots: list[BotProcess] = []
        pg = Postgres(url)
        try:
            for i in range(REPLICAS):  # one at a time: the first migrates the database
                bots.append(await BotProcess(env, Path(folder, f"bot{i}.log")).start())
            with ServerThread(balancer([b.url for b in bots], refused)) as lb:
                vo.send_webhooks(f"{lb.url}/victorops/webhook", TOKEN)
                await asyncio.sleep(1.1)  # VictorOps' start times are whole seconds: the feeds' second is over
                drivers = [SlackDriver(slack, f"{b.url}/slack/events", slack.signing_secret) for b in bots]
                print(f"{REPLICAS} replicas on one Postgres, {FEEDS} feeds, {BACKLOG} open, {seconds:.0f} s steps")
                steps: list[Step] = []
                rate = start_rate
                while rate <= max_rate:
                    steps.append(await step(rate, seconds, vo, slack, bots, pg, drivers, refused))
                    print_table(steps[-1:], header=len(steps) == 1)
                    if steps[-1].gave:
                        break
                    rate *= 2
                vo.send_webhooks(None)
                if late := steps[-1].late:
                    later = await shown_later(slack, late, LATE)
                    print(
                        f"of {len(late)} not shown in {SETTLE:.0f} s, {len(later)} were posted within {LATE:.0f} s more"
                    )
            errors = log_errors([b.log for b in bots])
        finally:
            for bot in bots:
                bot.stop()
            pg.close()
    print()
    print_table(steps)
    last = steps[-1]
    if last.gave:
        print(f"first limit at {last.rate}/min: " + "; ".join(last.gave))
    else:
        print(f"nothing gave up to {last.rate}/min")
    for line, count in errors.most_common(5):
        print(f"replica log, {count} x: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=float, default=45.0, help="seconds a step lasts (default 45)")
    parser.add_argument("--start-rate", type=int, default=60, help="webhooks a minute of the first step")
    parser.add_argument("--max-rate", type=int, default=7680, help="stop after this rate (default 7680)")
    args = parser.parse_args()
    if problem := postgres_problem():
        sys.exit(f"bench_scale needs Postgres: {problem}")
    asyncio.run(run(args.step, args.max_rate, args.start_rate))


if __name__ == "__main__":
    main()
