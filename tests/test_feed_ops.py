"""Seeing the live feed's sources: `vobot check`'s webhook line, `/vo status`'s feed line, the two settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.check import check_webhooks
from bot.config import AppConfig, ConfigError, Settings, load_settings
from bot.core.status import FeedState, StatusReport
from bot.sim.slack import SlackWorkspace
from bot.sim.victorops import SimState
from bot.slack.status import status_text
from tests.test_check import fakes, run_check

__all__ = ["fakes"]  # the fixture, shared with test_check

TOKEN = "wh-7c9e3b1a5d2f"


def test_check_says_how_to_set_webhooks_up_with_the_token_masked() -> None:
    [check] = check_webhooks(Settings(VOBOT_WEBHOOK_TOKEN=TOKEN), AppConfig())
    line = check.line()
    assert line.startswith("ok    Webhooks: on (polling every 30 s, slower while webhooks arrive)")
    for step in (
        "Settings → Alert Behavior → Outgoing Webhooks",
        "Any-Incident",
        "POST",
        "/victorops/webhook?token=wh…",
    ):
        assert step in line
    assert TOKEN not in line and TOKEN[2:] not in line
    assert check_webhooks(Settings(), AppConfig()) == []


@pytest.mark.parametrize("token", [None, TOKEN])
def test_vobot_check_says_whether_webhooks_are_on_and_never_prints_the_token(
    tmp_path: Path, fakes: tuple[SimState, SlackWorkspace, str, str], token: str | None
) -> None:
    done = run_check(tmp_path, fakes, **({"VOBOT_WEBHOOK_TOKEN": token} if token else {}))
    assert done.returncode == 0, done.stdout + done.stderr
    if token:
        assert "ok    Webhooks: on (polling every 30 s" in done.stdout
        assert token not in done.stdout + done.stderr
    else:
        assert "webhooks off, polling every 30 s (VOBOT_WEBHOOK_TOKEN turns them on" in done.stdout
        assert "Webhooks:" not in done.stdout


def test_the_poll_interval_is_seconds_from_zero() -> None:
    assert Settings().poll_interval == 30.0 and Settings().webhook_token is None
    assert load_settings(VOBOT_POLL_INTERVAL="2.5").poll_interval == 2.5
    with pytest.raises(ConfigError, match="VOBOT_POLL_INTERVAL"):
        load_settings(VOBOT_POLL_INTERVAL="-1")
    assert TOKEN not in repr(Settings(VOBOT_WEBHOOK_TOKEN=TOKEN))


def report(feed: FeedState) -> str:
    base = StatusReport(None, [], 0, [], [], [], [], feed=feed)
    return status_text(base, "/oncall")


def test_status_shows_the_feeds_sources_and_lag() -> None:
    at = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
    line = report(FeedState(True, at, 30.0, at, 2, 4.2)).splitlines()[-1]
    assert line == (
        "Live feed: webhooks last received 09:30:05 UTC; polling every 30 s, last 09:30:05 UTC, 2 failed; "
        "newest news 4 s old."
    )
    off = report(FeedState(False, None, 0.0, None, 0, None)).splitlines()[-1]
    assert off == "Live feed: webhooks off (VOBOT_WEBHOOK_TOKEN is not set); polling off; no news yet."
