"""The VictorOps simulator over loopback HTTP with plain httpx, checked against the API reference."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.sim.seed import DEFAULT_ROUTE, build_seed, random_alert
from bot.sim.server import ServerThread, serve
from bot.sim.victorops import SimConfig, SimState, build_app, iso
from bot.victorops.limits import RateSpec
from tests.fakes import FakeClock

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()
AUTH = {"X-VO-Api-Id": "demo", "X-VO-Api-Key": "demo"}
UNLIMITED = RateSpec.parse("off")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
INCIDENTS = "/api-public/v1/incidents"
REPORTING = "/api-reporting/v2/incidents"
ALL_PHASES = {"currentPhase": "triggered,acknowledged,resolved", "limit": "100"}

Json = dict[str, Any]


@dataclass
class Sim:
    state: SimState
    clock: FakeClock
    http: httpx.Client  # sends the right credentials
    bare: httpx.Client  # sends none

    def incidents(self) -> list[Json]:
        response = self.http.get(INCIDENTS)
        assert response.status_code == 200, response.text
        incidents: list[Json] = response.json()["incidents"]
        return incidents

    def incident(self, number: str) -> Json:
        response = self.http.get(f"{INCIDENTS}/{number}")
        assert response.status_code == 200, response.text
        incident: Json = response.json()
        return incident

    def view(self, number: int | str) -> Json:
        """An incident's public view read from Python: costs no rate-limit budget."""
        view = self.state.incident(str(number))
        assert view is not None
        return view

    def find(self, summary: str) -> Json:
        return next(i for i in self.state.incidents() if i["entityDisplayName"] == summary)

    def policy_slug(self, name: str) -> str:
        return next(p.slug for p in self.state.directory.policies if p.name == name)


@contextmanager
def running(**config: Any) -> Iterator[Sim]:
    clock = FakeClock(START)
    state = SimState(SimConfig(clock=clock, **config))
    with (
        ServerThread(build_app(state=state)) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as http,
        httpx.Client(base_url=server.url) as bare,
    ):
        yield Sim(state, clock, http, bare)


def _fresh(sim: Sim) -> Sim:
    sim.clock.now = START
    sim.state.reset()
    return sim


@pytest.fixture(scope="module")
def relaxed_server() -> Iterator[Sim]:
    with running(incidents=UNLIMITED, reporting=UNLIMITED, lookups=UNLIMITED) as sim:
        yield sim


@pytest.fixture(scope="module")
def limited_server() -> Iterator[Sim]:
    with running() as sim:  # the default budgets: 6/min incidents, 1/min reporting, 15/min lookups
        yield sim


@pytest.fixture
def sim(relaxed_server: Sim) -> Sim:
    """A freshly seeded simulator without rate limits, for the shape and behaviour tests."""
    return _fresh(relaxed_server)


@pytest.fixture
def limited(limited_server: Sim) -> Sim:
    return _fresh(limited_server)


# -- public incidents: list and get


def test_incident_list_has_the_public_shape(sim: Sim) -> None:
    response = sim.http.get(INCIDENTS)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["incidents"]
    incidents = body["incidents"]
    assert {i["currentPhase"] for i in incidents} == {"UNACKED", "ACKED", "RESOLVED"}
    assert "routingdefault" in {i["routingKey"] for i in incidents}
    for incident in incidents:
        assert isinstance(incident["incidentNumber"], str) and incident["incidentNumber"].isdigit()
        for key in ("startTime", "lastAlertTime"):
            assert ISO_Z.match(incident[key]), incident[key]
        assert incident["entityType"] == "SERVICE"
        assert incident["service"] == incident["entityDisplayName"]
        assert incident["incidentLink"] == (
            f"https://portal.victorops.com/ui/vobot-demo/incident/{incident['incidentNumber']}/details"
        )
        assert all(
            set(p) == {"policy", "team"} and set(p["team"]) == {"name", "slug"} for p in incident["pagedPolicies"]
        )
        assert all(ISO_Z.match(t["at"]) and t["name"] in {"ACKED", "RESOLVED"} for t in incident["transitions"])
        if incident["currentPhase"] == "UNACKED":
            assert incident["pagedUsers"] and incident["entityState"] == "CRITICAL"
        else:
            assert incident["pagedUsers"] == []


def test_acked_incident_shows_who_acked_it(sim: Sim) -> None:
    incident = sim.find("Replication lag on db-replica-2 above 30s")
    assert incident["currentPhase"] == "ACKED"
    assert incident["transitions"] == [
        {
            "name": "ACKED",
            "at": iso(START - 45 * 60),
            "by": "dave",
            "manually": True,
            "message": "Looking at the replica",
        }
    ]


