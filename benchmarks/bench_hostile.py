"""Hostile input against `vobot run` in HTTP mode (a real process, SQLite, INFO logs):

(a) a corpus of unsigned, badly signed and malformed requests, tampered envelopes, another workspace, oversize
    bodies, replays of accepted commands and modal submissions, Events API retries: how many were answered
    without a 5xx (target: all), and how many effects the replays had (target: 0);
(b) `/vo help` p99 while 3, then 10, parallel unsigned 10 MB bodies are refused, against a baseline with no
    flood in the same run (target < 3 s, Slack's deadline);
(c) the bot's RSS and log size before and after the flood.
Run: .venv/bin/python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from bot.sim.hostile import JSON_TYPE, SIGNED, UNSIGNED, sign
from bot.sim.server import ServerThread, free_port, rss_mb
from bot.sim.slack import TEAM_ID, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from bot.sim.stack import env_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops.limits import RateSpec

FORM = {"content-type": "application/x-www-form-urlencoded"}
TEN_MB = 10 * 1024 * 1024
HELP_REQUESTS = 100
HELP_CONCURRENCY = 5


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.answered = 0  # without a 5xx

    async def send(self, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        self.tried += 1
        try:
            response = await request
        except httpx.TransportError:
            return None  # no answer at all counts as a failure too
        self.answered += response.status_code < 500
        return response


async def ten_mb_chunks() -> AsyncIterator[bytes]:
    chunk = b"a" * 65536
    for _ in range(TEN_MB // len(chunk)):
        yield chunk


async def oversize(http: httpx.AsyncClient, url: str, secret: str, chunked: bool) -> httpx.Response:
    """10 MB: declared (refused by its length) or chunked with plausible signature headers (counted as it comes)."""
    if not chunked:
        return await http.post(url, content=b"a" * TEN_MB, headers=FORM)
    headers = {**FORM, **sign(secret, b"something else")}
    return await http.post(url, content=ten_mb_chunks(), headers=headers)


async def corpus(url: str, slack: SlackWorkspace, vo: SimState) -> tuple[int, int, int]:
    """(tried, answered without a 5xx, effects from replays)."""
    tally, secret = Tally(), slack.signing_secret
    driver = SlackDriver(slack, url, secret)
    async with httpx.AsyncClient(timeout=30) as http:
        for case in [*UNSIGNED, *SIGNED]:
            await tally.send(http.post(url, content=case.body, headers=case.request_headers(secret)))
        body = urlencode(driver.command_payload("U0ALICE", "C0OPS", "create Hostile replay one")).encode()
        for headers in (sign("wrong-secret", body), sign(secret, body, int(time.time()) - 400)):
            await tally.send(http.post(url, content=body, headers={**FORM, **headers}))
        foreign = urlencode(driver.command_payload("U0ALICE", "C0OPS", "create Foreign") | {"team_id": "T0OTHER"})
        await tally.send(http.post(url, content=foreign, headers={**FORM, **sign(secret, foreign.encode())}))
        for chunked in (False, True):
            await tally.send(oversize(http, url, secret, chunked))
        # accepted once, then replayed five times each (an accepted command and a modal submission)
        signed = {**FORM, **sign(secret, body)}
        for _ in range(6):
            await tally.send(http.post(url, content=body, headers=signed))
        await driver.command("U0ALICE", "C0OPS", "create")
        view = await wait_for(lambda: next((v for v in slack.views() if "summary" in str(v.body)), None), 5)
        values = {"summary": {"summary": "Hostile replay two"}, "details": {"details": "replayed"}}
        submission = urlencode({"payload": json.dumps(driver.view_submission_payload("U0ALICE", view.id, values))})
        signed = {**FORM, **sign(secret, submission.encode())}
        await asyncio.gather(*(tally.send(http.post(url, content=submission, headers=signed)) for _ in range(6)))
        event = json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": "EvHostile",
                            "event": {"type": "app_home_opened", "user": "U0ALICE"}}).encode()  # fmt: skip
        for retry in range(4):
            headers = {"content-type": JSON_TYPE, **sign(secret, event, int(time.time()) + retry)}
            await tally.send(http.post(url, content=event, headers={**headers, "x-slack-retry-num": str(retry)}))
    await asyncio.sleep(2)  # the accepted creates (and any replayed one) reach VictorOps
    titles = [str(i["entityDisplayName"]) for i in vo.incidents()]
    counts = [titles.count(f"Hostile replay {n}") for n in ("one", "two")]
    assert all(counts), f"an accepted create did not reach VictorOps: {counts}"
    return tally.tried, tally.answered, sum(counts) - len(counts)


async def help_p99(url: str, slack: SlackWorkspace) -> float:
    driver = SlackDriver(slack, url, slack.signing_secret, timeout=30)
    times: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            result = await driver.command("U0ALICE", "C0OPS", "help")
            assert result.status == 200, result
            times.append(result.elapsed)

    await asyncio.gather(*(worker(HELP_REQUESTS // HELP_CONCURRENCY) for _ in range(HELP_CONCURRENCY)))
    return statistics.quantiles(times, n=100, method="inclusive")[98]


@contextlib.asynccontextmanager
async def flood(url: str, secret: str, parallel: int) -> AsyncIterator[Callable[[], int]]:
    """`parallel` clients sending unsigned 10 MB bodies back to back; yields how many were refused so far."""
    stop, refused = asyncio.Event(), [0]

    async def one(index: int) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while not stop.is_set():
                with contextlib.suppress(httpx.TransportError):
                    response = await oversize(http, url, secret, chunked=bool(index % 2))
                    refused[0] += response.status_code in (401, 413)

    tasks = [asyncio.create_task(one(i)) for i in range(parallel)]
    try:
        yield lambda: refused[0]
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def main() -> None:
    off = RateSpec.parse("off")
    slack, state = SlackWorkspace(), SimState(SimConfig(incidents=off, reporting=off, lookups=off))
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerThread(build_app(state=state)) as vo,
        ServerThread(build_slack_api(slack)) as slack_server,
    ):
        folder = Path(tmp)
        slack.base_url = slack_server.url
        (folder / "vobot.yaml").write_text(yaml.safe_dump({"users": {"U0ALICE": "alice"}, "email_matching": False}))
        port = free_port()
        config, path = str(folder / "vobot.yaml"), os.environ.get("PATH", "/usr/bin:/bin")
        env = env_for(slack, slack_server.url, vo.url, folder, PORT=str(port), VOBOT_LOG_LEVEL="INFO",
                      VOBOT_CONFIG=config, PATH=path)  # fmt: skip
        log = folder / "bot.log"
        with log.open("wb") as out:
            bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=out, stderr=out)  # noqa: ASYNC220
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
            tried, answered, effects = await corpus(url, slack, state)
            baseline = await help_p99(url, slack)
            rss_before, log_before = rss_mb(bot.pid), log.stat().st_size
            flooded = {}
            for parallel in (3, 10):
                async with flood(url, slack.signing_secret, parallel) as refused:
                    await asyncio.sleep(1)  # the flood is under way
                    flooded[parallel] = await help_p99(url, slack), refused()
            rss_after, log_after = rss_mb(bot.pid), log.stat().st_size
        finally:
            bot.terminate()
            bot.wait(15)
    print(f"(a) requests tried {tried} / answered without a 5xx {answered} / effects from replays {effects}")
    print(f"(b) /vo help p99, {HELP_REQUESTS} requests at concurrency {HELP_CONCURRENCY} (target < 3 s):")
    print(f"      no flood                          {baseline * 1000:7.1f} ms")
    for parallel, (p99, refused_count) in flooded.items():
        what = f"{parallel:2d} parallel 10 MB unsigned bodies"
        print(f"      {what}  {p99 * 1000:7.1f} ms  ({refused_count} refused meanwhile)")
    print(f"(c) RSS before the flood {rss_before:.0f} MB, after {rss_after:.0f} MB; "
          f"log grew {(log_after - log_before) / 1024:.0f} KB during the flood")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
