"""The one place that builds everything from settings, layer by layer (store, VictorOps, core, Slack), and
runs the bot."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.config import AppConfig, Settings
from bot.core.actions import Completions, IncidentActions
from bot.core.digest_admin import DigestAdmin
from bot.core.digests import Digests, Poster
from bot.core.directory import Directory
from bot.core.dispatch import Dispatcher
from bot.core.feed import Reconciler
from bot.core.feed_admin import Channels, FeedAdmin
from bot.core.feeds import FeedSync
from bot.core.history import History
from bot.core.home import Acted, HomeFinder
from bot.core.identity import Identity
from bot.core.incidents import IncidentView
from bot.core.ingest import Ingest
from bot.core.oncall import OnCallWatch, SharedOnCall
from bot.core.poller import Poller
from bot.core.posting import PostLimits
from bot.core.queue import QueuedAction
from bot.core.reminders import Reminders
from bot.core.sender import ActionSender
from bot.core.status import FamilyBudget, FeedSources, Status
from bot.metrics import Metrics
from bot.slack.acting import Answers
from bot.slack.app import build_bolt_app
from bot.slack.auth import SlackAuth
from bot.slack.cards import Cards
from bot.slack.channels import ChannelAccess
from bot.slack.contexts import Contexts
from bot.slack.digests import DigestPoster
from bot.slack.edge import Edge
from bot.slack.errors import explain
from bot.slack.feed import FeedPoster
from bot.slack.handoff import HandoffPoster
from bot.slack.homes import Homes, OffMessage
from bot.slack.listeners.bulk import Bulk
from bot.slack.listeners.buttons import Buttons
from bot.slack.listeners.commands import Commands
from bot.slack.listeners.digest_commands import DigestCommands
from bot.slack.listeners.feed_commands import FeedCommands
from bot.slack.listeners.home import HomeTab
from bot.slack.listeners.reminders import ReminderButtons
from bot.slack.listeners.shortcuts import Shortcuts
from bot.slack.listeners.views import Views
from bot.slack.notify import Notifier
from bot.slack.profiles import SlackProfiles
from bot.slack.reminders import ReminderPoster
from bot.slack.responses import ResponseUrls
from bot.slack.usergroups import SlackUserGroups
from bot.store.audit import AuditStore
from bot.store.budget import SharedWindow
from bot.store.contexts import SavedContexts
from bot.store.db import Database
from bot.store.digests import DigestStore, SlotClaims
from bot.store.events import EventStore
from bot.store.feed_cards import CardStore, RollupStore
from bot.store.feeds import FeedStore
from bot.store.lease import Lease
from bot.store.links import LinkStore
from bot.store.oncall import OnCallSeen
from bot.store.post_limits import PostWindows
from bot.store.queue import ActionQueue
from bot.store.reminders import ReminderClaims, SnoozeStore
from bot.store.replays import SeenRequestStore
from bot.store.snapshots import Snapshots
from bot.victorops.client import VictorOpsClient
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import Family, SharedBudget
from bot.victorops.models import Target
from bot.web import Webhook, build_http_app, database_check, slack_check

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


@dataclass(frozen=True)
class Store:
    """The database and what is kept in it."""

    db: Database
    queue: ActionQueue
    lease: Lease
    links: LinkStore
    snapshots: Snapshots
    digests: DigestStore
    claims: SlotClaims
    contexts: SavedContexts
    seen: SeenRequestStore
    post_windows: PostWindows
    feeds: FeedStore
    events: EventStore
    cards: CardStore
    rollups: RollupStore
    reminder_claims: ReminderClaims
    snoozes: SnoozeStore
    oncall_seen: OnCallSeen
    acted: Acted  # the audit trail, also telling who acted (to redraw their App Home)


async def open_store(settings: Settings, config: AppConfig, holder: str) -> Store:
    """Migrated, and holding the configuration file's digests and feeds."""
    db = Database(settings.database_url)
    await db.migrate()
    digests = DigestStore(db)
    await digests.sync_config([c.digest() for c in config.digests])
    feeds = FeedStore(db)
    await feeds.sync_config([c.feed() for c in config.feeds])
    return Store(
        db=db,
        queue=ActionQueue(db),
        lease=Lease(db, "dispatcher", holder, ttl=settings.lease_seconds),
        links=LinkStore(db),
        snapshots=Snapshots(db),
        digests=digests,
        claims=SlotClaims(db, holder),
        contexts=SavedContexts(db),
        seen=SeenRequestStore(db),
        post_windows=PostWindows(db),
        feeds=feeds,
        events=EventStore(db),
        cards=CardStore(db, holder),
        rollups=RollupStore(db),
        reminder_claims=ReminderClaims(db, holder),
        snoozes=SnoozeStore(db),
        oncall_seen=OnCallSeen(db),
        acted=Acted(AuditStore(db)),
    )