def test_resolved_incidents_stay_listed_for_an_hour(sim: Sim) -> None:
    summaries = {i["entityDisplayName"]: i for i in sim.incidents()}
    recent = summaries["Memory pressure on web-03"]  # resolved 10 minutes ago
    assert recent["currentPhase"] == "RESOLVED" and recent["entityState"] == "OK"
    assert "Nightly backup job failed" not in summaries  # resolved 3 hours ago

    sim.clock.now += 51 * 60
    assert "Memory pressure on web-03" not in {i["entityDisplayName"] for i in sim.incidents()}
    assert sim.incident(recent["incidentNumber"])["currentPhase"] == "RESOLVED"  # GET by number still finds it


def test_get_unknown_incident_is_404(sim: Sim) -> None:
    response = sim.http.get(f"{INCIDENTS}/99999")
    assert response.status_code == 404
    assert "99999" in response.json()["message"]


# -- create


def test_create_pages_policies_and_users_and_fills_the_fields(sim: Sim) -> None:
    highest = sim.state.snapshot()["counts"]["incidents"]
    managers = sim.policy_slug("Payments Managers")
    body = {
        "summary": "Ledger totals do not match",
        "details": "Nightly reconciliation is off by 12 EUR",
        "userName": "alice",
        "targets": [{"type": "EscalationPolicy", "slug": managers}, {"type": "User", "slug": "judy"}],
    }
    response = sim.http.post(INCIDENTS, json=body)

    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"incidentNumber", "entityId"}
    assert created["incidentNumber"] == str(highest + 1)
    uuid.UUID(created["entityId"])
    incident = sim.incident(created["incidentNumber"])
    payments = next(t for t in sim.state.directory.teams if t.name == "Payments")
    assert incident["currentPhase"] == "UNACKED"
    assert (incident["entityState"], incident["entityType"]) == ("CRITICAL", "SERVICE")
    assert incident["entityDisplayName"] == incident["service"] == "Ledger totals do not match"
    assert (incident["monitorName"], incident["monitorType"]) == ("vouser-alice", "Manual")
    assert incident["entityId"] == created["entityId"]
    assert incident["pagedUsers"] == ["heidi", "judy"]  # the policy's on-call user, then the direct page
    assert incident["pagedTeams"] == [payments.slug]
    assert incident["pagedPolicies"] == [
        {
            "policy": {"name": "Payments Managers", "slug": managers},
            "team": {"name": "Payments", "slug": payments.slug},
        },
        {
            "policy": {"name": "Generated Direct User Policy for judy", "slug": "directUserPolicySlug-judy"},
            "team": {"name": "", "slug": ""},
        },
    ]
    assert incident["transitions"] == []
    assert incident["startTime"] == iso(START)


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"summary": None}, 400, "summary"),
        ({"details": ""}, 400, "details"),
        ({"targets": []}, 400, "targets"),
        ({"targets": [{"type": "Team", "slug": "x"}]}, 400, "type"),
        ({"targets": [{"type": "EscalationPolicy", "slug": "pol-doesNotExist0000"}]}, 400, "pol-doesNotExist0000"),
        ({"targets": [{"type": "User", "slug": "nobody"}]}, 400, "nobody"),
        ({"userName": "nobody"}, 404, "User not found"),
    ],
)
def test_create_rejects_bad_requests(sim: Sim, change: Json, status: int, words: str) -> None:
    before = sim.state.snapshot()["counts"]["incidents"]
    body = {"summary": "s", "details": "d", "userName": "alice", "targets": [{"type": "User", "slug": "bob.martinez"}]}
    body = {k: v for k, v in (body | change).items() if v is not None}

    response = sim.http.post(INCIDENTS, json=body)

    assert response.status_code == status
    assert words in response.json()["message"]
    assert sim.state.snapshot()["counts"]["incidents"] == before


