"""The one place that builds everything from settings and runs the bot."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from datetime import UTC, datetime

import uvicorn
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AppConfig, Settings
from bot.core.actions import Completions, IncidentActions
from bot.core.digests import Digests
from bot.core.directory import Directory
from bot.core.dispatch import Dispatcher
from bot.core.history import History
from bot.core.identity import Identity
from bot.core.incidents import IncidentView
from bot.core.posting import PostLimits
from bot.core.sender import ActionSender
from bot.metrics import Metrics
from bot.services import Services
from bot.slack.app import build_bolt_app
from bot.slack.contexts import Contexts
from bot.slack.digests import DigestPoster
from bot.slack.errors import explain
from bot.slack.notify import Notifier
from bot.slack.profiles import SlackProfiles
from bot.slack.responses import ResponseUrls
from bot.store.audit import AuditStore
from bot.store.budget import SharedWindow
from bot.store.contexts import SavedContexts
from bot.store.db import Database
from bot.store.digests import Digest, DigestStore, SlotClaims
from bot.store.lease import Lease
from bot.store.links import LinkStore
from bot.store.post_limits import PostWindows
from bot.store.queue import ActionQueue
from bot.store.replays import SeenRequestStore
from bot.store.snapshots import Snapshots
from bot.victorops.client import Family, VictorOpsClient
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import SharedBudget
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
    metrics = Metrics()
    # One budget per endpoint family, kept in the database: replicas share it and a restart keeps it.
    gates = {f: SharedBudget(SharedWindow(db, f.value, settings.budgets.spec(f).padded())) for f in Family}
    vo = VictorOpsClient(
        base_url=settings.victorops_api_url,
        api_id=settings.victorops_api_id,
        api_key=settings.victorops_api_key,
        budgets=settings.budgets,
        gates=gates,
        on_call=metrics.victorops_call,
    )
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
        base_url=settings.slack_api_url,
        # Slack answers 429 with Retry-After when we post too fast: wait it out rather than lose the reply;
        # a 5xx from Slack is usually over in a moment: try twice more.
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    incidents = IncidentView(vo, snapshots=Snapshots(db))
    directory = Directory(vo)
    audit = AuditStore(db)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this replica, in leases and claims
    digest_store = DigestStore(db)
    await digest_store.sync_config([Digest.from_config(c) for c in config.digests])
    queue = ActionQueue(db)
    completions = Completions()
    dispatcher = Dispatcher(
        queue=queue,
        lease=Lease(db, "dispatcher", holder, ttl=settings.lease_seconds),
        sender=ActionSender(vo, incidents, default_targets(config)),
        gate=gates[Family.INCIDENTS],
        auditor=audit,
        batch_window=settings.batch_window,
        completions=completions,
        depth=metrics.queue_depth.set,
    )
    identity = Identity(
        static_users=config.users,
        admins=[*config.admins, *settings.admins],
        links=LinkStore(db),
        directory=directory,
        profiles=SlackProfiles(slack),
        auditor=audit,
        email_matching=config.email_matching,
        allow_unverified_self_link=config.allow_unverified_self_link,
    )
    services = Services(
        settings=settings,
        config=config,
        vo=vo,
        slack=slack,
        db=db,
        incidents=incidents,
        actions=IncidentActions(
            queue,
            incidents,
            gates[Family.INCIDENTS],
            audit,
            wake=dispatcher.wake,
            completions=completions,
            budget_label=str(settings.victorops_rate_limit),
        ),
        queue=queue,
        dispatcher=dispatcher,
        digest_store=digest_store,
        digests=Digests(digest_store, SlotClaims(db, holder), incidents, now=now),
        metrics=metrics,
        posts=PostLimits(PostWindows(db)),
        seen=SeenRequestStore(db),
        directory=directory,
        history=History(vo, vo.budgets[Family.REPORTING].wait_time),
        identity=identity,
        now=now,
        contexts=Contexts(SavedContexts(db), now),
        hooks=ResponseUrls(settings.slack_api_url),
    )
    dispatcher.on_done = Notifier(services)
    services.digests.post = DigestPoster(services)
    return services


async def run_bot(settings: Settings, config: AppConfig, host: str = "0.0.0.0") -> None:  # noqa: S104
    """`vobot run`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode; health on $PORT in both."""
    services = await build_services(settings, config)
    bolt = build_bolt_app(services)
    socket = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler  # aiohttp's, only here

        assert settings.slack_app_token is not None
        socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        await socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
    web = build_http_app(None if socket else bolt, services)
    # log_config None: uvicorn's own lines go through our handler and formatter (escaped, JSON when asked)
    server = uvicorn.Server(
        uvicorn.Config(web, host=host, port=settings.port, log_level="warning", log_config=None, lifespan="off")
    )
    log.info("serving %s on port %d", "health" if socket else "Slack requests and health", settings.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    stop = asyncio.Event()
    dispatching = asyncio.create_task(services.dispatcher.run(stop))
    await services.digests.start()
    try:
        await server.serve()
    finally:
        await services.digests.stop()
        stop.set()  # the dispatcher finishes the call in flight; what is queued stays queued
        await dispatching
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if socket:
            await socket.close_async()  # type: ignore[no-untyped-call]
        await services.aclose()


async def send_digest(settings: Settings, config: AppConfig, name: str) -> tuple[bool, str]:
    """`vobot digest send NAME`: post one digest now, from the command line; (worked, what happened)."""
    services = await build_services(settings, config)
    try:
        digest = await services.digest_store.get(name)
        if digest is None:
            known = ", ".join(d.name for d in await services.digest_store.all()) or "none"
            return False, f"No digest named {name!r} (known: {known})."
        ts = await services.digests.send(digest)
        return True, f"Posted digest {name!r} to {digest.channel}." if ts else f"Nothing open: {name!r} skipped."
    except (VictorOpsError, SlackApiError) as exc:
        return False, explain(exc, settings.command)
    finally:
        await services.aclose()
