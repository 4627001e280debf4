"""The one place that builds everything from settings and runs the bot."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.config import AppConfig, Settings
from bot.core.actions import IncidentActions
from bot.core.directory import Directory
from bot.core.history import History
from bot.core.identity import Identity
from bot.core.incidents import IncidentView
from bot.services import Services
from bot.slack.app import build_bolt_app
from bot.store.db import Database
from bot.victorops.client import Family, VictorOpsClient
from bot.victorops.models import Target
from bot.web import build_http_app

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def default_targets(config: AppConfig) -> list[Target]:
    """`policy:<slug>` and `user:<name>` from the YAML file (already validated there)."""
    targets = []
    for spec in config.default_targets:
        kind, _, slug = spec.partition(":")
        targets.append(Target(type="EscalationPolicy" if kind == "policy" else "User", slug=slug))
    return targets


async def build_services(settings: Settings, config: AppConfig) -> Services:
    db = Database(settings.database_url)
    await db.migrate()
    assert settings.victorops_api_id is not None and settings.victorops_api_key is not None  # checked by the CLI
    vo = VictorOpsClient(
        base_url=settings.victorops_api_url,
        api_id=settings.victorops_api_id,
        api_key=settings.victorops_api_key,
        budgets=settings.budgets,
    )
    incidents = IncidentView(vo)
    return Services(
        settings=settings,
        config=config,
        vo=vo,
        db=db,
        incidents=incidents,
        actions=IncidentActions(vo, incidents, default_targets(config)),
        directory=Directory(vo),
        history=History(vo, vo.budgets[Family.REPORTING].window.wait_time),
        identity=Identity(config.users, [*config.admins, *settings.admins]),
        now=now,
    )


async def run_bot(settings: Settings, config: AppConfig, host: str = "0.0.0.0") -> None:  # noqa: S104
    """`vobot run`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode; health on $PORT in both."""
    services = await build_services(settings, config)
    bolt = build_bolt_app(services)
    socket: AsyncSocketModeHandler | None = None
    if settings.socket_mode:
        assert settings.slack_app_token is not None
        socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        await socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
    web = build_http_app(None if socket else bolt)
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=settings.port, log_level="warning", lifespan="off"))
    log.info("serving %s on port %d", "health" if socket else "Slack requests and health", settings.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if socket:
            await socket.close_async()  # type: ignore[no-untyped-call]
        await services.aclose()