def test_create_rejects_a_body_that_is_not_json(sim: Sim) -> None:
    response = sim.http.post(INCIDENTS, content=b"summary=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


# -- ack and resolve


def test_ack_sets_acked_and_clears_paged_users(sim: Sim) -> None:
    number = sim.find("Checkout API p99 latency above 2s")["incidentNumber"]
    sim.clock.now += 30

    response = sim.http.patch(
        f"{INCIDENTS}/ack", json={"userName": "frank", "incidentNames": [number], "message": "on it"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "results": [{"incidentNumber": number, "entityId": "latency/checkout-api", "cmdAccepted": True, "message": ""}]
    }
    incident = sim.incident(number)
    assert (incident["currentPhase"], incident["pagedUsers"]) == ("ACKED", [])
    assert incident["pagedPolicies"]  # the policy stays
    assert incident["transitions"][-1] == {
        "name": "ACKED",
        "at": iso(START + 30),
        "by": "frank",
        "manually": True,
        "message": "on it",
    }


def test_ack_of_closed_or_unknown_incidents_is_not_accepted(sim: Sim) -> None:
    acked = sim.find("Kafka consumer lag: orders")
    resolved = sim.find("Memory pressure on web-03")

    response = sim.http.patch(
        f"{INCIDENTS}/ack",
        json={"userName": "alice", "incidentNames": [acked["incidentNumber"], resolved["incidentNumber"], "99999"]},
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["incidentNumber"] for r in results] == [acked["incidentNumber"], resolved["incidentNumber"], "99999"]
    assert [r["cmdAccepted"] for r in results] == [False, False, False]
    assert "already acknowledged" in results[0]["message"]
    assert "already resolved" in results[1]["message"]
    assert "not found" in results[2]["message"]
    assert results[0]["entityId"] == acked["entityId"]
    assert sim.incident(acked["incidentNumber"])["transitions"] == acked["transitions"]


def test_resolve_of_an_unacked_incident_is_allowed(sim: Sim) -> None:
    number = sim.find("Disk usage 95% on db01")["incidentNumber"]

    response = sim.http.patch(f"{INCIDENTS}/resolve", json={"userName": "dave", "incidentNames": [number]})

    assert response.json()["results"][0]["cmdAccepted"] is True
    incident = sim.incident(number)
    assert (incident["currentPhase"], incident["entityState"], incident["pagedUsers"]) == ("RESOLVED", "OK", [])
    assert incident["transitions"] == [{"name": "RESOLVED", "at": iso(START), "by": "dave", "manually": True}]
    again = sim.http.patch(f"{INCIDENTS}/resolve", json={"userName": "dave", "incidentNames": [number]})
    assert again.json()["results"][0]["cmdAccepted"] is False


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"{INCIDENTS}/ack", {"userName": "nobody", "incidentNames": ["1"]}),
        ("PATCH", f"{INCIDENTS}/resolve", {"userName": "nobody", "incidentNames": ["1"]}),
        ("PATCH", f"{INCIDENTS}/byUser/ack", {"userName": "nobody"}),
        ("PATCH", f"{INCIDENTS}/byUser/resolve", {"userName": "nobody"}),
        (
            "POST",
            f"{INCIDENTS}/reroute",
            {
                "userName": "nobody",
                "reroutes": [{"incidentNumber": "1", "targets": [{"type": "User", "slug": "alice"}]}],
            },
        ),
    ],
)
def test_unknown_user_is_404(sim: Sim, method: str, path: str, body: Json) -> None:
    response = sim.http.request(method, path, json=body)
    assert response.status_code == 404
    assert "User not found" in response.json()["message"]


@pytest.mark.parametrize("names", [[7], [], "7", None])
def test_ack_needs_incident_names_as_strings(sim: Sim, names: object) -> None:
    response = sim.http.patch(f"{INCIDENTS}/ack", json={"userName": "alice", "incidentNames": names})
    assert response.status_code == 400
    assert "incidentNames" in response.json()["message"]


def test_strict_ack_errors_fail_the_whole_call() -> None:
    with running(strict_ack_errors=True) as sim:
        open_number = sim.find("Checkout API p99 latency above 2s")["incidentNumber"]
        resolved = sim.find("Memory pressure on web-03")["incidentNumber"]

        unknown = sim.http.patch(
            f"{INCIDENTS}/ack", json={"userName": "alice", "incidentNames": [open_number, "99999"]}
        )
        closed = sim.http.patch(f"{INCIDENTS}/resolve", json={"userName": "alice", "incidentNames": [resolved]})

        assert unknown.status_code == 404 and "99999" in unknown.json()["message"]
        assert closed.status_code == 400 and "already resolved" in closed.json()["message"]
        assert sim.incident(open_number)["currentPhase"] == "UNACKED"  # nothing applied


# -- byUser


def test_by_user_ack_then_resolve_take_the_incidents_paged_to_the_user(sim: Sim) -> None:
    paged = {i["incidentNumber"] for i in sim.state.incidents() if "frank" in i["pagedUsers"]}
    assert len(paged) == 2  # the two open Payments incidents

    acked = sim.http.patch(f"{INCIDENTS}/byUser/ack", json={"userName": "frank", "message": "mine"})

    assert {r["incidentNumber"] for r in acked.json()["results"]} == paged
    assert all(r["cmdAccepted"] for r in acked.json()["results"])
    for number in paged:
        incident = sim.incident(number)
        assert incident["currentPhase"] == "ACKED"
        assert incident["transitions"][-1]["by"] == "frank"
    assert sim.http.patch(f"{INCIDENTS}/byUser/ack", json={"userName": "frank"}).json() == {"results": []}

    # Still paged for them through the policy after the ack, so byUser/resolve takes them.
    resolved = sim.http.patch(f"{INCIDENTS}/byUser/resolve", json={"userName": "frank"})
    assert {r["incidentNumber"] for r in resolved.json()["results"]} == paged
    assert {sim.incident(n)["currentPhase"] for n in paged} == {"RESOLVED"}