def connect_victorops(settings: Settings, store: Store, metrics: Metrics) -> VictorOpsClient:
    assert settings.victorops_api_id is not None and settings.victorops_api_key is not None  # checked by the CLI
    # One budget per endpoint family, kept in the database: replicas share it and a restart keeps it.
    gates = {f: SharedBudget(SharedWindow(store.db, f.value, settings.budgets.spec(f).padded())) for f in Family}
    return VictorOpsClient(
        base_url=settings.victorops_api_url,
        api_id=settings.victorops_api_id,
        api_key=settings.victorops_api_key,
        budgets=settings.budgets,
        gates=gates,
        on_call=metrics.victorops_call,
    )


def connect_slack(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
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


@dataclass(frozen=True)
class Lookups:
    """The core's views of VictorOps and of people, which the Slack side draws from."""

    incidents: IncidentView
    directory: Directory
    identity: Identity
    history: History
    oncall: SharedOnCall  # who is on call: one read for every replica


def build_lookups(
    settings: Settings, config: AppConfig, store: Store, vo: VictorOpsClient, slack: AsyncWebClient
) -> Lookups:
    oncall = SharedOnCall(vo.oncall_now, store.snapshots)
    directory = Directory(vo, oncall=oncall.teams, lookup_room=vo.budgets[Family.LOOKUPS].remaining)
    identity = Identity(
        static_users=config.users,
        admins=[*config.admins, *settings.admins],
        links=store.links,
        directory=directory,
        profiles=SlackProfiles(slack),
        auditor=store.acted,
        email_matching=config.email_matching,
        allow_unverified_self_link=config.allow_unverified_self_link,
    )
    return Lookups(
        incidents=IncidentView(vo, snapshots=store.snapshots),
        directory=directory,
        identity=identity,
        history=History(vo, vo.budgets[Family.REPORTING].wait_time),
        oncall=oncall,
    )


@dataclass(frozen=True)
class SlackSide:
    """What the Slack layer draws and posts with, shared by the listeners and the core's callbacks."""

    contexts: Contexts
    hooks: ResponseUrls
    answers: Answers
    cards: Cards
    notifier: Notifier
    poster: DigestPoster
    channels: ChannelAccess
    feed_poster: FeedPoster
    reminder_poster: ReminderPoster
    handoffs: HandoffPoster
    usergroups: SlackUserGroups
    homes: Homes
    elsewhere: OffMessage  # answers for a home, a thread, a direct message


def build_slack_side(
    settings: Settings, store: Store, lookups: Lookups, slack: AsyncWebClient, metrics: Metrics
) -> SlackSide:
    contexts = Contexts(store.contexts, now)
    hooks = ResponseUrls(settings.slack_api_url)
    answers = Answers(lookups.identity, contexts, settings.command)
    cards = Cards(lookups.incidents, lookups.directory, lookups.identity, contexts, slack, answers, settings.command)
    feed_poster = FeedPoster(slack, settings.command, cards.names, metrics)
    finder = HomeFinder(lookups.incidents, lookups.directory, lookups.identity)
    homes = Homes(finder, cards, lookups.identity, contexts, slack, settings.command)
    elsewhere = OffMessage(homes, slack, hooks)
    return SlackSide(
        contexts=contexts,
        hooks=hooks,
        answers=answers,
        cards=cards,
        notifier=Notifier(lookups.incidents, cards, hooks, slack, elsewhere),
        poster=DigestPoster(slack, settings.command, cards.names, lookups.incidents.routes, metrics),
        channels=ChannelAccess(slack),
        feed_poster=feed_poster,
        reminder_poster=ReminderPoster(feed_poster, cards.names),
        handoffs=HandoffPoster(slack, settings.command, cards.names),
        usergroups=SlackUserGroups(slack),
        homes=homes,
        elsewhere=elsewhere,
    )


@dataclass(frozen=True)
class Core:
    """The use cases: actions through the queue and its dispatcher, digests and their administration, flood
    limits, the bot's status."""

    actions: IncidentActions
    dispatcher: Dispatcher
    digests: Digests
    digest_admin: DigestAdmin
    feed_admin: FeedAdmin
    posts: PostLimits
    status: Status
    feed: FeedSync  # the live feed's cards: what the webhook and the poll reconcile
    reminders: Reminders  # in the feed cards' threads, ticked by `run_bot`
    oncall: OnCallWatch  # handoff posts and on-call user groups


def build_core(
    settings: Settings,
    config: AppConfig,
    store: Store,
    vo: VictorOpsClient,
    lookups: Lookups,
    metrics: Metrics,
    tell: Callable[[QueuedAction], Awaitable[None]],
    poster: Poster,
    channels: Channels,
    feed: FeedSync,
    feed_state: FeedSources,
    reminders: Reminders,
    oncall: OnCallWatch,
) -> Core:
    completions = Completions()
    gate = vo.budgets[Family.INCIDENTS]
    dispatcher = Dispatcher(
        queue=store.queue,
        lease=store.lease,
        sender=ActionSender(vo, lookups.incidents, default_targets(config), feed=feed),
        gate=gate,
        auditor=store.acted,
        on_done=tell,
        batch_window=settings.batch_window,
        completions=completions,
        depth=metrics.queue_depth.set,
    )
    actions = IncidentActions(
        store.queue,
        lookups.incidents,
        gate,
        store.acted,
        wake=dispatcher.wake,
        completions=completions,
        budget_label=str(settings.victorops_rate_limit),
    )
    digests = Digests(store.digests, store.claims, lookups.incidents, poster=poster, now=now)
    posts = PostLimits(store.post_windows)
    identity = lookups.identity
    budgets = [FamilyBudget(f.value, settings.budgets.spec(f), vo.budgets[f]) for f in Family]
    return Core(
        actions=actions,
        dispatcher=dispatcher,
        digests=digests,
        digest_admin=DigestAdmin(
            store.digests, digests, posts, lookups.incidents, poster, admins=identity.admins, now=now
        ),
        feed_admin=FeedAdmin(store.feeds, lookups.incidents, lookups.directory, channels, admins=identity.admins),
        posts=posts,
        status=Status(lookups.directory.oncall, budgets, store.queue, digests, identity, feed_state, oncall),
        feed=feed,
        reminders=reminders,
        oncall=oncall,
    )


@dataclass(frozen=True)
class Sources:
    """Where the live feed learns of changes: VictorOps' webhook and polling."""

    ingest: Ingest
    poller: Poller


def build_sources(
    settings: Settings, store: Store, vo: VictorOpsClient, lookups: Lookups, metrics: Metrics, feed: Reconciler
) -> Sources:
    ingest = Ingest(store.events, lookups.incidents, feed, now)
    poller = Poller(
        lookups.incidents,
        feed,
        vo.budgets[Family.INCIDENTS],
        store.queue,
        ingest.webhooks_on,
        interval=settings.poll_interval,
        on_poll=metrics.poll,
    )
    return Sources(ingest, poller)


@dataclass(frozen=True)
class Vobot:
    """Everything built, for `run_bot`, `send_digest` and the test stack; the Slack layer never sees it."""

    settings: Settings
    config: AppConfig
    metrics: Metrics
    store: Store
    vo: VictorOpsClient
    slack: AsyncWebClient
    lookups: Lookups
    slack_side: SlackSide
    core: Core
    sources: Sources

    async def aclose(self) -> None:
        await self.slack_side.homes.drain()  # the App Home redraws that are due, before the clients close
        await self.vo.aclose()
        await self.store.db.dispose()


async def build(settings: Settings, config: AppConfig) -> Vobot:
    """Layer by layer: the store, VictorOps, the core's lookups, the Slack side, the core's use cases."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this replica, in leases and claims
    metrics = Metrics()
    store = await open_store(settings, config, holder)
    vo = connect_victorops(settings, store, metrics)
    slack = connect_slack(settings)
    lookups = build_lookups(settings, config, store, vo, slack)
    side = build_slack_side(settings, store, lookups, slack, metrics)
    store.acted.listen(side.homes.acted)  # after any action, its person's App Home is redrawn
    feed = FeedSync(store.feeds, store.cards, store.rollups, side.feed_poster, now=now)
    sources = build_sources(settings, store, vo, lookups, metrics, feed)
    feed_state = FeedSources(
        sources.ingest, sources.poller, lookups.incidents, webhooks=settings.webhook_token is not None
    )
    oncall = OnCallWatch(
        lookups.oncall,
        store.oncall_seen,
        store.feeds,
        lookups.incidents,
        lookups.identity,
        side.handoffs,
        side.usergroups,
        oncall_groups=config.oncall_groups,
        interval=settings.oncall_interval,
        watching=config.watches_oncall,
        on_read=lookups.directory.oncall.set,
    )
    core = build_core(
        settings,
        config,
        store,
        vo,
        lookups,
        metrics,
        tell=side.notifier,
        poster=side.poster,
        channels=side.channels,
        feed=feed,
        feed_state=feed_state,
        reminders=Reminders(
            feed.feeds,
            store.cards,
            lookups.incidents,
            store.reminder_claims,
            store.snoozes,
            side.reminder_poster,
            now=now,
        ),
        oncall=oncall,
    )
    return Vobot(settings, config, metrics, store, vo, slack, lookups, side, core, sources)


def build_bolt(vobot: Vobot) -> AsyncApp:
    """The Bolt app, its listeners given what each uses."""
    settings, lookups, side, core = vobot.settings, vobot.lookups, vobot.slack_side, vobot.core
    digests = DigestCommands(core.digest_admin, settings.command)
    reminders = ReminderButtons(
        command=settings.command,
        reminders=core.reminders,
        actions=core.actions,
        hooks=side.hooks,
        cards=side.cards,
        answers=side.answers,
        slack=vobot.slack,
    )
    commands = Commands(
        command=settings.command,
        now=now,
        actions=core.actions,
        directory=lookups.directory,
        identity=lookups.identity,
        history=lookups.history,
        posts=core.posts,
        contexts=side.contexts,
        hooks=side.hooks,
        cards=side.cards,
        answers=side.answers,
        digests=digests,
        feeds=FeedCommands(core.feed_admin, settings.command),
        status=core.status,
        slack=vobot.slack,
        default_targets=vobot.config.default_targets,
        reminders=reminders,
    )
    buttons = Buttons(
        command=settings.command,
        actions=core.actions,
        identity=lookups.identity,
        contexts=side.contexts,
        hooks=side.hooks,
        cards=side.cards,
        answers=side.answers,
        slack=vobot.slack,
        elsewhere=side.elsewhere,
        default_targets=vobot.config.default_targets,
    )
    views = Views(
        actions=core.actions,
        directory=lookups.directory,
        identity=lookups.identity,
        contexts=side.contexts,
        hooks=side.hooks,
        cards=side.cards,
        answers=side.answers,
        elsewhere=side.elsewhere,
    )
    bulk = Bulk(
        command=settings.command,
        incidents=lookups.incidents,
        directory=lookups.directory,
        hooks=side.hooks,
        cards=side.cards,
        answers=side.answers,
        buttons=buttons,
        views=views,
    )
    shortcuts = Shortcuts(
        cards=side.cards,
        answers=side.answers,
        hooks=side.hooks,
        slack=vobot.slack,
        elsewhere=side.elsewhere,
        default_targets=vobot.config.default_targets,
    )
    return build_bolt_app(
        vobot.slack, lookups.identity, commands, buttons, views, reminders, bulk, HomeTab(side.homes), shortcuts
    )


def build_web(vobot: Vobot, bolt: AsyncApp | None) -> Starlette:
    """Health, readiness and metrics; Slack's requests too, through the edge, unless `bolt` is None (Socket Mode)."""
    auth = SlackAuth(vobot.slack)
    checks = {"database": database_check(vobot.store.db.ping), "slack": slack_check(auth)}
    edge = None
    if bolt is not None:
        secret = vobot.settings.slack_signing_secret
        signing_secret = secret.get_secret_value() if secret else ""
        edge = Edge(bolt, signing_secret, auth.team_id, vobot.store.seen, vobot.metrics)
    token = vobot.settings.webhook_token
    watch = vobot.core.oncall
    webhook = Webhook(
        token.get_secret_value() if token else None,
        vobot.sources.ingest,
        vobot.metrics,
        watch.nudge if watch.watching else None,  # on-call events only when something follows who is on call
    )
    return build_http_app(vobot.metrics, checks, edge, webhook)


async def run_bot(settings: Settings, config: AppConfig, host: str = "0.0.0.0") -> None:  # noqa: S104
    """`vobot run`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode; health on $PORT in both."""
    vobot = await build(settings, config)
    bolt = build_bolt(vobot)
    socket = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler  # aiohttp's, only here

        assert settings.slack_app_token is not None
        socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        await socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
    web = build_web(vobot, None if socket else bolt)
    # log_config None: uvicorn's own lines go through our handler and formatter (escaped, JSON when asked)
    server = uvicorn.Server(
        uvicorn.Config(
            # no access log: a webhook's URL carries its token
            web,
            host=host,
            port=settings.port,
            log_level="warning",
            log_config=None,
            lifespan="off",
            access_log=False,
        )
    )
    log.info("serving %s on port %d", "health" if socket else "Slack requests and health", settings.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    stop = asyncio.Event()
    dispatching = asyncio.create_task(vobot.core.dispatcher.run(stop))
    await vobot.sources.ingest.catch_up()  # events a crash left between their 200 and the feed
    polling = asyncio.create_task(vobot.sources.poller.run(stop))
    retrying = asyncio.create_task(vobot.sources.ingest.retry(stop))
    reminding = asyncio.create_task(vobot.core.reminders.run(stop))
    watching = asyncio.create_task(vobot.core.oncall.run(stop))
    await vobot.core.digests.start()
    try:
        await server.serve()
    finally:
        await vobot.core.digests.stop()
        stop.set()  # the dispatcher finishes the call in flight; what is queued stays queued
        await dispatching
        await polling
        await retrying
        await reminding
        await watching
        await vobot.core.feed.drain()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if socket:
            await socket.close_async()  # type: ignore[no-untyped-call]
        await vobot.aclose()


async def send_digest(settings: Settings, config: AppConfig, name: str) -> tuple[bool, str]:
    """`vobot digest send NAME`: post one digest now, from the command line; (worked, what happened)."""
    vobot = await build(settings, config)
    try:
        digest = await vobot.store.digests.get(name)
        if digest is None:
            known = ", ".join(d.name for d in await vobot.store.digests.all()) or "none"
            return False, f"No digest named {name!r} (known: {known})."
        ts = await vobot.core.digests.send(digest)
        return True, f"Posted digest {name!r} to {digest.channel}." if ts else f"Nothing open: {name!r} skipped."
    except (VictorOpsError, SlackApiError) as exc:
        return False, explain(exc, settings.command)
    finally:
        await vobot.aclose()
