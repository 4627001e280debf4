"""The fakes' on-call parts: the simulator's on-call that rotates by its own clock or is set by hand (and pages
new incidents), the Slack fake's user groups with Slack's refusals, and the on-call webhook rule (pure)."""

from __future__ import annotations

import httpx
import pytest

from bot.sim.server import ServerThread
from bot.sim.slack import SlackError, SlackWorkspace
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.slack.sentences import group_refusal
from bot.victorops.webhook import oncall_event


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def ops_on_call(state: SimState) -> dict[str, tuple[str, ...]]:
    names = {p.slug: p.name for p in state.directory.policies}
    return {names[slug]: users for slug, users in state.on_call_now().items() if names[slug].startswith("Ops")}


def test_on_call_rotates_through_the_team_by_the_simulators_clock() -> None:
    clock = Clock()
    state = SimState(SimConfig(clock=clock, rotate_every=3600))
    assert ops_on_call(state) == {"Ops Primary": ("alice",), "Ops Escalation": ("cchen",)}
    clock.now += 3599
    assert ops_on_call(state)["Ops Primary"] == ("alice",)
    clock.now += 1
    assert ops_on_call(state) == {"Ops Primary": ("bob.martinez",), "Ops Escalation": ("alice",)}
    clock.now += 2 * 3600  # two rotations at once: cchen, then alice again
    assert ops_on_call(state) == {"Ops Primary": ("alice",), "Ops Escalation": ("cchen",)}
    assert SimState(SimConfig(clock=clock, seed=1)).directory == SimState(SimConfig(clock=clock)).directory


def test_on_call_set_by_hand_is_what_oncall_current_says_and_who_new_incidents_page() -> None:
    state = SimState(SimConfig())
    ops = state.directory.teams[0]
    with ServerThread(build_app(state=state)) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/_sim/oncall", json={"policy": ops.slug, "users": ["judy"]}).status_code == 200
        unknown = client.post("/_sim/oncall", json={"policy": "pol-nope", "users": ["judy"]})
        assert unknown.status_code == 404
        assert client.post("/_sim/oncall", json={"policy": ops.slug, "users": "judy"}).status_code == 400
        answer = client.get("/api-public/v1/oncall/current", headers={"X-VO-Api-Id": "demo", "X-VO-Api-Key": "demo"})
    [team] = [t for t in answer.json()["teamsOnCall"] if t["team"]["slug"] == ops.slug]
    primary = next(p for p in team["oncallNow"] if p["escalationPolicy"]["slug"] == ops.slug)
    assert primary["users"] == [{"onCalluser": {"username": "judy"}}]
    number = state.trigger("paged by the new on-call")
    paged = state.incident(number)
    assert paged is not None and "judy" in paged["pagedUsers"]


def test_the_slack_fake_keeps_user_groups_and_refuses_as_slack_does() -> None:
    slack = SlackWorkspace()
    assert slack.update_usergroup("S0OPSONCALL", ["U0BOB", "U0BOB", "U0ALICE"]) == ("U0BOB", "U0ALICE")
    for group, users, error in (
        ("S0NOPE", ["U0BOB"], "no_such_subteam"),
        ("S0OPSONCALL", [], "no_users_provided"),
        ("S0OPSONCALL", ["U0NOBODY"], "invalid_users"),
    ):
        with pytest.raises(SlackError, match=error):
            slack.update_usergroup(group, users)
    assert slack.usergroup_users("S0OPSONCALL") == ("U0BOB", "U0ALICE")
    slack.scopes.remove("usergroups:write")
    with pytest.raises(SlackError, match="missing_scope"):
        slack.update_usergroup("S0OPSONCALL", ["U0BOB"])


@pytest.mark.parametrize(
    ("body", "kind", "oncall"),
    [
        ({"anything": 1}, "oncall", True),
        ({"anything": 1}, " OnCall ", True),
        ({"ONCALL.USER": "ivan"}, None, True),
        ({"state": {"on_call": "ivan"}}, None, True),
        ({"OFF-CALL": "heidi"}, None, True),
        ({"hello": "world"}, None, False),
        ({"hello": "world"}, "incident", False),
        ({"CALLS": 3, "ON": 1}, None, False),
        ({"onCallUser": "ivan"}, None, True),
        ({"STATE.ONCALL_USERS": "ivan"}, None, True),
        ({"action_callback": "x"}, None, False),  # words, not letters: no ON-CALL in these
        ({"function_call": "x"}, None, False),
        ({"data": {"callOn": 1, "BACKOFF_CALLS": 2}}, None, False),
        ({"INCIDENT.INCIDENT_ID": "7"}, None, False),
    ],
)
def test_an_on_call_event_is_named_by_the_url_or_its_keys(
    body: dict[str, object], kind: str | None, oncall: bool
) -> None:
    assert oncall_event(body, kind) is oncall


def test_a_slack_error_code_with_braces_is_quoted_not_formatted() -> None:
    assert group_refusal("odd_{code}", "S0OPS") == "Slack refused to update user group S0OPS (odd_{code})"
    assert group_refusal("missing_scope", "S0OPS").startswith("vobot lacks the usergroups:write scope")