def test_by_user_counts_a_direct_page(sim: Sim) -> None:
    direct = sim.find("Please check the certificate renewal job")
    assert direct["pagedUsers"] == ["bob.martinez"]

    results = sim.http.patch(f"{INCIDENTS}/byUser/ack", json={"userName": "bob.martinez"}).json()["results"]

    assert [r["incidentNumber"] for r in results] == [direct["incidentNumber"]]


def test_by_user_with_nothing_paged_is_empty(sim: Sim) -> None:
    response = sim.http.patch(f"{INCIDENTS}/byUser/resolve", json={"userName": "gkim"})
    assert response.status_code == 200
    assert response.json() == {"results": []}


# -- reroute


def test_reroute_replaces_then_adds_targets(sim: Sim) -> None:
    number = sim.find("Checkout API p99 latency above 2s")["incidentNumber"]
    escalation = sim.policy_slug("Ops Escalation")
    ops = next(t.slug for t in sim.state.directory.teams if t.name == "Ops")

    response = sim.http.post(
        f"{INCIDENTS}/reroute",
        json={
            "userName": "frank",
            "reroutes": [{"incidentNumber": number, "targets": [{"type": "EscalationPolicy", "slug": escalation}]}],
        },
    )

    assert response.status_code == 200
    status = response.json()["statuses"][0]
    assert (status["incidentNumber"], status["success"]) == (number, True)
    assert status["targetStatus"] == [{"slug": escalation, "success": True, "message": "Rerouted"}]
    incident = sim.incident(number)
    assert [p["policy"]["slug"] for p in incident["pagedPolicies"]] == [escalation]
    assert (incident["pagedUsers"], incident["pagedTeams"]) == (["cchen"], [ops])

    sim.http.post(
        f"{INCIDENTS}/reroute",
        json={
            "userName": "frank",
            "reroutes": [{"incidentNumber": number, "targets": [{"type": "User", "slug": "judy"}], "addTargets": True}],
        },
    )
    incident = sim.incident(number)
    assert [p["policy"]["slug"] for p in incident["pagedPolicies"]] == [escalation, "directUserPolicySlug-judy"]
    assert incident["pagedUsers"] == ["cchen", "judy"]


def test_reroute_of_an_acked_incident_pages_again(sim: Sim) -> None:
    number = sim.find("Kafka consumer lag: orders")["incidentNumber"]
    sim.http.post(
        f"{INCIDENTS}/reroute",
        json={
            "userName": "alice",
            "reroutes": [{"incidentNumber": number, "targets": [{"type": "User", "slug": "gkim"}]}],
        },
    )
    incident = sim.incident(number)
    assert (incident["currentPhase"], incident["pagedUsers"]) == ("UNACKED", ["gkim"])


def test_reroute_failures_are_reported_per_incident_and_target(sim: Sim) -> None:
    resolved = sim.find("Memory pressure on web-03")["incidentNumber"]
    open_incident = sim.find("Disk usage 95% on db01")
    judy = {"type": "User", "slug": "judy"}
    ghost = {"type": "EscalationPolicy", "slug": "pol-ghostghostghost0"}

    response = sim.http.post(
        f"{INCIDENTS}/reroute",
        json={
            "userName": "alice",
            "reroutes": [
                {"incidentNumber": resolved, "targets": [judy]},
                {"incidentNumber": "99999", "targets": [judy]},
                {"incidentNumber": open_incident["incidentNumber"], "targets": [judy, ghost]},
            ],
        },
    )

    statuses = response.json()["statuses"]
    assert [s["success"] for s in statuses] == [False, False, False]
    assert "resolved" in statuses[0]["message"] and "not found" in statuses[1]["message"]
    assert statuses[0]["targetStatus"] == [{"slug": "judy", "success": False, "message": statuses[0]["message"]}]
    assert [t["success"] for t in statuses[2]["targetStatus"]] == [True, False]
    assert sim.incident(open_incident["incidentNumber"])["pagedUsers"] == ["judy"]  # the valid target applied
    assert sim.incident(resolved)["currentPhase"] == "RESOLVED"


# -- reporting


