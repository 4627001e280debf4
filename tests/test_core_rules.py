"""The core's rules for VictorOps as it really is, through its ports: one spelling per routing key, asking
VictorOps about a number the view does not know (single flight, shared with other replicas), and reading back a
write whose answer was lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.core.actions import Actor
from bot.core.dispatch import gave_up
from bot.core.history import History
from bot.core.incidents import IncidentFilter, IncidentView
from bot.core.readback import rerouted, settled
from bot.core.routes import reporting_route, route_key, unknown_routes
from bot.slack.blocks import NO_NAMES
from bot.slack.errors import explain
from bot.slack.sentences import said
from bot.victorops import errors
from bot.victorops.models import (
    HistoryPage,
    HistoryQuery,
    Incident,
    Named,
    PagedPolicy,
    Phase,
    Target,
    Transition,
)
from tests.fakes import FakeClock, queued
from tests.memory import MemorySnapshots

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE", "alice", "alice")


def incident(number: str, phase: Phase = Phase.UNACKED, by: str | None = None, **extra: object) -> Incident:
    transitions = [] if phase is Phase.UNACKED else [Transition(name=phase.value, at=NOW, by=by)]
    return Incident(incident_number=number, current_phase=phase, start_time=NOW, transitions=transitions, **extra)  # type: ignore[arg-type]


# -- routing keys


@pytest.mark.parametrize(
    ("typed", "key", "reporting"),
    [
        ("default", "default", "default"),
        ("routingdefault", "default", "default"),
        ("RoutingDefault", "default", "default"),
        ("database", "database", "database"),
        ("DB-Prod", "db-prod", "DB-Prod"),  # other keys are compared without case but sent as typed
    ],
)
def test_one_spelling_per_routing_key(typed: str, key: str, reporting: str) -> None:
    assert route_key(typed) == key and reporting_route(typed) == reporting


def test_listings_and_digests_accept_either_spelling() -> None:
    on_default = incident("1", routing_key="routingdefault")
    on_db = incident("2", routing_key="database")
    for spelling in ("default", "routingdefault"):
        assert IncidentFilter(routes=frozenset({spelling})).select([on_default, on_db]) == [on_default]
    assert unknown_routes(["default", "nope", "Database"], ["routingdefault", "database"]) == ["nope"]


async def test_history_asks_reporting_for_its_own_spelling() -> None:
    asked: list[HistoryQuery] = []

    class Reporting:
        async def incident_history(self, query: HistoryQuery) -> HistoryPage:
            asked.append(query)
            return HistoryPage()

    async def no_wait() -> float:
        return 0.0

    history = History(Reporting(), no_wait)
    await history.search(HistoryQuery(routing_key="routingdefault"))
    await history.search(HistoryQuery(routing_key="default"))  # the same query: answered from cache
    assert [q.params()["routingKey"] for q in asked] == ["default"]


# -- a number the view does not know


class Source:
    """VictorOps' incident list, counting the calls; `incidents` changes as things happen there."""

    def __init__(self, *incidents: Incident) -> None:
        self.incidents = list(incidents)
        self.calls = 0

    async def list_incidents(self) -> list[Incident]:
        self.calls += 1
        await asyncio.sleep(0.01)  # others arrive while it is in flight
        return list(self.incidents)


async def test_a_number_paged_seconds_ago_is_asked_of_victorops_once_for_a_burst() -> None:
    source, wall = Source(incident("1")), FakeClock()
    view = IncidentView(source, wall_clock=wall)
    assert set(await view.find(["1"])) == {"1"} and source.calls == 1
    source.incidents.append(incident("2"))
    wall.now += 2  # paged two seconds ago; the view is fresh for another 28 s
    found = await asyncio.gather(*(view.find([n]) for n in ("2", "2", "3", "404")))
    assert found[0]["2"] is not None and found[2]["3"] is None and source.calls == 2  # one call for the burst
    assert (await view.find(["1"]))["1"] is not None and source.calls == 2  # known numbers cost nothing


async def test_the_answer_is_shared_with_the_other_replicas() -> None:
    snapshots, source, wall = MemorySnapshots(), Source(incident("1")), FakeClock()
    first = IncidentView(source, snapshots=snapshots, wall_clock=wall)
    second = IncidentView(source, snapshots=snapshots, wall_clock=wall)
    await first.find(["1"])
    await second.find(["1"])  # from the shared snapshot
    assert source.calls == 1
    source.incidents.append(incident("2"))
    wall.now += 2
    assert (await first.find(["2"]))["2"] is not None and source.calls == 2
    assert (await second.find(["2"]))["2"] is not None and source.calls == 2  # the first replica's answer


async def test_a_read_back_is_newer_than_the_write() -> None:
    source, wall = Source(incident("1")), FakeClock()
    view = IncidentView(source, wall_clock=wall)
    await view.all()
    source.incidents = [incident("1", Phase.ACKED, "alice")]
    wall.now += 1  # the write was sent after the view's answer
    assert (await view.current())["1"].current_phase is Phase.ACKED and source.calls == 2
    assert (await view.current(asked_after=view.now()))["1"].current_phase is Phase.ACKED
    assert source.calls == 2  # an answer asked for after that moment was at hand


# -- reading back a write whose answer was lost


@pytest.mark.parametrize(
    ("verb", "found", "done", "note"),
    [
        ("ack", incident("7", Phase.ACKED, "alice"), True, "Acknowledged by <@U0ALICE>."),
        ("ack", incident("7", Phase.ACKED, "bob"), True, "#7 was already acknowledged by bob."),
        ("ack", incident("7", Phase.RESOLVED, "bob"), True, "#7 was already resolved by bob."),
        ("resolve", incident("7", Phase.RESOLVED, "alice"), True, "Resolved by <@U0ALICE>."),
        ("ack", incident("7"), None, None),  # not there yet: send it
        ("resolve", incident("7", Phase.ACKED, "alice"), None, None),
        ("ack", None, None, None),  # VictorOps does not list it: let VictorOps answer
    ],
)
def test_what_a_read_back_leaves_to_send(verb: str, found: Incident | None, done: bool | None, note: str) -> None:
    outcome = settled(verb, ALICE, found)  # type: ignore[arg-type]
    assert (outcome.done, said(outcome, NO_NAMES)) == (done, note) if outcome else (done, note) == (None, None)


def test_a_reroute_landed_when_every_target_is_paged() -> None:
    policy = PagedPolicy(policy=Named(name="Ops Primary", slug="pol-ops"), team=Named(name="Ops", slug="team-ops"))
    direct = PagedPolicy(policy=Named(slug="directUserPolicySlug-judy"))
    paged = incident("7", paged_policies=[policy, direct], paged_users=["cchen"])
    assert rerouted(paged, [Target(type="EscalationPolicy", slug="pol-ops")])
    assert rerouted(paged, [Target(type="User", slug="judy"), Target(type="User", slug="cchen")])
    assert not rerouted(paged, [Target(type="EscalationPolicy", slug="pol-ops"), Target(type="User", slug="ivan")])
    assert not rerouted(None, [Target(type="User", slug="judy")])


def test_a_create_given_up_after_lost_answers_says_it_may_exist_and_how_to_check() -> None:
    action = queued("create", payload={"summary": "Checkout is down"}, attempts=9)
    lost = explain(gave_up(action, errors.Unavailable("timed out")), "/vo")
    assert "“Checkout is down”" in lost and "may have been created" in lost and "incident list" in lost
    refused = explain(gave_up(action, errors.RateLimited()), "/vo")
    assert refused == str(errors.RateLimited())  # VictorOps surely did not create it: no such warning
