"""Configuration: environment and YAML, one clear line per problem, exit status 2, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import AppConfig, ConfigError, DigestConfig, load_app_config, load_settings
from bot.core.digest import Digest
from bot.victorops.limits import RateSpec
from bot.victorops.models import Phase

ENV_NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "VICTOROPS_API_ID",
    "VICTOROPS_API_KEY",
    "VICTOROPS_RATE_LIMIT",
    "VOBOT_ADMINS",
    "PORT",
    "VOBOT_LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.victorops_rate_limit == RateSpec(6, 60)
    assert settings.victorops_reporting_rate_limit == RateSpec(1, 60)
    assert settings.victorops_lookup_rate_limit == RateSpec(15, 60)
    assert settings.database_url == "sqlite:///vobot.db" and settings.port == 3000 and settings.command == "/vo"
    assert settings.slack_api_url == "https://slack.com/api/" and not settings.socket_mode


def test_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VICTOROPS_RATE_LIMIT", "6/10s")
    monkeypatch.setenv("VOBOT_ADMINS", "U0AAA, U0BBB,")
    monkeypatch.setenv("VOBOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    settings = load_settings()
    assert settings.victorops_rate_limit == RateSpec(6, 10)
    assert settings.admins == ["U0AAA", "U0BBB"] and settings.log_level == "DEBUG" and settings.socket_mode


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VICTOROPS_API_ID=from-dotenv\nPORT=4000\n")
    settings = load_settings()
    assert settings.victorops_api_id == "from-dotenv" and settings.port == 4000


def test_every_bad_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VICTOROPS_RATE_LIMIT", "6/fortnight")
    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("VOBOT_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("VICTOROPS_RATE_LIMIT: expected <count>/<period>")
    assert any(p.startswith("PORT: ") for p in problems) and any(p.startswith("VOBOT_LOG_LEVEL: ") for p in problems)


def test_bot_requirements_name_variables_but_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "oops-secret-value")
    assert load_settings().problems_for_bot() == [
        "SLACK_BOT_TOKEN: expected a token starting with 'xoxb-'",
        "VICTOROPS_API_ID: required but not set",
        "VICTOROPS_API_KEY: required but not set",
        "SLACK_SIGNING_SECRET: required but not set",
    ]
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert "SLACK_SIGNING_SECRET: required but not set" not in load_settings().problems_for_bot()


def test_secrets_are_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VICTOROPS_API_KEY", "super-secret-key")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-super-secret")
    text = repr(load_settings()) + str(load_settings())
    assert "super-secret" not in text


GOOD_YAML = """
admins: [U0ADMIN1]
users:
  U0ALICE: alice
email_matching: false
allow_unverified_self_link: true
default_targets: [policy:pol-AbCdEfGhIjKlMnOp, user:alice]
digests:
  - name: morning
    channel: C0OPS
    schedule: "0 9 * * 1-5"
    timezone: Europe/Berlin
    when_empty: skip
    filter:
      routing_keys: [db]
      teams: [team-AbCdEfGhIjKlMnOp]
      phases: [UNACKED, acknowledged]