def test_reporting_v2_defaults_to_resolved_in_lower_case(sim: Sim) -> None:
    response = sim.http.get(REPORTING)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["offset", "limit", "total", "incidents"]
    assert (body["offset"], body["limit"]) == (0, 20)
    assert body["total"] == sim.state.snapshot()["counts"]["RESOLVED"]
    assert len(body["incidents"]) == 20
    numbers = [int(i["incidentNumber"]) for i in body["incidents"]]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    for incident in body["incidents"]:
        assert (incident["currentPhase"], incident["entityState"], incident["entityType"]) == (
            "resolved",
            "ok",
            "service",
        )
        assert incident["routingKey"] != "routingdefault"
        trigger = incident["transitions"][0]
        assert trigger["name"] == "triggered" and trigger["at"] == incident["startTime"]
        assert trigger["alertUrl"] == f"https://api.victorops.com/api-public/v1/alerts/{trigger['alertId']}"
        assert incident["transitions"][-1]["name"] == "resolved"
        assert {t["name"] for t in incident["transitions"]} <= {"triggered", "acknowledged", "resolved"}
    assert "default" in {i["routingKey"] for i in body["incidents"]}


def test_reporting_filters(sim: Sim) -> None:
    def numbers(**params: str) -> set[int]:
        response = sim.http.get(REPORTING, params=ALL_PHASES | params)
        assert response.status_code == 200, response.text
        return {int(i["incidentNumber"]) for i in response.json()["incidents"]}

    everything = numbers()
    assert len(everything) == 72
    assert numbers(incidentNumber="4,5,20:50") == {4, 5, *range(20, 51)}
    open_ones = {int(i["incidentNumber"]) for i in sim.state.incidents() if i["currentPhase"] != "RESOLVED"}
    assert numbers(currentPhase="Triggered, acknowledged") == open_ones
    default_route = numbers(routingKey="default")
    assert default_route and all(sim.view(n)["routingKey"] == "routingdefault" for n in default_route)
    assert len(default_route) < len(everything)
    assert numbers(routingKey="routingdefault") == set()
    db01 = numbers(host="db01,nohost")
    assert db01 and db01 < everything
    assert numbers(service="Disk usage 95% on db01", startedAfter="2024-05-01T11:00:00Z") == {
        int(sim.find("Disk usage 95% on db01")["incidentNumber"])
    }
    assert len(numbers(startedBefore="2024-04-30T12:00:00Z")) == 60 + 2  # the history and two live ones over a day old
    assert numbers(entityId="disk/db01", currentPhase="triggered") == {
        int(sim.find("Disk usage 95% on db01")["incidentNumber"])
    }


def test_reporting_limit_is_clamped_to_100_and_pages_with_offset(sim: Sim) -> None:
    for n in range(40):
        sim.state.trigger(f"load test {n}", "payments")

    first = sim.http.get(REPORTING, params=ALL_PHASES | {"limit": "500"}).json()
    rest = sim.http.get(REPORTING, params=ALL_PHASES | {"limit": "500", "offset": "100"}).json()

    assert (first["limit"], first["total"], len(first["incidents"])) == (100, 112, 100)
    assert (rest["offset"], len(rest["incidents"])) == (100, 12)
    seen = [i["incidentNumber"] for i in first["incidents"] + rest["incidents"]]
    assert sorted(seen, key=int) == [str(n) for n in range(1, 113)]


