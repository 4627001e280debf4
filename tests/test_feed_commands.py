"""`/vo subscribe | unsubscribe | subscriptions` through signed HTTP into the real app, the Slack fake and the
VictorOps simulator: what admins and everyone else see, and each refusal's reason."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.feed_admin import Access
from bot.slack.channels import ChannelAccess
from tests.harness import CHANNEL, Bot, running_bot, texts

ADMIN = "U0ADMIN1"
FILE_FEED = {
    "channel": "C0DB",
    "filter": {"routing_keys": ["database"], "teams": ["Database"]},
    "remind_acked": "off",
    "handoff": True,
}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path, config={"feeds": [FILE_FEED]}) as running:
        yield running


async def say(bot: Bot, user: str, text: str, channel: str = CHANNEL, command: str = "/vo") -> str:
    before = len(bot.slack.ephemerals(user))
    result = await bot.driver.command(user, channel, text, command=command)
    assert result.status == 200
    return texts(await bot.reply(user, before))


async def test_an_admin_subscribes_everyone_lists_and_the_admin_unsubscribes(bot: Bot) -> None:
    team = bot.vo.directory.teams[0]
    policy = next(p for p in bot.vo.directory.policies if p.team == team)
    said = await say(bot, ADMIN, "subscribe route:database")
    assert (
        "Subscribed this channel to the live feed: a card for every new incident matching route:database, from now "
        "on; `/vo unsubscribe` stops it." in said
    )
    made = await bot.vobot.store.feeds.get(CHANNEL)
    assert made is not None and made.routes == ("database",) and made.created_by == ADMIN

    said = await say(bot, ADMIN, f"subscribe team:{team.slug} policy:{policy.slug}")
    assert f"Changed this channel's live feed: a card for every new incident matching team:{team.slug}" in said
    changed = await bot.vobot.store.feeds.get(CHANNEL)
    assert changed is not None and (changed.routes, changed.teams, changed.policies) == (
        (),
        (team.slug,),
        (policy.slug,),
    )
    assert changed.created_at == made.created_at  # what was backlog stays backlog

    listed = await say(bot, "U0ALICE", "subscriptions")
    lines = listed.splitlines()
    assert (
        "<#C0DB> · route:database team:Database · reminders: unacknowledged after 15m, acknowledged off · handoffs · "
        "up to 10 cards a minute · configuration file" in lines
    )
    assert (
        f"<#C0OPS> · team:{team.slug} policy:{policy.slug} · reminders: unacknowledged after 15m, acknowledged "
        f"after 4h · up to 10 cards a minute · added by <@{ADMIN}>" in lines
    )

    said = await say(bot, ADMIN, "unsubscribe")
    assert "Unsubscribed this channel: no new cards will be posted here" in said
    assert [f.channel for f in await bot.vobot.store.feeds.all()] == ["C0DB"]
    assert "<#C0OPS> has no live feed; `/vo subscriptions` lists every feed." in await say(bot, ADMIN, "unsubscribe")
    assert bot.writes() == []


async def test_changes_are_refused_with_the_reason(bot: Bot) -> None:
    assert "Only vobot admins can subscribe or unsubscribe a channel: <@U0ADMIN1>." in await say(
        bot, "U0ALICE", "subscribe"
    )
    unknown = await say(bot, ADMIN, "subscribe route:databse")
    assert re.search(
        r"VictorOps lists no incident on route `databse`; the routes it lists now are .*`database`", unknown
    )
    assert "VictorOps has no team `team-nope`" in await say(bot, ADMIN, "subscribe team:team-nope")
    assert "VictorOps has no escalation policy `pol-nope`" in await say(bot, ADMIN, "subscribe policy:pol-nope")
    in_file = "The live feed of <#C0DB> is defined in vobot's configuration file"
    assert f"{in_file}; change it there." in await say(bot, ADMIN, "subscribe", channel="C0DB")
    assert f"{in_file}; remove it there." in await say(bot, ADMIN, "unsubscribe", channel="C0DB")
    assert "is not a `subscribe` filter" in await say(bot, ADMIN, "subscribe database")
    assert [f.channel for f in await bot.vobot.store.feeds.all()] == ["C0DB"]


async def test_a_private_channel_vobot_is_not_in_says_invite_me(bot: Bot) -> None:
    said = await say(bot, ADMIN, "subscribe", channel="C0PRIV")
    assert "vobot is not in <#C0PRIV>, so it could not post cards there: invite me with `/invite @vobot`" in said
    assert await bot.vobot.store.feeds.get("C0PRIV") is None
    bot.slack.invite_bot("C0PRIV", ADMIN)
    assert "Subscribed this channel" in await say(bot, ADMIN, "subscribe", channel="C0PRIV")
    # A public channel takes posts without an invitation (chat:write.public).
    assert "Subscribed this channel" in await say(bot, ADMIN, "subscribe", channel="C0PAY")
    bot.slack.archive("C0OPS")
    assert "<#C0OPS> is archived" in await say(bot, ADMIN, "subscribe")


async def test_the_file_keeps_its_feeds_in_step(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"feeds": [FILE_FEED]}) as bot:
        await say(bot, ADMIN, "subscribe")
    moved = {"channel": "C0PAY", "max_cards_per_minute": 2}
    async with running_bot(tmp_path, config={"feeds": [moved]}) as bot:
        feeds = {f.channel: f for f in await bot.vobot.store.feeds.all()}
        assert sorted(feeds) == ["C0OPS", "C0PAY"]  # the Slack one stays; the one that left the file is gone
        assert feeds["C0PAY"].max_cards_per_minute == 2 and feeds["C0PAY"].source == "config"


async def test_the_commands_say_the_configured_command(tmp_path: Path) -> None:
    async with running_bot(tmp_path, VOBOT_COMMAND="/oncall") as bot:
        said = [
            await say(bot, "U0ALICE", "subscriptions", command="/oncall"),
            await say(bot, ADMIN, "subscribe", command="/oncall"),
            await say(bot, ADMIN, "unsubscribe", command="/oncall"),
            await say(bot, ADMIN, "unsubscribe", command="/oncall"),
            await say(bot, ADMIN, "help subscribe", command="/oncall"),
        ]
    assert "An admin adds one in a channel with `/oncall subscribe …`." in said[0]
    assert "`/oncall unsubscribe` stops it" in said[1]
    assert "`/oncall subscriptions` lists every feed" in said[3]
    assert "`/oncall subscribe route:db`" in said[4]
    assert not any(re.search(r"(?<![\w/])/vo\b", text) for text in said), said


async def test_the_channel_check_asks_slack(bot: Bot) -> None:
    channels = ChannelAccess(bot.vobot.slack)
    assert await channels.access("C0NOPE") is Access.NOT_FOUND
    assert await channels.access("C0PRIV") is Access.NOT_IN_CHANNEL
    assert await channels.access("C0PAY") is Access.OK
    bot.slack.fail_next("conversations.info", status=200, retry_after=None, error="missing_scope")
    assert "Slack refused our reply (missing_scope)" in await say(bot, ADMIN, "subscribe")  # not a wrong "invite me"
    assert await bot.vobot.store.feeds.get(CHANNEL) is None
