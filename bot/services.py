"""Everything a listener needs, built once by `bot.wiring` and handed to the Slack layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AppConfig, Settings
from bot.core.actions import Actor, IncidentActions
from bot.core.digest_admin import DigestAdmin
from bot.core.digests import Digests
from bot.core.directory import Directory
from bot.core.dispatch import Dispatcher
from bot.core.history import History
from bot.core.identity import Identity
from bot.core.incidents import IncidentView
from bot.core.posting import PostLimits
from bot.core.seen import SeenRequests
from bot.core.status import Status
from bot.metrics import Metrics
from bot.slack.contexts import Contexts
from bot.slack.responses import ResponseUrls
from bot.store.db import Database
from bot.store.digests import DigestStore
from bot.store.queue import ActionQueue
from bot.victorops.client import VictorOpsClient


@dataclass
class Services:
    settings: Settings
    config: AppConfig
    vo: VictorOpsClient
    slack: AsyncWebClient
    db: Database
    incidents: IncidentView
    actions: IncidentActions
    directory: Directory
    history: History
    identity: Identity
    queue: ActionQueue
    dispatcher: Dispatcher
    digest_store: DigestStore
    digests: Digests
    digest_admin: DigestAdmin
    status: Status
    metrics: Metrics
    posts: PostLimits
    seen: SeenRequests  # Slack requests already taken, so a replay changes nothing
    now: Callable[[], datetime]
    contexts: Contexts  # what a modal or link prompt needs later, kept server-side
    hooks: ResponseUrls  # the one way to post to a response_url

    async def actor(self, slack_user_id: str, slack_name: str) -> Actor | None:
        """The Slack user as a VictorOps user, or None when they are not linked."""
        username = await self.identity.vo_username(slack_user_id)
        return Actor(slack_user_id, slack_name, username) if username else None

    async def aclose(self) -> None:
        await self.vo.aclose()
        await self.db.dispose()