def test_reporting_limit_over_100_can_be_rejected() -> None:
    with running(reporting_limit_over_max="reject") as sim:
        response = sim.http.get(REPORTING, params={"limit": "101"})
        assert response.status_code == 400
        assert "limit" in response.json()["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "ten"},
        {"offset": "-1"},
        {"currentPhase": "UNACKED"},
        {"currentPhase": "open,resolved"},
        {"incidentNumber": "5:3"},
        {"incidentNumber": "4,x"},
        {"startedAfter": "yesterday"},
    ],
)
def test_reporting_rejects_bad_values(sim: Sim, params: dict[str, str]) -> None:
    response = sim.http.get(REPORTING, params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["message"]


def test_reporting_v1_has_the_deprecated_shape(sim: Sim) -> None:
    response = sim.http.get("/api-reporting/v1/incidents", params={"limit": "100"})

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    page = body[0]
    assert set(page) == {"incidents", "limit", "offset", "total"}
    assert len(page["incidents"]) == page["total"] == sim.state.snapshot()["counts"]["RESOLVED"]
    for incident in page["incidents"]:
        assert "entityDisplayName" not in incident and "lastAlertId" not in incident
        assert incident["entityDispName"] and incident["lastAlertID"]
        assert isinstance(incident["teams"], str) and incident["teams"].startswith("team-")
        assert incident["currentPhase"] == "resolved" and ISO_Z.match(incident["endTime"])
    acked = next(i for i in page["incidents"] if i["startTime"] == iso(START - 5 * 3600))
    assert acked["entityDispName"] == "Nightly backup job failed"
    assert acked["ackUserId"] == "erin.walsh"
    assert acked["ackUser"] == {"email": "erin.walsh@example.com", "first": "Erin", "last": "Walsh"}
    assert acked["ackTime"] == iso(START - 290 * 60)


# -- lookups


def test_users_v1_is_nested_and_v2_is_flat(sim: Sim) -> None:
    v1 = sim.http.get("/api-public/v1/user").json()
    v2 = sim.http.get("/api-public/v2/user").json()

    assert len(v1["users"]) == 1 and len(v1["users"][0]) == 10
    assert v2["users"] == v1["users"][0]
    alice = v2["users"][0]
    assert set(alice) == {
        "firstName",
        "lastName",
        "displayName",
        "username",
        "email",
        "createdAt",
        "passwordLastUpdated",
        "verified",
        "_selfUrl",
    }
    assert (alice["username"], alice["displayName"], alice["_selfUrl"]) == (
        "alice",
        "Alice Nguyen",
        "/api-public/v1/user/alice",
    )
    assert ISO_Z.match(alice["createdAt"])


def test_users_v2_finds_by_email_ignoring_case(sim: Sim) -> None:
    found = sim.http.get("/api-public/v2/user", params={"email": "Erin.Walsh@EXAMPLE.com"}).json()["users"]
    assert [u["username"] for u in found] == ["erin.walsh"]
    assert sim.http.get("/api-public/v2/user", params={"email": "nobody@example.com"}).json() == {"users": []}


def test_user_by_name(sim: Sim) -> None:
    assert sim.http.get("/api-public/v1/user/ivan.petrov").json()["email"] == "ivan.petrov@example.com"
    response = sim.http.get("/api-public/v1/user/nobody@example.com")
    assert response.status_code == 404  # a user miss: the path with an unencoded @ is routed
    assert "User not found" in response.json()["message"]


def test_policies_and_teams(sim: Sim) -> None:
    policies = sim.http.get("/api-public/v1/policies").json()["policies"]
    teams = sim.http.get("/api-public/v1/team").json()

    assert isinstance(teams, list) and [t["name"] for t in teams] == ["Ops", "Database", "Payments", "Frontend"]
    team_slugs = {t["slug"] for t in teams}
    assert all(re.fullmatch(r"team-[A-Za-z0-9]{16}", slug) for slug in team_slugs)
    for entry in policies:
        policy = entry["policy"]
        assert re.fullmatch(r"(team|pol)-[A-Za-z0-9]{16}", policy["slug"])
        assert policy["_selfUrl"] == f"/api-public/v1/policies/{policy['slug']}"
        assert entry["team"]["slug"] in team_slugs
    assert sum(e["policy"]["slug"] == e["team"]["slug"] for e in policies) == 4  # each team's default policy
    ops = teams[0]
    assert (ops["memberCount"], ops["isDefaultTeam"]) == (3, True)
    assert ops["_membersUrl"] == f"/api-public/v1/team/{ops['slug']}/members"

    members = sim.http.get(ops["_membersUrl"]).json()
    assert [m["username"] for m in members["members"]] == ["alice", "bob.martinez", "cchen"]
    assert members["_teamUrl"] == ops["_selfUrl"]
    assert sim.http.get("/api-public/v1/team/team-nonexistent00000/members").status_code == 404


def test_oncall_uses_the_real_key_casing(sim: Sim) -> None:
    response = sim.http.get("/api-public/v1/oncall/current")

    text = response.text
    assert "onCallNow" not in text and "onCallUser" not in text
    frontend = next(t for t in response.json()["teamsOnCall"] if t["team"]["name"] == "Frontend")
    assert frontend["oncallNow"] == [
        {
            "escalationPolicy": {"name": "Frontend", "slug": frontend["team"]["slug"]},
            "users": [{"onCalluser": {"username": "ivan.petrov"}}, {"onCalluser": {"username": "judy"}}],
        }
    ]


# -- auth and unknown paths


@pytest.mark.parametrize("headers", [{}, {"X-VO-Api-Id": "demo"}, {"X-VO-Api-Key": "demo"}])
def test_missing_credentials_are_401(sim: Sim, headers: dict[str, str]) -> None:
    response = sim.bare.get(INCIDENTS, headers=headers)
    assert response.status_code == 401
    assert response.json()["message"]


def test_wrong_credentials_are_403_and_do_not_look_like_a_rate_limit(sim: Sim) -> None:
    response = sim.http.get(INCIDENTS, headers={"X-VO-Api-Key": "wrong"})
    assert response.status_code == 403
    assert response.json() == {"message": "Authentication failed"}
    assert "too many" not in response.text.lower()


def test_header_names_match_in_any_case(sim: Sim) -> None:
    headers = {"x-vo-api-id": "demo", "X-VO-API-KEY": "demo"}
    assert sim.bare.get(INCIDENTS, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api-public/v1/nope"), ("GET", "/"), ("DELETE", INCIDENTS), ("GET", f"{INCIDENTS}/")],
)
def test_unknown_path_or_method_is_missing_authentication_token(sim: Sim, method: str, path: str) -> None:
    for client_headers in (AUTH, {}):
        response = sim.bare.request(method, path, headers=client_headers)
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}


