"""Footprint of `vobot run` in HTTP mode: start to `GET /healthz` 200 (target < 2 s), RSS when idle after
start (< 100 MB), and RSS after 200 signed `/vo help` requests plus 50 `/vo list` (< 150 MB). Measured on a
restart (database already migrated); a first start also loads Alembic to migrate, about 10 MB more.

Baseline in the same run: a Python process that only imports the same libraries (slack_bolt, httpx,
SQLAlchemy, uvicorn, starlette, pydantic) and idles — what any bot on this stack costs before doing anything.
Run: .venv/bin/python benchmarks/bench_footprint.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sim.server import ServerThread, free_port, rss_mb
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.victorops import SimConfig, build_app
from bot.victorops.limits import RateSpec

BASELINE = (
    "import slack_bolt.async_app, httpx, sqlalchemy.ext.asyncio, uvicorn, starlette, pydantic, time; time.sleep(60)"
)


async def load(url: str, slack: SlackWorkspace) -> None:
    verifier = SignatureVerifier(slack.signing_secret)
    async with httpx.AsyncClient(timeout=10) as client:

        async def send(text: str) -> None:
            reply_to = slack.new_response_url("commands", "C0OPS", "U0ALICE")
            fields = {"command": "/vo", "text": text, "user_id": "U0ALICE", "channel_id": "C0OPS", "team_id": "T0VOBOT"}
            body = urlencode({**fields, "response_url": reply_to, "trigger_id": "t"})
            stamp = str(int(time.time()))
            headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": verifier.generate_signature(
                timestamp=stamp, body=body), "content-type": "application/x-www-form-urlencoded"}  # fmt: skip
            assert (await client.post(url, content=body, headers=headers)).status_code == 200

        for start in range(0, 200, 20):
            await asyncio.gather(*(send("help") for _ in range(20)))
            del start
        await asyncio.gather(*(send("list") for _ in range(50)))
        await asyncio.sleep(2)  # let the listings finish


async def main() -> None:
    off = RateSpec.parse("off")
    slack = SlackWorkspace()
    baseline = subprocess.Popen([sys.executable, "-c", BASELINE])  # noqa: ASYNC220 - started once, never awaited
    with (
        tempfile.TemporaryDirectory() as folder,
        ServerThread(build_app(SimConfig(incidents=off, reporting=off, lookups=off))) as vo,
        ServerThread(build_slack_api(slack)) as slack_server,
    ):
        slack.base_url = slack_server.url
        port = free_port()
        env = {**os.environ, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
               "SLACK_API_URL": f"{slack_server.url}/api/", "VICTOROPS_API_URL": vo.url, "VICTOROPS_API_ID": "demo",
               "VICTOROPS_API_KEY": "demo", "VICTOROPS_RATE_LIMIT": "off", "VOBOT_DATABASE_URL": f"sqlite:///{folder}/v.db",
               "PORT": str(port), "VOBOT_LOG_LEVEL": "WARNING"}  # fmt: skip
        # A restart, as most starts are: the database exists and its migrations are applied (by a first run).
        url = env["VOBOT_DATABASE_URL"]
        migrate = f"import asyncio; from bot.store.db import Database; asyncio.run(Database({url!r}).migrate())"
        subprocess.run([sys.executable, "-c", migrate], check=True)  # noqa: ASYNC221
        started = time.perf_counter()
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env)  # noqa: ASYNC220
        try:
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.01)
            ready = time.perf_counter() - started
            await asyncio.sleep(2)
            idle = rss_mb(bot.pid)
            await load(f"http://127.0.0.1:{port}/slack/events", slack)
            loaded = rss_mb(bot.pid)
            base = rss_mb(baseline.pid)
        finally:
            bot.terminate()
            bot.wait(15)
            baseline.kill()
    print(f"start to GET /healthz 200:        {ready:5.2f} s   (target < 2 s)")
    print(f"RSS idle after start:             {idle:5.0f} MB  (target < 100 MB)")
    print(f"RSS after 200 /vo help + 50 list: {loaded:5.0f} MB  (target < 150 MB)")
    print(f"baseline, same libraries idle:    {base:5.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
