"""What a person's App Home shows (bot.core.home), through the core's ports in memory: who they are, the
incidents paging them and those they acknowledged, their teams' on-call and counts; and the lookups it costs."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.directory import MEMBERS_RETRY, RESERVE, Directory
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


async def test_an_unlinked_person_has_only_who_they_are_and_their_open_reads_what_a_linked_home_does() -> None:
    finder, vo, _ = setup(incident("1", Phase.UNACKED, paged=("bob",)))
    facts = await finder.facts("U0NOBODY")
    assert facts.vo_username is None and facts.paging == () and facts.teams == ()
    calls = sorted(vo.calls)  # so that their home right after they link (a cached draw) is complete
    assert calls == sorted([("list",), ("teams",), ("members", "team-ops"), ("members", "team-web"), ("oncall",)])
    await finder.facts(BOB)
    assert sorted(vo.calls) == calls


async def test_opening_again_while_fresh_costs_no_call_and_members_are_fetched_once_an_hour() -> None:
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
    clock.now += 700  # the team list and on-call are due again; the members are kept an hour
    await finder.facts(BOB)
    assert ("members", "team-ops") not in vo.calls[len(first) + 1 :]
    clock.now += 3000
    await finder.facts(BOB)
    assert vo.calls.count(("members", "team-ops")) == 2


async def test_a_team_with_no_members_is_not_looked_up() -> None:
    finder, vo, _ = setup()
    vo.teams = [OPS, Team(name="Empty", slug="team-empty", member_count=0)]
    await finder.facts(BOB)
    assert ("members", "team-empty") not in vo.calls and ("members", "team-ops") in vo.calls


class Budgeted(MemoryVictorOps):
    """A lookup budget of `room` calls (spent by each lookup): what the directory sees through the gate."""

    def __init__(self, room: int) -> None:
        super().__init__(incident("1", Phase.UNACKED, paged=("bob",)))
        self.room = room

    async def remaining(self) -> int:
        return self.room

    async def team_members(self, team_slug: str) -> list[str]:
        self.room -= 1
        return await super().team_members(team_slug)


async def test_members_are_fetched_only_while_the_budget_has_room_to_spare_and_the_home_says_more_are_loading() -> None:
    vo = Budgeted(room=RESERVE + 2)
    vo.teams = [Team(name=f"T{n}", slug=f"t{n}") for n in range(40)]
    vo.members = {f"t{n}": ["bob"] for n in range(40)}
    directory = Directory(vo, lookup_room=vo.remaining)
    finder = HomeFinder(IncidentView(vo), directory, people(directory))
    facts = await finder.facts(BOB)
    assert [t.team.slug for t in facts.teams] == ["t0", "t1"] and facts.teams_pending
    assert vo.room == RESERVE  # the reserve is left for what people wait on
    vo.room = 60  # the window moved on
    await finder.facts(BOB)
    facts = await finder.facts(BOB)
    assert len(facts.teams) == 40 and not facts.teams_pending
    assert len([c for c in vo.calls if c[0] == "members"]) == 40  # each team once


class Failing(MemoryVictorOps):
    """Team lookups that fail for the teams in `broken` (a 404, a 403, a timeout), and on-call when `down`."""

    def __init__(self) -> None:
        super().__init__(incident("1", Phase.UNACKED, paged=("bob",)))
        self.broken = {"team-web"}
        self.down = False

    async def team_members(self, team_slug: str) -> list[str]:
        found = await super().team_members(team_slug)
        if team_slug in self.broken:
            raise TimeoutError
        return found

    async def oncall_now(self) -> list[TeamOnCall]:
        if self.down:
            raise RuntimeError("503")
        return await super().oncall_now()


async def test_one_failing_team_lookup_keeps_the_others_and_is_retried_a_few_minutes_later() -> None:
    vo, clock = Failing(), FakeClock()
    vo.teams, vo.members = [OPS, WEB], {"team-ops": ["bob"], "team-web": ["bob"]}
    directory = Directory(vo, clock=clock)
    finder = HomeFinder(IncidentView(vo, clock=clock), directory, people(directory))
    facts = await finder.facts(BOB)
    assert [t.team.slug for t in facts.teams] == ["team-ops"] and facts.teams_pending
    await finder.facts(BOB)
    assert vo.calls.count(("members", "team-web")) == 1  # backed off
    vo.broken = set()
    clock.now += MEMBERS_RETRY + 1
    await finder.facts(BOB)
    facts = await finder.facts(BOB)
    assert [t.team.slug for t in facts.teams] == ["team-ops", "team-web"] and not facts.teams_pending


async def test_an_on_call_failure_draws_the_home_without_who_is_on_call() -> None:
    vo = Failing()
    vo.teams, vo.members, vo.broken, vo.down = [OPS], {"team-ops": ["bob"]}, set(), True
    directory = Directory(vo)
    finder = HomeFinder(IncidentView(vo), directory, people(directory))
    facts = await finder.facts(BOB)
    assert [(t.team.slug, t.oncall, t.triggered) for t in facts.teams] == [("team-ops", None, 1)]


async def test_a_cached_draw_spends_no_victorops_call() -> None:
    finder, vo, clock = setup(incident("1", Phase.UNACKED, paged=("bob",)))
    cold = await finder.facts(BOB, cached=True)
    assert vo.calls == [] and cold.paging == () and cold.teams_pending
    await finder.facts(BOB)
    before = list(vo.calls)
    clock.now += 5000  # everything stale: a cached draw still asks nobody
    warm = await finder.facts(BOB, cached=True)
    assert vo.calls == before
    assert [i.incident_number for i in warm.paging] == ["1"] and warm.teams[0].oncall == ("alice",)


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
    directory = Directory(vo)
    await directory.members.load()
    assert directory.teams_of("Bob") == ([WEB], False)


class SlowMembers(MemoryVictorOps):
    """Team membership that answers only when released (VictorOps slow to answer)."""

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
    assert facts.teams == () and facts.teams_pending and [i.incident_number for i in facts.paging] == ["1"]
    vo.release.set()
    await directory.members.load()  # the fetch went on after the home gave up waiting
    assert [t.team.slug for t in (await finder.facts(BOB)).teams] == ["team-ops"]
    assert vo.calls.count(("members", "team-ops")) == 1