# -- rate limits


def test_seventh_incidents_call_in_a_minute_is_refused(limited: Sim) -> None:
    number = limited.find("Disk usage 95% on db01")["incidentNumber"]
    calls = [
        ("GET", INCIDENTS, None),
        ("GET", f"{INCIDENTS}/{number}", None),
        ("PATCH", f"{INCIDENTS}/byUser/ack", {"userName": "gkim"}),
        ("PATCH", f"{INCIDENTS}/resolve", {"userName": "gkim", "incidentNames": ["99999"]}),
        (
            "POST",
            f"{INCIDENTS}/reroute",
            {"userName": "gkim", "reroutes": [{"incidentNumber": "99999", "targets": []}]},
        ),
        ("GET", INCIDENTS, None),
    ]
    statuses = [limited.http.request(method, path, json=body).status_code for method, path, body in calls]
    assert statuses == [200, 200, 200, 200, 400, 200]  # a bad request still costs budget

    refused = limited.http.patch(f"{INCIDENTS}/ack", json={"userName": "dave", "incidentNames": [number]})

    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Requests"}
    assert "Retry-After" not in refused.headers
    assert limited.view(number)["currentPhase"] == "UNACKED"  # the refused ack was not applied
    assert limited.http.get("/api-public/v1/team").status_code == 200  # other families have their own budget
    assert limited.http.get(REPORTING).status_code == 200
    assert limited.state.budget() == {"incidents": 0, "reporting": 0, "lookups": 14}

    limited.clock.now += 60
    assert limited.http.get(INCIDENTS).status_code == 200
    log = limited.state.calls()
    assert [c.rate_limited for c in log].count(True) == 1
    assert next(c for c in log if c.rate_limited).path == f"{INCIDENTS}/ack"


def test_refused_credentials_cost_no_budget(limited: Sim) -> None:
    for _ in range(4):
        assert limited.http.get(INCIDENTS, headers={"X-VO-Api-Key": "wrong"}).status_code == 403
        assert limited.bare.get(INCIDENTS).status_code == 401
    assert [limited.http.get(INCIDENTS).status_code for _ in range(7)] == [200] * 6 + [429]


def test_legacy_rate_limit_status_and_retry_after() -> None:
    with running(rate_limit_status=403, send_retry_after=True) as sim:
        assert sim.http.get(REPORTING).status_code == 200
        sim.clock.now += 15

        refused = sim.http.get(REPORTING)

        assert refused.status_code == 403
        assert refused.json() == {"message": "Too Many Requests"}
        assert refused.headers["Retry-After"] == "45"
        sim.clock.now += 45
        assert sim.http.get(REPORTING).status_code == 200


# -- REST endpoint alerts


def test_rest_endpoint_opens_acks_and_resolves_an_incident(limited: Sim) -> None:
    url = "/integrations/generic/20131114/alert/some-integration-key/database"
    budget = limited.state.budget()

    def send(message_type: str, **more: str) -> httpx.Response:
        return limited.bare.post(url, json={"message_type": message_type, "entity_id": "disk/db07", **more})

    first = send("CRITICAL", entity_display_name="Disk full on db07", host_name="db07")
    assert first.json() == {"result": "success", "entity_id": "disk/db07"}
    incident = limited.find("Disk full on db07")
    number = incident["incidentNumber"]
    assert (incident["currentPhase"], incident["routingKey"], incident["host"]) == ("UNACKED", "database", "db07")
    assert (incident["pagedUsers"], incident["monitorType"]) == (["dave"], "API")

    send("CRITICAL")
    assert limited.view(number)["alertCount"] == 2
    send("ACKNOWLEDGEMENT", ack_author="dave", ack_message="on it")
    acked = limited.view(number)
    transition = acked["transitions"][-1]
    assert acked["currentPhase"] == "ACKED"
    assert [transition[k] for k in ("name", "at", "by", "message", "manually")] == [
        "ACKED",
        iso(START),
        "dave",
        "on it",
        False,
    ]
    assert transition["alertId"] != acked["firstAlertUuid"]
    send("RECOVERY")
    assert limited.view(number)["currentPhase"] == "RESOLVED"
    assert limited.state.budget() == budget  # not rate limited, not counted

    failed = limited.bare.post(url, json={"entity_id": "disk/db07"})
    assert failed.status_code == 400
    assert failed.json()["result"] == "failure" and "message_type" in failed.json()["message"]


