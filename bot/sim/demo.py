"""`vobot demo`: the whole product on one machine — the VictorOps simulator, a Slack workspace page, and the
real bot wired to both — so anyone can try every feature without a Slack or VictorOps account."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import tempfile
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from bot.sim.seed import random_alert
from bot.sim.stack import LocalStack, local_stack
from bot.sim.victorops import SimConfig
from bot.sim.workspace import DemoUser, build_workspace_routes

log = logging.getLogger(__name__)

# Who you can be on the page: linked ones act at once; Erin shows the link-and-finish prompt (her Slack
# email matches a VictorOps user); Priya is an admin with no VictorOps account of her own.
DEMO_USERS = [
    DemoUser("U0ALICE", "alice", "linked (config file)"),
    DemoUser("U0BOB", "bob", "linked (config file)"),
    DemoUser("U0DAVE", "dave", "linked (config file)"),
    DemoUser("U0ERIN", "erin", "not linked yet"),
    DemoUser("U0ADMIN1", "priya", "admin"),
]
CONFIG = {
    "users": {"U0ALICE": "alice", "U0BOB": "bob.martinez", "U0DAVE": "dave"},
    "admins": ["U0ADMIN1"],
    "email_matching": False,  # so that the unlinked experience can be tried
    "digests": [{"name": "ops-hourly", "channel": "C0OPS", "schedule": "0 * * * *", "timezone": "UTC"}],
    "feeds": [{"channel": "C0OPS"}],  # the channel the page opens on: each new incident's card arrives there
}
NEW_ALERT_EVERY = (90.0, 240.0)  # seconds: now and then a new incident arrives, as on a real day


async def keep_alerting(stack: LocalStack, rng: random.Random) -> None:
    while True:
        await asyncio.sleep(rng.uniform(*NEW_ALERT_EVERY))
        alert = random_alert(rng)
        stack.vo.ingest_alert(alert.routing_key, alert.body)
        log.info("a new demo alert arrived on route %s", alert.routing_key)


class PortBusy(Exception):
    """The demo's port is taken; the message says which and how to pick another."""


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before anything starts, so a busy port is said first, not after the "open" line."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortBusy(
            f"Port {port} on {host} is in use ({exc.strerror}): stop what uses it, "
            f"or pick another port, e.g. PORT={port + 1} make demo (or PORT={port + 1} vobot demo)."
        ) from None
    return sock


async def run_demo(port: int, host: str = "127.0.0.1") -> None:
    sock = listening_socket(host, port)
    token = secrets.token_urlsafe(24)
    with sock, tempfile.TemporaryDirectory(prefix="vobot-demo-") as folder:
        # VictorOps' real budgets on both sides, so the queue and its "queued, ~40 s" can be seen.
        async with local_stack(
            Path(folder),
            sim=SimConfig(),
            config=CONFIG,
            VICTOROPS_RATE_LIMIT="6/minute",
            VICTOROPS_REPORTING_RATE_LIMIT="1/minute",
            VICTOROPS_LOOKUP_RATE_LIMIT="15/minute",
            VOBOT_WEBHOOK_TOKEN=token,
        ) as stack:
            stack.vo.send_webhooks(f"{stack.url}/victorops/webhook", token)  # as VictorOps' Any-Incident webhook
            await stack.vobot.core.digests.start()
            alerts = asyncio.create_task(keep_alerting(stack, random.Random()))
            app = Starlette(routes=build_workspace_routes(stack, DEMO_USERS))
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
            print(
                f"vobot demo: open http://{host}:{port}/ in a browser and type /vo help. "
                f"Everything is local (SQLite in {folder}); Ctrl-C stops it.",
                flush=True,
            )
            try:
                await server.serve(sockets=[sock])
            finally:
                alerts.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await alerts
                await stack.vobot.core.digests.stop()
                stack.vo.send_webhooks(None)
