"""`oncall_groups` and VOBOT_ONCALL_INTERVAL: valid keys and values, one line naming the key and the file for a bad
one (exit 2); `vobot check` names the people on call for a group who are not linked to Slack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_app_config, load_settings
from bot.sim.stack import env_for
from bot.sim.victorops import SimConfig
from tests.test_check import Fakes, running


def check(tmp_path: Path, fakes: Fakes, keys: object, **env: str) -> subprocess.CompletedProcess[str]:
    """`vobot check` as a process, with this YAML file."""
    _, slack, vo_url, slack_url = fakes
    environment = env_for(slack, slack_url, vo_url, tmp_path, PATH=os.environ.get("PATH", "/usr/bin:/bin"), **env)
    environment["VOBOT_CONFIG"] = str(write(tmp_path, keys))
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"], env=environment, capture_output=True, text=True, timeout=60
    )


def write(tmp_path: Path, keys: object) -> Path:
    path = tmp_path / "vobot.yaml"
    path.write_text(yaml.safe_dump(keys))
    return path


def test_oncall_groups_are_team_slugs_to_user_group_ids(tmp_path: Path) -> None:
    config = load_app_config(write(tmp_path, {"oncall_groups": {"team-AbCdEfGhIjKlMnOp": "S0OPSONCALL"}}))
    assert config.oncall_groups == {"team-AbCdEfGhIjKlMnOp": "S0OPSONCALL"}
    assert load_settings().oncall_interval == 60.0
    assert load_settings(VOBOT_ONCALL_INTERVAL="0").oncall_interval == 0.0


@pytest.mark.parametrize(
    ("groups", "line"),
    [
        ({"Ops": "S0OPS"}, "oncall_groups.Ops (key): 'Ops' is not a VictorOps team slug (like team-AbCdEfGhIjKlMnOp"),
        ({"team-AbCd": "#ops-oncall"}, "oncall_groups.team-AbCd: '#ops-oncall' is not a Slack user group ID"),
        ({"team-AbCd": "U0ALICE"}, "oncall_groups.team-AbCd: 'U0ALICE' is not a Slack user group ID"),
        (  # the group would follow each team in turn, changing at every read
            {"team-AbCd": "S0OPS", "team-EfGh": "S0OPS"},
            "oncall_groups: user group S0OPS is given to team-AbCd and team-EfGh; give each team its own user group",
        ),
        ({"team-AbCd": "S0A", "team-abcd": "S0B"}, "oncall_groups: teams team-AbCd and team-abcd are one team"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_it_and_the_file(tmp_path: Path, groups: object, line: str) -> None:
    path = write(tmp_path, {"oncall_groups": groups})
    with pytest.raises(ConfigError) as raised:
        load_app_config(path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{path}: {line}")


def test_a_handoff_feed_without_teams_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"feeds": [{"channel": "C0OPS", "filter": {"routing_keys": ["db"]}, "handoff": True}]})
    with pytest.raises(ConfigError) as raised:
        load_app_config(path)
    [problem] = raised.value.problems
    assert problem.startswith(f"{path}: feeds[0]: handoff needs filter.teams: ")
    teams = write(tmp_path, {"feeds": [{"channel": "C0OPS", "filter": {"teams": ["Ops"]}, "handoff": True}]})
    assert load_app_config(teams).feeds[0].handoff


@pytest.mark.parametrize("seconds", ["1", "14.5"])
def test_an_oncall_interval_is_0_or_at_least_15_seconds(seconds: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(VOBOT_ONCALL_INTERVAL=seconds)
    [problem] = raised.value.problems
    assert problem.startswith(f"VOBOT_ONCALL_INTERVAL: {seconds} is too short: 0 (read who is on call only when")
    assert "at least 15 seconds" in problem
    assert load_settings(VOBOT_ONCALL_INTERVAL="15").oncall_interval == 15.0


def test_the_cli_exits_2_on_a_bad_group(tmp_path: Path) -> None:
    with running(SimConfig()) as fakes:
        done = check(tmp_path, fakes, {"oncall_groups": {"x": "S0OPS"}})
        shared = check(tmp_path, fakes, {"oncall_groups": {"team-AbCd": "S0OPS", "team-EfGh": "S0OPS"}})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "oncall_groups.x (key): 'x' is not a VictorOps team slug" in done.stdout + done.stderr
    assert shared.returncode == 2, shared.stdout + shared.stderr
    assert "oncall_groups: user group S0OPS is given to team-AbCd and team-EfGh" in shared.stdout + shared.stderr


def test_check_names_the_unlinked_people_on_call_for_a_group(tmp_path: Path) -> None:
    with running(SimConfig()) as fakes:
        teams = {t.name: t.slug for t in fakes[0].directory.teams}
        keys = {
            "oncall_groups": {teams["Ops"]: "S0OPSONCALL", teams["Database"]: "S0DBONCALL", "team-Gone": "S0GONE"},
            "users": {"U0ALICE": "alice"},
        }
        done = check(tmp_path, fakes, keys)
    out = done.stdout
    assert "warn  On-call group S0OPSONCALL: on call for Ops but not linked: `cchen` — link with" in out, out
    assert (
        "warn  On-call group S0DBONCALL: nobody on call for Database is linked to Slack, so it is left as it is; "
        "on call for Database but not linked: `dave`"
    ) in out
    assert "FAIL  On-call group S0GONE: VictorOps lists no team team-Gone: check the slug under oncall_groups" in out


def test_check_takes_a_listed_team_left_out_of_the_on_call_answer_as_nobody_on_call(tmp_path: Path) -> None:
    with running(SimConfig(oncall_omits_empty=True)) as fakes:
        state = fakes[0]
        teams = {t.name: t.slug for t in state.directory.teams}
        for policy in state.directory.policies:
            if policy.team.name == "Database":
                state.set_on_call(policy.slug, [])  # VictorOps then leaves Database out of oncall/current
        done = check(tmp_path, fakes, {"oncall_groups": {teams["Database"]: "S0DBONCALL"}})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warn  On-call group S0DBONCALL: nobody is on call for Database, so it is left as it is" in done.stdout, (
        done.stdout
    )


def test_check_on_scopes_webhooks_and_a_watch_that_cannot_learn_anything(tmp_path: Path) -> None:
    handoff = {"feeds": [{"channel": "C0OPS", "filter": {"teams": ["Ops"]}, "handoff": True}]}
    with running(SimConfig()) as fakes:
        fakes[1].scopes.remove("usergroups:write")
        without_groups = check(tmp_path, fakes, handoff, VOBOT_ONCALL_INTERVAL="0")
        teams = {t.name: t.slug for t in fakes[0].directory.teams}
        with_groups = check(tmp_path, fakes, {"oncall_groups": {teams["Ops"]: "S0OPS"}}, VOBOT_WEBHOOK_TOKEN="t" * 16)
    out = without_groups.stdout
    assert without_groups.returncode == 0, out + without_groups.stderr
    assert "warn  Slack scopes: missing usergroups:write, which only oncall_groups needs" in out, out
    assert "warn  On-call: VOBOT_ONCALL_INTERVAL is 0 and VOBOT_WEBHOOK_TOKEN is not set" in out, out
    out = with_groups.stdout
    assert with_groups.returncode == 1, out
    assert "FAIL  Slack scopes: missing usergroups:write: add them" in out, out
    assert "event Any-On-Call and the same URL with &kind=oncall" in out, out
    assert "On-call: " not in out  # the token is set