def test_random_alerts_open_new_incidents(sim: Sim) -> None:
    rng = random.Random(5)
    for _ in range(3):
        alert = random_alert(rng)
        url = f"/integrations/generic/20131114/alert/key/{alert.routing_key}"
        assert sim.bare.post(url, json=alert.body).json()["result"] == "success"
    assert sim.state.snapshot()["counts"]["UNACKED"] == 5 + 3


# -- control endpoints and the Python API


def test_control_endpoints_need_no_auth_and_log_calls_without_the_key() -> None:
    with running(api_id="org-7", api_key="k-SECRET-123") as sim:
        good = {"X-VO-Api-Id": "org-7", "X-VO-Api-Key": "k-SECRET-123"}
        wrong = {"X-VO-Api-Id": "org-7", "X-VO-Api-Key": "k-WRONG-456"}
        body = {"userName": "alice", "incidentNames": ["1"], "message": "from a test"}
        assert sim.bare.patch(f"{INCIDENTS}/ack", json=body, headers=good).status_code == 200
        assert sim.bare.get(INCIDENTS, headers=wrong).status_code == 403
        bare = sim.bare  # the control endpoints take no credentials

        calls = bare.get("/_sim/calls").json()["calls"]
        state = bare.get("/_sim/state").json()

        assert [(c["method"], c["path"], c["family"], c["status"], c["rateLimited"]) for c in calls] == [
            ("PATCH", f"{INCIDENTS}/ack", "incidents", 200, False),
            ("GET", INCIDENTS, "incidents", 403, False),
        ]
        assert json.loads(calls[0]["body"]) == body and ISO_Z.match(calls[0]["at"])
        assert "k-SECRET-123" not in json.dumps(calls) + repr(sim.state.calls())
        assert "k-WRONG-456" not in json.dumps(calls)
        assert set(state) == {"now", "incidents", "budget", "counts"}
        assert state["budget"] == {"incidents": 5, "reporting": 1, "lookups": 15}
        assert state["counts"] == {
            "incidents": 72,
            "UNACKED": 5,
            "ACKED": 4,
            "RESOLVED": 63,
            "calls": 2,
            "rateLimited": 0,
        }
        assert len(state["incidents"]) == len(sim.state.incidents()) == 11

        sim.state.trigger("made from Python")
        assert bare.post("/_sim/reset").status_code == 200
        assert bare.get("/_sim/calls").json() == {"calls": []}
        assert "made from Python" not in {i["entityDisplayName"] for i in sim.state.incidents()}


def test_python_trigger_is_seen_over_http(sim: Sim) -> None:
    number = sim.state.trigger("Queue depth high", "payments", entity_id="queue/payouts")
    incident = sim.incident(number)
    assert (incident["entityId"], incident["routingKey"], incident["currentPhase"]) == (
        "queue/payouts",
        "payments",
        "UNACKED",
    )
    assert incident["pagedUsers"] == ["frank"]


def test_public_trigger_transition_switch() -> None:
    with running(public_trigger_transition=True) as sim:
        incident = sim.find("Replication lag on db-replica-2 above 30s")
        trigger, ack = incident["transitions"]
        assert (trigger["name"], trigger["manually"], trigger["at"]) == ("UNACKED", False, incident["startTime"])
        assert trigger["alertId"] == incident["firstAlertUuid"]
        assert ack["name"] == "ACKED"


async def test_serve_runs_an_app_in_the_running_loop() -> None:
    async with httpx.AsyncClient(headers=AUTH) as http:
        async with serve(build_app(SimConfig(clock=FakeClock(START)))) as url:
            response = await http.get(f"{url}/api-public/v1/team")
            assert response.status_code == 200 and len(response.json()) == 4
        with pytest.raises(httpx.TransportError):
            await http.get(f"{url}/api-public/v1/team")  # the server stopped with the block


# -- seed


def test_seed_is_deterministic_and_realistic() -> None:
    seed = build_seed(1, START)
    assert seed == build_seed(1, START)
    assert seed.directory.teams != build_seed(2, START).directory.teams  # other slugs
    directory = seed.directory
    assert len(directory.users) == 10 and all(u.email.endswith("@example.com") for u in directory.users)
    assert [t.name for t in directory.teams] == ["Ops", "Database", "Payments", "Frontend"]
    assert all(1 <= sum(p.team == t for p in directory.policies) <= 2 for t in directory.teams)
    assert set(directory.routes) == {DEFAULT_ROUTE, "database", "payments", "frontend"}
    assert len(seed.incidents) == 72 and sum(i.resolve is None for i in seed.incidents) == 9
    assert [i.started for i in seed.incidents] == sorted(i.started for i in seed.incidents)
    assert random_alert(random.Random(3)) == random_alert(random.Random(3))
