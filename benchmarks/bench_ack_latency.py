"""Ack latency of signed `/vo help` requests in HTTP mode: 200 requests at concurrency 20, p50 and p99.

Baseline in the same run: a bare Bolt AsyncApp that acks at once, served the same way (Starlette +
uvicorn in a thread, Bolt's AsyncSlackRequestHandler). Target: vobot p99 <= 1.5 x the bare app's p99.
Run: .venv/bin/python benchmarks/bench_ack_latency.py
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import Route

from bot.config import AppConfig, Settings
from bot.sim.server import ServerThread, free_port
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.victorops import SimConfig, build_app
from bot.victorops.limits import RateSpec
from bot.wiring import build, build_bolt, build_web

REQUESTS = 200
CONCURRENCY = 20
SECRET = "bench-signing-secret"


def bare_app(slack_url: str) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test-token", base_url=f"{slack_url}/api/"), signing_secret=SECRET)

    @app.command("/vo")
    async def ack_at_once(ack: AsyncAck) -> None:
        await ack()

    return app


async def latencies(urls: dict[str, str]) -> dict[str, list[float]]:
    """Requests alternate between the apps, so a noisy moment on this machine hits both alike."""
    verifier = SignatureVerifier(SECRET)
    fields = {"command": "/vo", "text": "help", "user_id": "U0ALICE", "channel_id": "C0OPS", "team_id": "T0VOBOT"}
    body = urlencode({**fields, "response_url": "http://127.0.0.1:1/hooks/x", "trigger_id": "t"})
    times: dict[str, list[float]] = {name: [] for name in urls}
    queue = [name for _ in range(REQUESTS) for name in urls]
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_keepalive_connections=100)) as client:

        async def one(url: str) -> float:
            stamp = str(int(time.time()))
            headers = {
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": stamp,
                "x-slack-signature": verifier.generate_signature(timestamp=stamp, body=body),
            }
            start = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.text
            return elapsed

        # warm up: Bolt's first auth.test, then one open connection per concurrent client
        for url in urls.values():
            await one(url)
            await asyncio.gather(*(one(url) for _ in range(CONCURRENCY)))

        async def worker() -> None:
            while queue:
                name = queue.pop()
                times[name].append(await one(urls[name]))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return times


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def serve_app(which: str, port: int) -> None:
    """Runs in a child process, so the load generator does not share its interpreter (and GIL)."""
    off = RateSpec.parse("off")
    slack = SlackWorkspace(signing_secret=SECRET)
    with (
        tempfile.TemporaryDirectory() as folder,
        ServerThread(build_app(SimConfig(incidents=off, reporting=off, lookups=off))) as vo,
        ServerThread(build_slack_api(slack)) as slack_server,
    ):
        slack.base_url = slack_server.url
        if which == "bare":
            handler = AsyncSlackRequestHandler(bare_app(slack_server.url))
            app = Starlette(routes=[Route("/slack/events", handler.handle, methods=["POST"])])
        else:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                SLACK_BOT_TOKEN=slack.bot_token,
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=f"{slack_server.url}/api/",
                VICTOROPS_API_URL=vo.url,
                VICTOROPS_API_ID="demo",
                VICTOROPS_API_KEY="demo",
                VOBOT_DATABASE_URL=f"sqlite:///{folder}/bench.db",
            )
            vobot = await build(settings, AppConfig())
            app = build_web(vobot, build_bolt(vobot))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        await uvicorn.Server(config).serve()


async def main() -> None:
    apps = {"bare Bolt AsyncApp": "bare", "vobot": "vobot"}
    ports = {name: free_port() for name in apps}
    children = [
        await asyncio.create_subprocess_exec(sys.executable, __file__, "serve", which, str(ports[name]))
        for name, which in apps.items()
    ]
    urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
    try:
        async with httpx.AsyncClient() as client:
            for url in urls.values():
                for _ in range(300):
                    with contextlib.suppress(httpx.TransportError):
                        await client.post(url)
                        break
                    await asyncio.sleep(0.05)
        results = await latencies(urls)
    finally:
        for child in children:
            child.terminate()
            await child.wait()
    print(f"{REQUESTS} signed `/vo help` requests to each app, concurrency {CONCURRENCY}, HTTP mode,")
    print("each app in its own process, requests alternating between them:")
    for name, times in results.items():
        print(f"  {name:20s} p50 {percentile(times, 50):6.1f} ms   p99 {percentile(times, 99):6.1f} ms")
    ratio = percentile(results["vobot"], 99) / percentile(results["bare Bolt AsyncApp"], 99)
    print(f"  vobot p99 / bare p99 = {ratio:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve_app(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(main())
