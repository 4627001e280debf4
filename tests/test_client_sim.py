"""The VictorOps client against the simulator over loopback HTTP: every endpoint, and the budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.sim.server import ServerThread
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops import errors
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED, Budgets, RateSpec
from bot.victorops.models import (
    CreateIncidentRequest,
    HistoryQuery,
    Phase,
    Reroute,
    RerouteRequest,
    Target,
)
from tests.fakes import FakeClock

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()
OFF = RateSpec.parse("off")


@dataclass
class Setup:
    state: SimState
    vo: VictorOpsClient
    clock: FakeClock


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, SimState, FakeClock]]:
    clock = FakeClock(START)
    state = SimState(SimConfig(clock=clock, incidents=OFF, reporting=OFF, lookups=OFF))
    with ServerThread(build_app(state=state)) as running:
        yield running, state, clock


@pytest.fixture
async def setup(server: tuple[ServerThread, SimState, FakeClock]) -> AsyncIterator[Setup]:
    running, state, clock = server
    clock.now = START
    state.reset()
    vo = VictorOpsClient(base_url=running.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED)
    yield Setup(state, vo, clock)
    await vo.aclose()


def unacked(state: SimState) -> dict[str, object]:
    return next(i for i in state.incidents() if i["currentPhase"] == "UNACKED")


async def test_list_incidents(setup: Setup) -> None:
    incidents = await setup.vo.list_incidents()
    assert [i.incident_number for i in incidents] == [str(i["incidentNumber"]) for i in setup.state.incidents()]
    assert {i.current_phase for i in incidents} == {Phase.UNACKED, Phase.ACKED, Phase.RESOLVED}
    assert all(i.start_time.tzinfo is not None for i in incidents)
    acked = next(i for i in incidents if i.current_phase is Phase.ACKED)
    transition = acked.last_transition(Phase.ACKED)
    assert transition is not None and transition.by


async def test_get_incident(setup: Setup) -> None:
    number = str(unacked(setup.state)["incidentNumber"])
    incident = await setup.vo.get_incident(number)
    assert incident.incident_number == number and incident.current_phase is Phase.UNACKED
    with pytest.raises(errors.NotFound):
        await setup.vo.get_incident("99999")


async def test_create_incident(setup: Setup) -> None:
    policy = setup.state.directory.policies[0].slug
    created = await setup.vo.create_incident(
        CreateIncidentRequest(
            summary="Disk full on db09",
            details="df says 99%",
            user_name="alice",
            targets=[Target(type="EscalationPolicy", slug=policy), Target(type="User", slug="dave")],
        )
    )
    assert created.incident_number and created.entity_id
    incident = await setup.vo.get_incident(created.incident_number)
    assert incident.title == "Disk full on db09" and incident.current_phase is Phase.UNACKED
    assert incident.monitor_name == "vouser-alice"
    assert policy in {p.policy.slug for p in incident.paged_policies}


async def test_create_with_an_unknown_target_is_a_bad_request(setup: Setup) -> None:
    request = CreateIncidentRequest(
        summary="x", details="x", user_name="alice", targets=[Target(type="EscalationPolicy", slug="pol-nope")]
    )
    with pytest.raises(errors.BadRequest, match="pol-nope"):
        await setup.vo.create_incident(request)


async def test_ack_then_resolve(setup: Setup) -> None:
    number = str(unacked(setup.state)["incidentNumber"])
    results = await setup.vo.ack("alice", [number], "looking")
    assert [(r.incident_number, r.cmd_accepted) for r in results] == [(number, True)]
    assert setup.state.incident(number)["currentPhase"] == "ACKED"  # type: ignore[index]
    again = await setup.vo.ack("alice", [number])
    assert not again[0].cmd_accepted and "already" in again[0].message
    resolved = await setup.vo.resolve("alice", [number], "fixed")
    assert resolved[0].cmd_accepted
    incident = await setup.vo.get_incident(number)
    assert incident.current_phase is Phase.RESOLVED and incident.entity_state == "OK"
    assert [(t.name, t.by, t.message) for t in incident.transitions][-2:] == [
        ("ACKED", "alice", "looking"),
        ("RESOLVED", "alice", "fixed"),
    ]


async def test_ack_as_an_unknown_user_is_not_found(setup: Setup) -> None:
    with pytest.raises(errors.NotFound):
        await setup.vo.ack("nobody-here", ["1"])


async def test_by_user_ack_and_resolve(setup: Setup) -> None:
    incident = unacked(setup.state)
    user = incident["pagedUsers"][0]  # type: ignore[index]
    acked = await setup.vo.ack_by_user(user, "on it")
    assert acked and all(r.cmd_accepted for r in acked)
    assert str(incident["incidentNumber"]) in {r.incident_number for r in acked}
    resolved = await setup.vo.resolve_by_user(user)
    assert {r.incident_number for r in acked} <= {r.incident_number for r in resolved}


async def test_reroute(setup: Setup) -> None:
    number = str(unacked(setup.state)["incidentNumber"])
    policy = setup.state.directory.policies[-1].slug
    statuses = await setup.vo.reroute(
        RerouteRequest(
            user_name="alice",
            reroutes=[Reroute(incident_number=number, targets=[Target(type="EscalationPolicy", slug=policy)])],
        )
    )
    assert statuses[0].success and statuses[0].target_status[0].slug == policy
    incident = await setup.vo.get_incident(number)
    assert [p.policy.slug for p in incident.paged_policies] == [policy]


async def test_history_v2(setup: Setup) -> None:
    page = await setup.vo.incident_history(HistoryQuery(limit=100))
    assert page.total > 0 and {i.current_phase for i in page.incidents} == {Phase.RESOLVED}
    every = await setup.vo.incident_history(HistoryQuery(limit=100, phases=list(Phase)))
    assert every.total > page.total
    numbers = await setup.vo.incident_history(HistoryQuery(incident_number="1,3:5", phases=list(Phase)))
    assert sorted(int(i.incident_number) for i in numbers.incidents) == [1, 3, 4, 5]
    since = datetime.fromtimestamp(START, UTC) - timedelta(days=2)
    recent = await setup.vo.incident_history(HistoryQuery(started_after=since, phases=list(Phase), limit=100))
    assert recent.incidents and all(i.start_time > since for i in recent.incidents)
    routed = await setup.vo.incident_history(HistoryQuery(routing_key="database", phases=list(Phase), limit=100))
    assert routed.incidents and {i.routing_key for i in routed.incidents} == {"database"}


async def test_history_v1(setup: Setup) -> None:
    page = await setup.vo.incident_history_v1(HistoryQuery(limit=5))
    assert page.total > 0 and len(page.incidents) == 5
    assert all(i.current_phase is Phase.RESOLVED and i.entity_disp_name for i in page.incidents)


async def test_user_lookups(setup: Setup) -> None:
    users = await setup.vo.list_users()
    assert len(users) == len(setup.state.directory.users) and all(u.email for u in users)
    alice = await setup.vo.get_user("alice")
    assert alice.first_name == "Alice"
    by_email = await setup.vo.find_users_by_email(alice.email.upper())  # type: ignore[union-attr]
    assert [u.username for u in by_email] == ["alice"]
    assert await setup.vo.find_users_by_email("nobody@example.com") == []
    with pytest.raises(errors.NotFound):
        await setup.vo.get_user("nobody")


async def test_policies_teams_oncall(setup: Setup) -> None:
    policies = await setup.vo.list_policies()
    assert {p.policy.slug for p in policies} == {p.slug for p in setup.state.directory.policies}
    teams = await setup.vo.list_teams()
    assert {t.name for t in teams} == {"Ops", "Database", "Payments", "Frontend"}
    oncall = {t.team.name: t.usernames for t in await setup.vo.oncall_now()}
    assert oncall["Ops"] == ["alice", "cchen"] and oncall["Frontend"] == ["ivan.petrov", "judy"]


async def test_wrong_key_is_an_auth_error(server: tuple[ServerThread, SimState, FakeClock]) -> None:
    async with VictorOpsClient(
        base_url=server[0].url, api_id="demo", api_key=SecretStr("wrong"), budgets=UNLIMITED
    ) as vo:
        with pytest.raises(errors.AuthError) as caught:
            await vo.list_incidents()
    assert "wrong" not in str(caught.value)


async def test_budget_is_never_exceeded_against_a_limited_simulator() -> None:
    """Client and simulator share one simulated clock: 20 calls over ~3 minutes, no 429, no sleeping."""
    clock = FakeClock(START)
    state = SimState(SimConfig(clock=clock))  # 6/minute on incident endpoints
    budgets = Budgets(RateSpec(6, 60), RateSpec(1, 60), RateSpec(15, 60))
    with ServerThread(build_app(state=state)) as running:
        async with VictorOpsClient(
            base_url=running.url,
            api_id="demo",
            api_key=SecretStr("demo"),
            budgets=budgets,
            clock=clock,
            sleep=clock.sleep,
        ) as vo:
            for _ in range(20):
                await vo.list_incidents()
    calls = [c for c in state.calls() if c.family == "incidents"]
    assert len(calls) == 20 and not any(c.rate_limited for c in calls)
    times = [c.at for c in calls]
    assert all(times[i + 6] - times[i] >= 60 for i in range(len(times) - 6))
    assert clock.now - START >= 180


@pytest.mark.parametrize("body", ["Forbidden", None])
async def test_a_rate_limit_403_with_another_body_is_waited_out(body: str | None) -> None:
    """VictorOps documents 403 as "authentication failed or rate-limit reached"; its body cannot be relied on."""
    clock = FakeClock(START)
    legacy = SimConfig(clock=clock, incidents=RateSpec(2, 60), rate_limit_status=403, rate_limit_body=body)
    state = SimState(legacy)
    number = str(unacked(state)["incidentNumber"])
    with ServerThread(build_app(state=state)) as running:
        async with VictorOpsClient(
            base_url=running.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED, sleep=clock.sleep
        ) as vo:
            await vo.list_incidents()
            await vo.list_incidents()  # the key works, and the minute's budget is spent (another tool, say)
            results = await vo.ack("alice", [number])
    assert results[0].cmd_accepted and state.incident(number)["currentPhase"] == "ACKED"  # type: ignore[index]
    acks = [c for c in state.calls() if c.path.endswith("/ack")]
    assert [c.status for c in acks] == [403, 200] and clock.now - START == pytest.approx(60)
