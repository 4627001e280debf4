"""What a person's App Home shows, gathered from the shared incident view and the cached directory: who they
are in VictorOps, the incidents paging them and those they acknowledged, and their teams' on-call and counts.

Nothing here asks VictorOps itself: the view and the directory decide (and share) when a read is due, so
opening the Home tab while they are fresh costs no call, and a redraw after an action (`cached`) uses only what
is known already. Team membership is loaded in the background while the lookup budget has room to spare
(bot.core.directory.TeamMembers); a home shows the teams known so far and says when more are still loading.
`Acted` lets the Slack side hear of every action a person took (through the audit trail every action already
writes), to redraw their home after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core.audit import Auditor
from bot.core.directory import Directory
from bot.core.identity import Identity
from bot.core.incidents import IncidentFilter, IncidentView
from bot.victorops.models import Incident, Phase, Team

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class TeamFacts:
    team: Team
    oncall: tuple[str, ...] | None  # VictorOps usernames on call now; None: not known right now
    triggered: int
    acked: int


@dataclass(frozen=True)
class HomeFacts:
    slack_user_id: str
    vo_username: str | None  # None: not linked
    paging: tuple[Incident, ...] = ()  # triggered, paging them
    acked: tuple[Incident, ...] = ()  # acknowledged by them, still open
    teams: tuple[TeamFacts, ...] = ()  # their teams as far as known (see `teams_pending`)
    teams_pending: bool = False  # some teams' members are not known yet: more teams may be theirs


# How long a home opened waits for the team lookups and the on-call read before it is drawn with what is known
# (the lookups go on in the background; the next draw has them).
TEAMS_WAIT = 2.0


class HomeFinder:
    def __init__(
        self, view: IncidentView, directory: Directory, identity: Identity, teams_wait: float = TEAMS_WAIT
    ) -> None:
        self._view = view
        self._directory = directory
        self._identity = identity
        self._teams_wait = teams_wait

    async def facts(self, slack_user_id: str, *, cached: bool = False) -> HomeFacts:
        """What the home shows; `cached`: only what is already known here (a redraw nobody asked for spends no
        VictorOps call), else the reads that are due are made, the slow ones waited for only `teams_wait`: for
        an unlinked person too, so that the redraw after they link (cached) shows all of it."""
        username = await self._identity.vo_username(slack_user_id)
        if cached:
            incidents = [i for i in await self._view.latest() if i.current_phase is not Phase.RESOLVED]
            oncall = self._known_oncall()
        else:
            incidents = await self._view.open()
            await self._wait(self._directory.members.load(), "the team members")
            oncall = await self._wait(self._directory.oncall_by_team(), "who is on call")
        if username is None:
            return HomeFacts(slack_user_id, None)
        paging = tuple(i for i in incidents if i.current_phase is Phase.UNACKED and pages(i, username))
        acked = tuple(i for i in incidents if i.current_phase is Phase.ACKED and acked_by(i, username))
        teams, pending = self._directory.teams_of(username)
        found = tuple(team_facts(t, oncall, incidents) for t in teams)
        return HomeFacts(slack_user_id, username, paging, acked, found, pending)

    def _known_oncall(self) -> dict[str, list[str]] | None:
        """Team slug -> usernames on call as last read, or None before the first read."""
        known = self._directory.oncall.peek()
        return None if known is None else {t.team.slug: t.usernames for t in known}

    async def _wait(self, read: Awaitable[T], what: str) -> T | None:
        """The read's answer, or None when it takes longer than `teams_wait` or fails: a home is drawn anyway.
        A read shared through a cache goes on for the next draw (the caches shield their fetches)."""
        try:
            return await asyncio.wait_for(asyncio.shield(read), self._teams_wait)
        except TimeoutError:
            return None
        except Exception as exc:
            log.warning("the App Home is drawn without %s: %s", what, type(exc).__name__)
            return None


def pages(incident: Incident, username: str) -> bool:
    return username.lower() in (u.lower() for u in incident.paged_users)


def acked_by(incident: Incident, username: str) -> bool:
    """Whether `username` (case aside) made the acknowledgement: paged and acknowledged by someone else is not."""
    ack = incident.last_transition(Phase.ACKED)
    return ack is not None and (ack.by or "").lower() == username.lower()


def team_facts(team: Team, oncall: dict[str, list[str]] | None, incidents: Sequence[Incident]) -> TeamFacts:
    theirs = IncidentFilter(teams=frozenset({team.slug})).select(incidents)
    return TeamFacts(
        team,
        None if oncall is None else tuple(oncall.get(team.slug, [])),
        triggered=sum(1 for i in theirs if i.current_phase is Phase.UNACKED),
        acked=sum(1 for i in theirs if i.current_phase is Phase.ACKED),
    )


class Acted:
    """An Auditor that passes every record on, then tells `listen`'s callback who acted (never failing the
    action: a callback's error is its own to handle)."""

    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor
        self._listeners: list[Callable[[str], Awaitable[None]]] = []

    def listen(self, callback: Callable[[str], Awaitable[None]]) -> None:
        self._listeners.append(callback)

    async def record(self, *, slack_user_id: str, **record: Any) -> None:
        await self._auditor.record(slack_user_id=slack_user_id, **record)
        for callback in self._listeners:
            await callback(slack_user_id)