"""


def test_good_yaml(tmp_path: Path) -> None:
    path = tmp_path / "vobot.yaml"
    path.write_text(GOOD_YAML)
    config = load_app_config(path)
    assert config.users == {"U0ALICE": "alice"} and config.admins == ["U0ADMIN1"]
    assert not config.email_matching and config.allow_unverified_self_link
    digest = config.digests[0]
    assert (digest.timezone, digest.when_empty, digest.filter.phases) == (
        "Europe/Berlin",
        "skip",
        [Phase.UNACKED, Phase.ACKED],
    )


def test_a_yaml_digest_becomes_the_cores_digest() -> None:
    config = DigestConfig.model_validate(
        {
            "name": "morning",
            "channel": "C0OPS",
            "schedule": "0 9 * * 1-5",
            "timezone": "Europe/Berlin",
            "when_empty": "skip",
            "filter": {"routing_keys": ["db"], "teams": ["team-a"], "phases": ["triggered", "ACKED"]},
        }
    )
    assert config.digest() == Digest(
        name="morning",
        channel="C0OPS",
        schedule="0 9 * * 1-5",
        timezone="Europe/Berlin",
        when_empty="skip",
        routes=("db",),
        teams=("team-a",),
        phases=("UNACKED", "ACKED"),
        source="config",
        created_by=None,
    )
    defaults = DigestConfig(name="m", channel="C0OPS", schedule="0 9 * * *").digest()
    assert (defaults.timezone, defaults.when_empty, defaults.routes, defaults.teams, defaults.phases) == (
        "UTC",
        "post",
        (),
        (),
        (),
    )


def test_no_file_and_empty_file_mean_defaults(tmp_path: Path) -> None:
    assert load_app_config(None) == AppConfig()
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_app_config(empty) == AppConfig() and AppConfig().email_matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admins: [alice]", "admins[0]: 'alice' is not a Slack user ID"),
        ("users: {bob: bob}", "users.bob (key): 'bob' is not a Slack user ID"),
        ("email_matchin: true", "email_matchin: unknown key"),
        ("email_matching: maybe", "email_matching: Input should be a valid boolean"),
        ("default_targets: [team:x]", "default_targets: 'team:x' is not a target"),
        (
            "digests: [{name: a, channel: C1X, schedule: '0 9 * *'}]",
            "digests[0].schedule: '0 9 * *' is not a five-field cron expression: Wrong number of fields",
        ),
        ("digests: [{name: a, channel: C1X, schedule: '61 9 * * *'}]", "is not a five-field cron expression"),
        ("digests: [{name: a, channel: C1X, schedule: '0 9 * * *', timezone: Mars/Base}]", "unknown time zone"),
        ("digests: [{name: a, channel: general, schedule: '0 9 * * *'}]", "'general' is not a Slack channel ID"),
        ("digests: [{name: a, channel: C1X, schedule: '0 9 * * *', when_empty: never}]", "when_empty"),
        ("digests: [{name: a, channel: C1X, schedule: '0 9 * * *', filter: {phases: [RESOLVED]}}]", "open incidents"),
        ("digests: [{name: a, channel: C1X, schedule: '0 9 * * *', colour: red}]", "digests[0].colour: unknown key"),
        (
            "digests: [{name: a, channel: C1X, schedule: '0 9 * * *'}, {name: a, channel: C1X, schedule: '0 9 * * *'}]",
            "digest names must be unique; repeated: a",
        ),
        (
            "users: {U0AAA: heidi, U0BBB: alice, U0CCC: Heidi}",
            "users: VictorOps user heidi is given to U0AAA and U0CCC; map each VictorOps user to one Slack user",
        ),
        ("- just\n- a list", "expected a mapping of keys at the top level"),
        ("admins: [U1\n  bad: yaml", "not valid YAML at line"),
    ],
)
def test_bad_yaml_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_app_config(path)
    assert all(p.startswith(f"{path}: ") for p in caught.value.problems)
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"VOBOT_CONFIG: cannot read .*nope.yaml"):
        load_app_config(tmp_path / "nope.yaml")


def test_cli_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "VICTOROPS_RATE_LIMIT": "lots", "VICTOROPS_LOOKUP_RATE_LIMIT": "1/eon"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "victorops-sim"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["VICTOROPS_RATE_LIMIT", "VICTOROPS_LOOKUP_RATE_LIMIT"]
    assert "Traceback" not in done.stderr


def test_cli_refuses_a_victorops_user_given_to_two_slack_users(tmp_path: Path) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text("users:\n  U0AAA: heidi\n  U0BBB: HEIDI\n")
    env = {"PATH": "/usr/bin:/bin", "VOBOT_CONFIG": str(path), "VOBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "users", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (
        2,
        f"{path}: users: VictorOps user heidi is given to U0AAA and U0BBB; map each VictorOps user to one Slack user "
        "(case does not count)\n",
    )
