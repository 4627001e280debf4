"""Digests through signed HTTP and the Slack fake: commands, posting, buttons, claims, catch-up, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.core.digests import Digests
from bot.core.schedule import slot_key
from bot.sim.server import ServerThread
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.slack.blocks import ActionId
from bot.store.digests import SlotClaims
from tests.dbfixtures import fresh_postgres_schema
from tests.harness import CHANNEL, OFF, USERS, Bot, buttons, running_bot, texts

ADMIN = "U0ADMIN1"
MORNING = {
    "name": "morning",
    "channel": CHANNEL,
    "schedule": "0 9 * * 1-5",
    "timezone": "Europe/Berlin",
    "filter": {"routing_keys": ["database"]},
}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path, config={"digests": [MORNING]}) as running:
        yield running


async def say(bot: Bot, user: str, text: str, channel: str = CHANNEL) -> str:
    before = len(bot.slack.ephemerals(user))
    result = await bot.driver.command(user, channel, text)
    assert result.status == 200
    return texts(await bot.reply(user, before))


def database_open(bot: Bot) -> list[str]:
    return [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if i["currentPhase"] != "RESOLVED" and i["routingKey"] == "database"
    ]


async def test_digest_now_posts_the_channels_digest_with_working_buttons(bot: Bot) -> None:
    assert "Posted the digest “morning” here" in await say(bot, "U0ALICE", "digest now")
    message = bot.slack.messages(CHANNEL)[-1]
    cards = [b["block_id"] for b in message.blocks if b.get("block_id", "").startswith("inc-")]
    shown = [block_id.removeprefix("inc-") for block_id in cards if block_id.count("-") == 1]
    assert sorted(shown) == sorted(database_open(bot)) and "Digest “morning”" in texts(message)
    triggered = next(n for n in shown if bot.incident(n)["currentPhase"] == "UNACKED")
    await bot.driver.click("U0BOB", message, ActionId.ACK, block_id=f"inc-{triggered}-actions")
    await bot.until(lambda: bot.incident(triggered)["currentPhase"] == "ACKED")
    updated = await bot.until(lambda: (m := bot.slack.messages(CHANNEL)[-1]) and m.history and m)
    assert "Acknowledged by <@U0BOB>" in texts(updated) and buttons(updated, triggered)[0] == ActionId.RESOLVE
    assert "Digest “morning”" in texts(updated)  # the rest of the digest stays as it was


async def test_digest_now_without_a_definition_posts_every_open_incident(bot: Bot) -> None:
    await say(bot, "U0ALICE", "digest now", channel="C0DB")
    message = bot.slack.messages("C0DB")[-1]
    assert f"{len(bot.open_numbers('UNACKED'))} triggered" in texts(message)


async def test_admins_add_list_and_remove_digests(bot: Bot) -> None:
    added = await say(bot, ADMIN, 'digest add standup "30 9 * * 1-5" tz:America/New_York route:payments empty:skip')
    assert "Added a digest: *standup* → <#C0OPS>" in added and "America/New_York" in added
    listed = await say(bot, "U0ALICE", "digest list")
    assert "*morning*" in listed and "configuration file" in listed and "added by <@U0ADMIN1>" in listed
    assert "next " in listed and ("CET" in listed or "CEST" in listed) and ("EST" in listed or "EDT" in listed)
    assert "Removed the digest “standup”" in await say(bot, ADMIN, "digest remove standup")
    assert [d.name for d in await bot.vobot.store.digests.all()] == ["morning"]


async def test_digest_changes_are_refused_with_reasons(bot: Bot) -> None:
    assert "Only vobot admins can add or remove digests: <@U0ADMIN1>." in await say(
        bot, "U0ALICE", "digest add x 0 9 * * *"
    )
    assert "defined in vobot's configuration file" in await say(bot, ADMIN, "digest remove morning")
    assert "defined in vobot's configuration file" in await say(bot, ADMIN, "digest add morning 0 8 * * *")
    assert "is not a five-field cron expression" in await say(bot, ADMIN, "digest add x 61 9 * * *")
    assert "unknown time zone" in await say(bot, ADMIN, "digest add x 0 9 * * * tz:Mars/Base")
    assert "There is no digest “nope”" in await say(bot, ADMIN, "digest remove nope")
    assert [d.name for d in await bot.vobot.store.digests.all()] == ["morning"]


async def test_a_slot_is_posted_once_and_empty_digests_follow_when_empty(tmp_path: Path) -> None:
    quiet = {**MORNING, "name": "quiet", "filter": {"routing_keys": ["nothing-here"]}, "when_empty": "skip"}
    clear = {**MORNING, "name": "clear", "filter": {"routing_keys": ["nothing-here"]}}
    async with running_bot(tmp_path, config={"digests": [MORNING, quiet, clear]}) as bot:
        slot = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
        digests = bot.vobot.core.digests
        assert await digests.run_slot("morning", slot) is True
        assert await digests.run_slot("morning", slot) is False  # claimed already: another replica, or a repeat
        assert await digests.run_slot("quiet", slot) is True
        assert await digests.run_slot("clear", slot) is True
        posted = [texts(m) for m in bot.slack.messages(CHANNEL)]
        assert len(posted) == 2 and "Digest “morning”" in posted[0]
        assert "No incidents on route `nothing-here` (known routes: `database`," in posted[1]  # not "All clear"


async def test_a_missed_slot_is_posted_late_once_within_grace(bot: Bot) -> None:
    slot = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    late = Digests(
        bot.vobot.store.digests,
        SlotClaims(bot.vobot.store.db, "late-replica"),
        bot.vobot.lookups.incidents,
        poster=bot.vobot.core.digests.poster,
        now=lambda: slot + timedelta(minutes=10),
    )
    await late.catch_up()
    await late.catch_up()
    assert len(bot.slack.messages(CHANNEL)) == 1
    too_late = Digests(
        bot.vobot.store.digests,
        SlotClaims(bot.vobot.store.db, "later"),
        bot.vobot.lookups.incidents,
        poster=bot.vobot.core.digests.poster,
        now=lambda: slot + timedelta(days=1, hours=5),  # the next day's slot missed by 5 h: past grace
    )
    await too_late.catch_up()
    assert len(bot.slack.messages(CHANNEL)) == 1
    assert await SlotClaims(bot.vobot.store.db, "x").last("morning") == slot_key(slot, "Europe/Berlin")


async def test_the_scheduler_schedules_every_digest_in_its_zone(bot: Bot) -> None:
    digests = bot.vobot.core.digests
    await digests.start()
    try:
        job = digests._scheduler.get_job("digest:morning")  # type: ignore[union-attr]
        assert job is not None
        local = job.next_run_time.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5  # 1-5 is Monday to Friday
        await say(bot, ADMIN, "digest add evening 0 18 * * * tz:Asia/Kolkata")
        assert digests._scheduler.get_job("digest:evening") is not None  # type: ignore[union-attr]
    finally:
        await digests.stop()


async def test_slack_rate_limit_on_posting_is_waited_out(bot: Bot) -> None:
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    slot = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert await bot.vobot.core.digests.run_slot("morning", slot)
    assert len(bot.slack.messages(CHANNEL)) == 1
    assert [c.error for c in bot.slack.calls("chat.postMessage")] == ["ratelimited", None]


async def test_config_digests_are_kept_in_step_with_the_file(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"digests": [MORNING]}) as bot:
        await say(bot, ADMIN, "digest add extra 0 12 * * *")
    evening = {**MORNING, "name": "evening", "schedule": "0 18 * * *"}
    async with running_bot(tmp_path, config={"digests": [evening]}) as bot:
        assert sorted(d.name for d in await bot.vobot.store.digests.all()) == ["evening", "extra"]


async def test_two_replicas_on_postgres_post_a_slot_once(tmp_path: Path) -> None:
    with fresh_postgres_schema() as url:
        async with (
            running_bot(tmp_path, config={"digests": [MORNING]}, VOBOT_DATABASE_URL=url) as first,
            running_bot(
                tmp_path, state=first.vo, slack=first.slack, config={"digests": [MORNING]}, VOBOT_DATABASE_URL=url
            ) as second,
        ):
            slots = [datetime(2026, 11, 2, 8, 0, tzinfo=UTC) + timedelta(days=d) for d in range(5)]
            won = await asyncio.gather(
                *(replica.vobot.core.digests.run_slot("morning", s) for s in slots for replica in (first, second))
            )
            assert sum(won) == 5 and len(first.slack.messages(CHANNEL)) == 5


def test_vobot_digest_send_posts_from_the_command_line(tmp_path: Path) -> None:
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    slack = SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        config = tmp_path / "vobot.yaml"
        config.write_text(yaml.safe_dump({"users": USERS, "digests": [MORNING]}))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": f"{slack_server.url}/api/",
            "VICTOROPS_API_URL": vo.url,
            "VICTOROPS_API_ID": "demo",
            "VICTOROPS_API_KEY": "demo",
            "VOBOT_DATABASE_URL": f"sqlite:///{tmp_path}/vobot.db",
            "VOBOT_CONFIG": str(config),
        }
        run = [sys.executable, "-m", "bot", "digest", "send"]
        done = subprocess.run([*run, "morning"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Posted digest 'morning' to C0OPS." in done.stdout and len(slack.messages(CHANNEL)) == 1
        missing = subprocess.run([*run, "nightly"], env=env, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 1 and "No digest named 'nightly' (known: morning)." in missing.stderr
