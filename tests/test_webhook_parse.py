"""The §6a webhook body read into an Incident: the exact flat shape, strings for numbers, nulls, lists by index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sim.victorops import SimState
from bot.victorops.models import Incident, Phase
from bot.victorops.webhook import NotAnIncident, event_key, flatten, parse

# One manual incident, triggered, as VictorOps posts it (reference §6a): keys as observed, values made up.
TRIGGERED: dict[str, Any] = {
    "INCIDENT.INCIDENT_ID": "14",
    "INCIDENT.INCIDENT_NAME": "#14",
    "INCIDENT.INCIDENT_TIMESTAMP": "1714564800000",
    "INCIDENT.CURRENT_PHASE": "UNACKED",
    "INCIDENT.ENTITY_STATE": "CRITICAL",
    "INCIDENT.ENTITY_DISPLAY_NAME": "Low disk on db01",
    "INCIDENT.SERVICE": "Low disk on db01",
    "INCIDENT.HOST": None,
    "INCIDENT.ENTITY_TYPE": "SERVICE",
    "INCIDENT.POLICIES_PAGED.0.POLICY.NAME": "Ops Primary",
    "INCIDENT.POLICIES_PAGED.0.POLICY.SLUG": "pol-ops",
    "INCIDENT.POLICIES_PAGED.0.TEAM.NAME": "Ops",
    "INCIDENT.POLICIES_PAGED.0.TEAM.SLUG": "team-ops",
    "INCIDENT.POLICIES_PAGED.1.POLICY.NAME": "Generated Direct User Policy for heidi",
    "INCIDENT.POLICIES_PAGED.1.POLICY.SLUG": "directUserPolicySlug-heidi",
    "INCIDENT.POLICIES_PAGED.1.TEAM.NAME": "",
    "INCIDENT.POLICIES_PAGED.1.TEAM.SLUG": "",
    "INCIDENT.MONITOR_TYPE": "manual",
    "INCIDENT.MONITOR_NAME": "vouser-heidi",
    "INCIDENT.TAGS.0": "routingdb",
    "INCIDENT.SEQUENCING.SEQUENCE": 3,
    "INCIDENT.ALERT_COUNT": "1",
    "INCIDENT.IS_MUTED": "false",
    "ALERT.entity_display_name": "Low disk on db01",
    "ALERT.entity_id": "disk/db01",
    "ALERT.state_message": "df shows 97%",
    "ALERT.VO_UUID": "0b8d2f0e-5c1a-4f7e-9a51-3d2f6a1e9c11",
    "STATE.INCIDENT_NAME": "14",
    "STATE.CURRENT_ALERT_PHASE": "UNACKED",
    "STATE.ACK_USER": "SYSTEM",
    "STATE.ACK_MSG": "",
    "STATE.ACK_TIMESTAMP": 0,
    "STATE.ACKED_BY": None,
    "STATE.ACKED_AT": None,
    "STATE.RESOLVED_BY": None,
    "STATE.RESOLVED_AT": None,
    "STATE.USERS_PAGED.0": "heidi",
    "STATE.USERS_PAGED.1": "alice",
}


def test_the_observed_body_reads_as_its_incident() -> None:
    incident = parse(TRIGGERED)
    assert incident.incident_number == "14"
    assert incident.current_phase is Phase.UNACKED
    assert incident.start_time == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert incident.title == "Low disk on db01"
    assert incident.routing_key == "db"
    assert incident.paged_users == ["heidi", "alice"]
    assert [p.policy.slug for p in incident.paged_policies] == ["pol-ops", "directUserPolicySlug-heidi"]
    assert incident.paged_policies[0].team is not None and incident.paged_policies[0].team.slug == "team-ops"
    assert incident.paged_policies[1].team is None
    assert incident.paged_teams == ["team-ops"]
    assert incident.alert_count == 1 and incident.entity_id == "disk/db01"
    assert incident.transitions == []


def test_ack_and_resolve_become_transitions_with_who_and_when() -> None:
    acked = parse(
        TRIGGERED
        | {
            "INCIDENT.CURRENT_PHASE": "ACKED",
            "STATE.CURRENT_ALERT_PHASE": "ACKED",
            "STATE.ACKED_BY": "heidi",
            "STATE.ACKED_AT": 1714564860000,
            "STATE.ACK_MSG": "on it",
        }
    )
    assert acked.current_phase is Phase.ACKED
    transition = acked.last_transition(Phase.ACKED)
    assert transition is not None and transition.by == "heidi" and transition.message == "on it"
    assert transition.at == datetime(2024, 5, 1, 12, 1, tzinfo=UTC)
    assert acked.paged_users == ["heidi", "alice"]
    resolved = parse({"STATE.INCIDENT_NAME": "14", "STATE.CURRENT_ALERT_PHASE": "RESOLVED", "STATE.RESOLVED_BY": "bob"})
    assert resolved.current_phase is Phase.RESOLVED and resolved.paged_users == []
    found = resolved.last_transition(Phase.RESOLVED)
    assert found is not None and found.by == "bob"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"STATE.ONCALL_USER": "heidi", "STATE.ONCALL_TEAM": "team-ops", "EVENT": "On-Call"}, "no incident number"),
        ({"INCIDENT.INCIDENT_NAME": "#14"}, "has no phase"),
        ({"INCIDENT.INCIDENT_ID": "14", "INCIDENT.CURRENT_PHASE": "SNOOZED"}, "has no phase"),
        ({"INCIDENT.INCIDENT_ID": None, "INCIDENT.CURRENT_PHASE": "UNACKED"}, "no incident number"),
    ],
)
def test_a_body_that_is_no_incident_event_says_why(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(NotAnIncident, match=reason) as caught:
        parse(body)
    assert "\n" not in str(caught.value)


def test_the_number_comes_from_any_of_three_keys_and_numbers_as_numbers() -> None:
    assert parse({"INCIDENT.INCIDENT_NAME": "#7", "INCIDENT.CURRENT_PHASE": "ACKED"}).incident_number == "7"
    assert parse({"INCIDENT.INCIDENT_ID": 8, "STATE.CURRENT_ALERT_PHASE": "acknowledged"}).incident_number == "8"
    assert parse({"STATE.INCIDENT_NAME": "9", "INCIDENT.CURRENT_PHASE": "UNACKED"}).routing_key is None


def test_a_nested_body_reads_as_the_flat_one_and_keys_are_canonical() -> None:
    nested = {"STATE": {"INCIDENT_NAME": "14", "USERS_PAGED": ["heidi"]}, "INCIDENT": {"CURRENT_PHASE": "UNACKED"}}
    assert flatten(nested) == {
        "STATE.INCIDENT_NAME": "14",
        "STATE.USERS_PAGED.0": "heidi",
        "INCIDENT.CURRENT_PHASE": "UNACKED",
    }
    assert parse(nested).paged_users == ["heidi"]
    assert event_key(dict(reversed(list(TRIGGERED.items())))) == event_key(TRIGGERED)
    assert event_key(TRIGGERED | {"STATE.ACK_MSG": "x"}) != event_key(TRIGGERED)


values = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
keys = st.sampled_from([*TRIGGERED, "STATE.USERS_PAGED.x", "INCIDENT.TAGS.3", "INCIDENT.POLICIES_PAGED.9.TEAM.SLUG"])


@given(st.dictionaries(keys | st.text(max_size=30), values, max_size=40))
def test_any_flat_body_is_an_incident_or_one_reason(body: dict[str, Any]) -> None:
    try:
        incident = parse(body)
    except NotAnIncident as exc:
        assert "\n" not in str(exc)
    else:
        assert incident.incident_number.isdigit()


def test_the_simulators_webhook_says_what_its_api_lists() -> None:
    state = SimState()
    number = state.trigger("Replication lag on db02", "db")
    state.act("ack", "alice", [number], "looking")
    from_api = Incident.model_validate(state.incident(number))
    body = state.webhook(number)
    assert body is not None
    from_hook = parse(body)
    for field in ("incident_number", "current_phase", "routing_key", "paged_users", "entity_id", "title"):
        assert getattr(from_hook, field) == getattr(from_api, field), field
    assert from_hook.start_time and from_hook.start_time.replace(microsecond=0) == from_api.start_time  # API: whole s
    assert from_hook.paged_policies == from_api.paged_policies
    acked = from_hook.last_transition(Phase.ACKED)
    assert acked is not None and acked.by == "alice"
