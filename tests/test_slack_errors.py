"""Posts Slack keeps refusing (channel gone or archived, vobot not in it, token revoked): held 30 minutes and
reported once — in the log, `/vo status` and `/readyz` — and never a reason for the bot to stop."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from bot.core.refusals import Refusals
from bot.slack.errors import explain
from bot.slack.slack_errors import ChannelArchived, NotInChannel, TokenRevoked, post_message
from bot.slack.status import status_text
from bot.wiring import build_web
from tests.harness import CHANNEL, USERS, Bot, running_bot
from tests.procs import BotProcess, bot_env
from tests.test_crash_and_replicas import fakes
from tests.test_digests import MORNING

SLOT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 09:00 in Berlin, a morning slot


class Clock:
    def __init__(self) -> None:
        self.at = SLOT

    def __call__(self) -> datetime:
        return self.at


def posts(bot: Bot) -> int:
    return len(bot.slack.calls("chat.postMessage"))


async def test_an_archived_channel_is_held_30_minutes_then_tried_again_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path, config={"digests": [MORNING]}) as bot:
        clock = Clock()
        digests = bot.vobot.core.digests
        digests.refusals = Refusals(clock)
        bot.slack.archive(CHANNEL)
        with caplog.at_level(logging.WARNING, logger="bot.core.digests"):
            assert await digests.run_slot("morning", SLOT) is False
            clock.at += timedelta(minutes=29, seconds=59)
            assert await digests.run_slot("morning", SLOT + timedelta(days=1)) is False
            assert posts(bot) == 1  # held: Slack was not asked
            status = status_text(await bot.vobot.core.status.report(), bot.vobot.settings.command)
            clock.at += timedelta(seconds=1)
            assert await digests.run_slot("morning", SLOT + timedelta(days=1)) is False
            assert posts(bot) == 2  # asked once more, after 30 minutes
        warned = [r.getMessage() for r in caplog.records if r.name == "bot.core.digests"]
        assert len(warned) == 2 and "digest morning not posted to C0OPS" in warned[0] and "archived" in warned[0]
        assert f":red_circle: Digests to <#{CHANNEL}> held until 08:30 UTC: <#{CHANNEL}> is archived" in status


async def test_a_person_fixing_the_channel_ends_the_hold(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"digests": [MORNING]}) as bot:
        digests = bot.vobot.core.digests
        bot.slack.fail_next("chat.postMessage", status=200, retry_after=None, error="not_in_channel")
        assert await digests.run_slot("morning", SLOT) is False
        assert digests.refusals.held(CHANNEL) is not None
        # `/vo digest now` after `/invite @vobot`: asked whatever the hold, and the scheduled posts resume
        digest = await bot.vobot.store.digests.get("morning")
        assert digest is not None and await digests.send(digest)
        assert digests.refusals.held(CHANNEL) is None
        assert await digests.run_slot("morning", SLOT + timedelta(days=1)) is True


async def test_a_revoked_token_holds_every_digest_and_readyz_says_so(tmp_path: Path) -> None:
    other = {**MORNING, "name": "other", "channel": "C0DB"}
    async with running_bot(tmp_path, config={"digests": [MORNING, other]}) as bot:
        digests = bot.vobot.core.digests
        bot.slack.fail_next("chat.postMessage", status=200, retry_after=None, error="token_revoked")
        assert await digests.run_slot("morning", SLOT) is False
        assert await digests.run_slot("other", SLOT) is False
        assert posts(bot) == 1
        status = status_text(await bot.vobot.core.status.report(), bot.vobot.settings.command)
        assert ":red_circle: Every digest held until" in status and "reinstall the app" in status
        bot.slack.fail_next("auth.test", status=200, retry_after=None, error="invalid_auth")
        transport = httpx.ASGITransport(app=build_web(bot.vobot, None))
        async with httpx.AsyncClient(transport=transport, base_url="http://vobot") as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["slack"].startswith("token revoked or invalid (invalid_auth)")
        assert bot.slack.bot_token not in ready.text


async def test_each_family_explains_itself_to_the_user(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.slack.archive(CHANNEL)
        with pytest.raises(ChannelArchived) as archived:
            await post_message(bot.vobot.slack, CHANNEL, text="hello")
        bot.slack.fail_next("chat.postMessage", status=200, retry_after=None, error="not_in_channel")
        with pytest.raises(NotInChannel) as outside:
            await post_message(bot.vobot.slack, "C0DB", text="hello")
        bot.slack.fail_next("chat.postMessage", status=200, retry_after=None, error="account_inactive")
        with pytest.raises(TokenRevoked) as revoked:
            await post_message(bot.vobot.slack, "C0DB", text="hello")
        assert "unarchive it, or point the digest at another channel" in explain(archived.value, "/vo")
        assert "invite it with `/invite @vobot`" in explain(outside.value, "/vo")
        assert "invite it with `/invite @vobot`" in explain(outside.value.__cause__, "/vo")  # type: ignore[arg-type]
        assert "a Slack admin must reinstall the app" in explain(revoked.value, "/vo")


def with_digest(config: Path, digest: dict[str, str]) -> None:
    config.write_text(yaml.safe_dump({"users": USERS, "email_matching": False, "digests": [digest]}))


@pytest.mark.slow  # a `vobot run` process
async def test_vobot_run_starts_and_stays_up_with_a_digest_on_an_archived_channel(tmp_path: Path) -> None:
    with fakes("10/1s") as f:
        env = bot_env(f.slack, f.slack_url, f.vo_url, tmp_path)
        slot = datetime.now(UTC) - timedelta(minutes=5)  # missed while down, inside the catch-up grace
        digest = {"name": "gone", "channel": CHANNEL, "schedule": f"{slot.minute} {slot.hour} * * *", "timezone": "UTC"}
        with_digest(Path(env["VOBOT_CONFIG"]), digest)
        f.slack.archive(CHANNEL)
        bot = await BotProcess(env, tmp_path / "bot.log").start()
        try:
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"{bot.url}/healthz")).status_code == 200
            assert bot.process is not None and bot.process.poll() is None
            log = (tmp_path / "bot.log").read_text()
            assert log.count("digest gone not posted to C0OPS") == 1, log
            assert f.slack.bot_token not in log
        finally:
            bot.stop()
