"""What a person's App Home shows (bot.core.home), through the core's ports in memory: who they are, the
incidents paging them and those they acknowledged, their teams' on-call and counts; and the lookups it costs."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.directory import Directory
from bot.core.home import Acted, HomeFinder
from bot.core.identity import Identity
from bot.core.incidents import IncidentView
from bot.victorops.models import Incident, Phase, Team, TeamOnCall, Transition
from tests.fakes import FakeClock
from tests.memory import NOW, MemoryAuditor, MemoryLinks, MemoryProfiles, MemoryVictorOps

BOB = "U0BOB"
OPS, WEB = Team(name="Ops", slug="team-ops"), Team(name="Web", slug="team-web")


def incident(
    number: str, phase: Phase, *, paged: tuple[str, ...] = (), by: str | None = None, team: str = "team-ops"
) -> Incident:
    transitions = [Transition(name=phase.value, at=NOW, by=by)] if by else []
    return Incident(
        incident_number=number,
        current_phase=phase,
        paged_users=list(paged),
        paged_teams=[team],
        transitions=transitions,
    )


def setup(*incidents: Incident) -> tuple[HomeFinder, MemoryVictorOps, FakeClock]:
    vo = MemoryVictorOps(*incidents)
    vo.teams = [OPS, WEB]
    vo.members = {"team-ops": ["Bob", "alice"], "team-web": ["alice"]}
    vo.oncall = [
        TeamOnCall.model_validate(
            {
                "team": {"name": "Ops", "slug": "team-ops"},
                "oncallNow": [
                    {"policy": {"name": "Ops", "slug": "pol-ops"}, "users": [{"onCalluser": {"username": "alice"}}]}
                ],
            }
        )
    ]
    clock = FakeClock()
    directory = Directory(vo, clock=clock)
    return HomeFinder(IncidentView(vo, max_age=30, clock=clock), directory, people(directory)), vo, clock


def people(directory: Directory) -> Identity:
    """Bob is `bob`, from the configuration file; nobody else is linked."""
    return Identity(
        static_users={BOB: "bob"}, admins=[], links=MemoryLinks(), directory=directory,
        profiles=MemoryProfiles(), auditor=MemoryAuditor(),
    )  # fmt: skip


async def test_paging_acknowledged_teams_and_counts() -> None:
    finder, _, _ = setup(
        incident("1", Phase.UNACKED, paged=("bob",)),
        incident("2", Phase.ACKED, by="bob"),
        incident("3", Phase.ACKED, by="alice"),
        incident("4", Phase.UNACKED, paged=("alice",), team="team-web"),
        incident("5", Phase.RESOLVED, by="bob"),
    )
    facts = await finder.facts(BOB)
    assert facts.vo_username == "bob"
    assert [i.incident_number for i in facts.paging] == ["1"]
    assert [i.incident_number for i in facts.acked] == ["2"]
    assert [(t.team.slug, t.oncall, t.triggered, t.acked) for t in facts.teams] == [("team-ops", ("alice",), 1, 2)]


async def test_paged_but_acknowledged_by_someone_else_is_in_neither_list() -> None:
    finder, _, _ = setup(incident("7", Phase.ACKED, paged=("bob",), by="alice"), incident("8", Phase.ACKED, by="BOB"))
    facts = await finder.facts(BOB)
    assert facts.paging == ()  # no longer paging anyone: alice acknowledged it
    assert [i.incident_number for i in facts.acked] == ["8"]


async def test_an_unlinked_person_has_only_who_they_are_and_costs_nothing() -> None:
    finder, vo, _ = setup(incident("1", Phase.UNACKED, paged=("bob",)))
    facts = await finder.facts("U0NOBODY")
    assert facts.vo_username is None and facts.paging == () and facts.teams == ()
    assert vo.calls == []


async def test_opening_again_while_fresh_costs_no_call_and_members_are_fetched_once_per_window() -> None:
    finder, vo, clock = setup(incident("1", Phase.UNACKED, paged=("bob",)))
    await finder.facts(BOB)
    first = list(vo.calls)
    assert sorted(first) == sorted(
        [("list",), ("teams",), ("members", "team-ops"), ("members", "team-web"), ("oncall",)]
    )
    for _ in range(5):
        await finder.facts(BOB)
    assert vo.calls == first
    clock.now += 31  # the incident view is stale: one list, the directory still fresh
    await finder.facts(BOB)
    assert vo.calls[len(first) :] == [("list",)]


async def test_acted_passes_every_record_on_then_tells_who_acted() -> None:
    audit, heard = MemoryAuditor(), []

    async def listen(user: str) -> None:
        heard.append((user, len(audit.records)))

    acted = Acted(audit)
    acted.listen(listen)
    await acted.record(slack_user_id=BOB, vo_username="bob", action="ack", incidents=["1"], result="ok")
    assert [r.action for r in audit.records] == ["ack"] and heard == [(BOB, 1)]  # recorded first, then told


@pytest.mark.parametrize("members", [["BOB"], ["bob"]])
async def test_team_membership_ignores_case(members: list[str]) -> None:
    vo = MemoryVictorOps()
    vo.teams, vo.members = [OPS, WEB], {"team-web": members}
    assert [t.slug for t in await Directory(vo).teams_of("Bob")] == ["team-web"]


class SlowMembers(MemoryVictorOps):
    """Team membership that answers only when released (the lookup budget spent elsewhere)."""

    def __init__(self) -> None:
        super().__init__(incident("1", Phase.UNACKED, paged=("bob",)))
        self.release = asyncio.Event()

    async def team_members(self, team_slug: str) -> list[str]:
        await self.release.wait()
        return await super().team_members(team_slug)


async def test_a_slow_team_lookup_does_not_hold_the_home_back_and_keeps_going() -> None:
    vo = SlowMembers()
    vo.teams, vo.members = [OPS], {"team-ops": ["bob"]}
    directory = Directory(vo)
    finder = HomeFinder(IncidentView(vo), directory, people(directory), teams_wait=0.01)
    facts = await finder.facts(BOB)
    assert facts.teams is None and [i.incident_number for i in facts.paging] == ["1"]
    vo.release.set()
    await directory.members.get()  # the fetch went on after the home gave up waiting
    assert [t.team.slug for t in (await finder.facts(BOB)).teams or ()] == ["team-ops"]
    assert vo.calls.count(("members", "team-ops")) == 1
