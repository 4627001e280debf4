"""Seeing the live feed's sources: `vobot check`'s webhook line, `/vo status`'s feed line, the two settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.check import check_webhooks
from bot.config import ConfigError, Settings, load_settings
from bot.core.status import FeedState, StatusReport
from bot.slack.status import status_text

TOKEN = "wh-7c9e3b1a5d2f"


def test_check_says_how_to_set_webhooks_up_with_the_token_masked() -> None:
    line = check_webhooks(Settings(VOBOT_WEBHOOK_TOKEN=TOKEN)).line()
    assert line.startswith("ok    Webhooks: on (polling every 30 s, slower while webhooks arrive)")
    for step in (
        "Settings → Alert Behavior → Outgoing Webhooks",
        "Any-Incident",
        "POST",
        "/victorops/webhook?token=wh…",
    ):
        assert step in line
    assert TOKEN not in line and TOKEN[2:] not in line


def test_check_without_a_token_says_webhooks_are_off_and_how_to_turn_them_on() -> None:
    line = check_webhooks(Settings(VOBOT_POLL_INTERVAL="0")).line()
    assert line.startswith("ok    Webhooks: off (polling off).") and "set VOBOT_WEBHOOK_TOKEN" in line


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
