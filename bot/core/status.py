"""`/vo status`: the bot as its users meet it, in facts — whether VictorOps answers, the budget left, what is
queued, when each digest was last posted, which channels are held, and who is on call without a Slack link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from bot.core.digest import Digest
from bot.core.digests import Digests
from bot.core.incidents import IncidentView
from bot.core.ingest import Ingest
from bot.core.oncall import GroupReport
from bot.core.poller import Poller
from bot.core.refusals import Hold
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import RateSpec
from bot.victorops.models import TeamOnCall


class OnCall(Protocol):
    """Who is on call now, cached (bot.core.directory.Directory.oncall)."""

    async def get(self) -> list[TeamOnCall]: ...


class GroupReports(Protocol):
    """bot.core.oncall.OnCallWatch: the on-call user groups as of an answer."""

    async def reports(self, teams: Sequence[TeamOnCall], linked: set[str]) -> list[GroupReport]: ...


class Remaining(Protocol):
    """An endpoint family's budget window (bot.victorops.limits.Gate)."""

    async def remaining(self) -> int | None: ...


class Queue(Protocol):
    async def depth(self) -> int: ...


class Linked(Protocol):
    """bot.core.identity.Identity."""

    async def linked_usernames(self) -> set[str]: ...


@dataclass(frozen=True)
class FamilyBudget:
    family: str  # the endpoint family: incidents, reporting, lookups
    spec: RateSpec  # as configured (the window kept is a little longer, see RateSpec.padded)
    window: Remaining


@dataclass(frozen=True)
class BudgetLeft:
    family: str
    remaining: int | None  # None: unlimited
    spec: RateSpec


@dataclass(frozen=True)
class DigestPosted:
    digest: Digest
    last_posted: str | None  # the local slot time of its last posted message; None before the first


@dataclass(frozen=True)
class FeedState:
    """Where the live feed learns of changes, and how late that news is."""

    webhooks: bool  # VOBOT_WEBHOOK_TOKEN is set
    last_webhook: datetime | None  # the last delivery accepted, on any replica
    poll_interval: float  # seconds; 0: no polling
    last_poll: datetime | None  # the last poll on this replica that read VictorOps' answer
    poll_failures: int
    lag: float | None  # seconds since the newest news (a poll's answer or a webhook); None: none yet


class FeedSources:
    def __init__(self, ingest: Ingest, poller: Poller, view: IncidentView, *, webhooks: bool) -> None:
        self._ingest, self._poller, self._view, self._webhooks = ingest, poller, view, webhooks

    async def state(self) -> FeedState:
        hook, facts, asked = await self._ingest.last_received(), self._poller.facts(), self._view.asked_at()
        news = [t for t in (hook.timestamp() if hook else None, asked or None) if t is not None]
        return FeedState(
            webhooks=self._webhooks,
            last_webhook=hook,
            poll_interval=self._poller.interval,
            last_poll=datetime.fromtimestamp(facts.last_poll, UTC) if facts.last_poll else None,
            poll_failures=facts.failures,
            lag=max(0.0, self._view.now() - max(news)) if news else None,
        )


@dataclass(frozen=True)
class StatusReport:
    victorops_error: VictorOpsError | None  # None: VictorOps answered
    budgets: list[BudgetLeft]
    queued: int  # actions waiting for VictorOps
    digests: list[DigestPosted]
    holds: list[Hold]  # channels (or the token) the chat refuses, not tried again for a while
    oncall: list[str]  # VictorOps usernames on call now, sorted; empty when VictorOps did not answer
    unlinked: list[str]  # those of them no Slack user acts as
    feed: FeedState | None = None
    groups: list[GroupReport] = field(default_factory=list)  # the on-call user groups (oncall_groups)


class Status:
    def __init__(
        self,
        oncall: OnCall,
        budgets: Sequence[FamilyBudget],
        queue: Queue,
        digests: Digests,
        identity: Linked,
        feed: FeedSources | None = None,
        groups: GroupReports | None = None,
    ) -> None:
        self._feed = feed
        self._groups = groups
        self._oncall = oncall
        self._budgets = tuple(budgets)
        self._queue = queue
        self._digests = digests
        self._identity = identity

    async def report(self) -> StatusReport:
        error = None
        teams: list[TeamOnCall] = []
        try:
            teams = await self._oncall.get()
        except VictorOpsError as exc:
            error = exc
        oncall = sorted({name for team in teams for name in team.usernames})
        budgets = [BudgetLeft(b.family, await b.window.remaining(), b.spec) for b in self._budgets]
        digests = [DigestPosted(d, await self._digests.last_posted(d.name)) for d in await self._digests.store.all()]
        linked = await self._identity.linked_usernames()
        return StatusReport(
            victorops_error=error,
            budgets=budgets,
            queued=await self._queue.depth(),
            digests=digests,
            holds=self._digests.refusals.current(),
            oncall=oncall,
            unlinked=[name for name in oncall if name.lower() not in linked],
            feed=await self._feed.state() if self._feed else None,
            groups=await self._groups.reports(teams, linked) if self._groups and error is None else [],
        )
