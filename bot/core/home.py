"""What a person's App Home shows, gathered from the shared incident view and the cached directory: who they
are in VictorOps, the incidents paging them and those they acknowledged, and their teams' on-call and counts.

Nothing here asks VictorOps itself: the view and the directory decide (and share) when a read is due, so
opening the Home tab while they are fresh costs no call. `Acted` lets the Slack side hear of every action a
person took (through the audit trail every action already writes), to redraw their home after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.audit import Auditor
from bot.core.directory import Directory
from bot.core.identity import Identity
from bot.core.incidents import IncidentFilter, IncidentView
from bot.victorops.models import Incident, Phase, Team


@dataclass(frozen=True)
class TeamFacts:
    team: Team
    oncall: tuple[str, ...]  # VictorOps usernames on call now
    triggered: int
    acked: int


@dataclass(frozen=True)
class HomeFacts:
    slack_user_id: str
    vo_username: str | None  # None: not linked
    paging: tuple[Incident, ...] = ()  # triggered, paging them
    acked: tuple[Incident, ...] = ()  # acknowledged by them, still open
    teams: tuple[TeamFacts, ...] | None = ()  # None: VictorOps has not told their teams yet (see TEAMS_WAIT)


# Team membership is one lookup per team (10 minutes' worth, shared by everyone): with many teams the first
# fetch waits on the lookup budget, and a home is not held back for it. The fetch goes on; the next draw has it.
TEAMS_WAIT = 2.0


class HomeFinder:
    def __init__(
        self, view: IncidentView, directory: Directory, identity: Identity, teams_wait: float = TEAMS_WAIT
    ) -> None:
        self._view = view
        self._directory = directory
        self._identity = identity
        self._teams_wait = teams_wait

    async def facts(self, slack_user_id: str) -> HomeFacts:
        username = await self._identity.vo_username(slack_user_id)
        if username is None:
            return HomeFacts(slack_user_id, None)
        incidents = await self._view.open()
        paging = tuple(i for i in incidents if i.current_phase is Phase.UNACKED and pages(i, username))
        acked = tuple(i for i in incidents if i.current_phase is Phase.ACKED and acked_by(i, username))
        try:  # the cache's fetch is shielded: giving up waiting leaves it running
            teams = await asyncio.wait_for(self._directory.teams_of(username), self._teams_wait)
        except TimeoutError:
            return HomeFacts(slack_user_id, username, paging, acked, None)
        oncall = await self._directory.oncall_by_team() if teams else {}
        found = tuple(team_facts(t, oncall.get(t.slug, []), incidents) for t in teams)
        return HomeFacts(slack_user_id, username, paging, acked, found)


def pages(incident: Incident, username: str) -> bool:
    return username.lower() in (u.lower() for u in incident.paged_users)


def acked_by(incident: Incident, username: str) -> bool:
    """Whether `username` (case aside) made the acknowledgement: paged and acknowledged by someone else is not."""
    ack = incident.last_transition(Phase.ACKED)
    return ack is not None and (ack.by or "").lower() == username.lower()


def team_facts(team: Team, oncall: Sequence[str], incidents: Sequence[Incident]) -> TeamFacts:
    theirs = IncidentFilter(teams=frozenset({team.slug})).select(incidents)
    return TeamFacts(
        team,
        tuple(oncall),
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
