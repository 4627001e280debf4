"""`vobot check` as a process against the fakes: every check passes, and each failure is named with a fix."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
import yaml

from bot.sim.server import ServerThread
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.stack import env_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops.limits import RateSpec

DIGEST = {"name": "morning", "channel": "C0OPS", "schedule": "0 9 * * 1-5", "timezone": "Europe/Berlin"}


@contextmanager
def running(config: SimConfig) -> Iterator[tuple[SimState, SlackWorkspace, str, str]]:
    state = SimState(config)
    slack = SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        yield state, slack, vo.url, slack_server.url


@pytest.fixture
def fakes() -> Iterator[tuple[SimState, SlackWorkspace, str, str]]:
    with running(SimConfig(read_only_key="ro-key-4242")) as found:
        yield found


def run_check(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str], *digests: dict[str, str], **env: str):  # type: ignore[no-untyped-def]
    return run_vobot(tmp_path, fakes, "check", *digests, **env)


Fakes = tuple[SimState, SlackWorkspace, str, str]


def run_vobot(tmp_path: Path, fakes: Fakes, command: str, *digests: dict[str, str], **env: str):  # type: ignore[no-untyped-def]
    _, slack, vo_url, slack_url = fakes
    config = tmp_path / "vobot.yaml"
    config.write_text(yaml.safe_dump({"digests": list(digests)}))
    budgets = {"VICTOROPS_RATE_LIMIT": "6/minute", "VICTOROPS_REPORTING_RATE_LIMIT": "1/minute",
               "VICTOROPS_LOOKUP_RATE_LIMIT": "15/minute"}  # fmt: skip
    path = os.environ.get("PATH", "/usr/bin:/bin")
    environment = env_for(slack, slack_url, vo_url, tmp_path, PATH=path, VOBOT_CONFIG=str(config), **budgets, **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", command], env=environment, capture_output=True, text=True, timeout=60
    )


def test_everything_reachable(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    url = f"sqlite:///{tmp_path}/vobot.db"
    migrate = f"import asyncio; from bot.store.db import Database; asyncio.run(Database({url!r}).migrate())"
    subprocess.run([sys.executable, "-c", migrate], check=True, timeout=60)  # a database that is up to date
    done = run_check(tmp_path, fakes, DIGEST)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0].split(None, 1)[1] for line in lines] == [
        "Configuration", "Database", "Slack", "Slack scopes", "Digest morning", "VictorOps", "VictorOps writes",
    ]  # fmt: skip
    assert all(line.startswith("ok") for line in lines)
    assert "authenticated as @vobot" in done.stdout and "budgets: incidents 6/minute" in done.stdout


def test_each_failure_says_what_to_do(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    fakes[1].scopes.remove("users:read.email")
    private = {**DIGEST, "name": "private", "channel": "C0PRIV"}
    done = run_check(tmp_path, fakes, private, VICTOROPS_API_KEY="ro-key-4242")
    assert done.returncode == 1
    out = done.stdout
    assert "warn  Database:" in out and "is new: `vobot migrate` (or `vobot run`) creates its tables" in out
    assert "FAIL  Slack scopes: missing users:read.email" in out
    assert "FAIL  Digest private: the bot is not in #incident-war-room: `/invite @vobot` there" in out
    assert "FAIL  VictorOps writes: the key is read-only" in out
    assert "ro-key-4242" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_wrong_credentials_and_bad_config(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    done = run_check(tmp_path, fakes, VICTOROPS_API_KEY="sekrit-991", SLACK_BOT_TOKEN="xoxb-sekrit-992")
    assert done.returncode == 1
    assert "FAIL  Slack: auth.test failed (invalid_auth)" in done.stdout
    assert "FAIL  VictorOps: VictorOps refused the API credentials" in done.stdout
    assert "sekrit" not in done.stdout + done.stderr  # the secrets are never echoed
    bad = run_check(tmp_path, fakes, {**DIGEST, "timezone": "Mars/Base"})
    assert bad.returncode == 2 and "digests[0].timezone: unknown time zone" in bad.stderr


def test_a_fresh_install_passes_with_one_warning_and_no_log_lines(
    tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]
) -> None:
    """The README says check, then run: a new database is a warning, and the report is all that is printed."""
    done = run_check(tmp_path, fakes, VOBOT_LOG_LEVEL="INFO")
    assert done.returncode == 0, done.stdout + done.stderr
    marks = [line.split()[0] for line in done.stdout.splitlines()]
    assert marks.count("warn") == 1 and "FAIL" not in marks
    assert done.stderr == ""  # the refused write probe and library INFO lines are not news in a report


def test_migrate_then_check_is_all_ok(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    first = run_vobot(tmp_path, fakes, "migrate")
    assert first.returncode == 0 and "migrated from an empty database to" in first.stdout, first.stderr
    again = run_vobot(tmp_path, fakes, "migrate")
    assert again.returncode == 0 and "already at migration" in again.stdout
    done = run_check(tmp_path, fakes)
    assert done.returncode == 0 and all(line.startswith("ok") for line in done.stdout.splitlines()), done.stdout


def test_a_database_from_a_newer_vobot_fails(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    assert run_vobot(tmp_path, fakes, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "vobot.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    done = run_check(tmp_path, fakes)
    assert done.returncode == 1 and "FAIL  Database:" in done.stdout and "newer vobot" in done.stdout


@pytest.mark.parametrize("command", ["run", "migrate", "check"])
def test_an_unreachable_database_is_one_line(
    tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str], command: str
) -> None:
    url = "postgresql://nobody:pw-sekrit@127.0.0.1:9/vobot"  # port 9 (discard): nothing listens
    done = run_vobot(tmp_path, fakes, command, VOBOT_DATABASE_URL=url)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    said = done.stderr if command != "check" else done.stdout
    assert "VOBOT_DATABASE_URL" in said and "pw-sekrit" not in done.stdout + done.stderr
    if command != "check":
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == f"vobot {version('vobot')}"


def test_a_rate_limit_403_is_not_called_a_read_only_key(tmp_path: Path) -> None:
    legacy = SimConfig(incidents=RateSpec.parse("1/minute"), rate_limit_status=403, rate_limit_body="Forbidden")
    with running(legacy) as found:
        spent = httpx.get(
            f"{found[2]}/api-public/v1/incidents", headers={"X-VO-Api-Id": "demo", "X-VO-Api-Key": "demo"}
        )
        assert spent.status_code == 200  # another tool on the same key took the minute's only incidents call
        done = run_check(tmp_path, found)
    assert "FAIL  VictorOps writes: VictorOps refused a test write and then a read" in done.stdout
    assert "read-only" not in done.stdout and "run `vobot check` again in a minute" in done.stdout


def test_a_wrong_api_url_is_named_as_such(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    done = run_check(tmp_path, fakes, VICTOROPS_API_URL=f"{fakes[2]}/v1")
    assert f"FAIL  VictorOps: There is no VictorOps API at {fakes[2]}/v1/api-public/v1/user" in done.stdout
    assert "check VICTOROPS_API_URL" in done.stdout and "VICTOROPS_API_KEY" not in done.stdout


def test_each_feed_channel_is_checked(tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str]) -> None:
    _, slack, vo_url, slack_url = fakes
    config = tmp_path / "vobot.yaml"
    config.write_text(yaml.safe_dump({"feeds": [{"channel": DIGEST["channel"]}, {"channel": "C0PRIV"}]}))
    environment = env_for(slack, slack_url, vo_url, tmp_path, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    environment["VOBOT_CONFIG"] = str(config)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert f"ok    Feed {DIGEST['channel']}: can post in #" in done.stdout, done.stdout
    assert "FAIL  Feed C0PRIV: the bot is not in #incident-war-room: `/invite @vobot` there" in done.stdout
