"""Identity through signed HTTP: who a Slack user is in VictorOps, linking, permissions, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.slack.blocks import ActionId
from bot.store.audit import AuditStore
from bot.store.tables import AuditLog, UserLink
from tests.dbfixtures import fresh_postgres_schema
from tests.harness import CHANNEL, Bot, buttons, running_bot, texts

ERIN, FRANK, GRACE = "U0ERIN", "U0FRANK", "U0GRACE"  # in Slack, not in the config file's users: map
ADMIN = "U0ADMIN1"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


async def say(bot: Bot, user: str, text: str) -> str:
    """Type a command and return what the user sees (the ack, or the next ephemeral reply)."""
    before = len(bot.slack.ephemerals(user))
    result = await bot.driver.command(user, CHANNEL, text)
    assert result.status == 200
    return texts(await bot.reply(user, before))


async def stored(bot: Bot) -> dict[str, tuple[str, str]]:
    async with bot.vobot.store.db.session() as session:
        rows = await session.scalars(select(UserLink))
        return {r.slack_user_id: (r.vo_username, r.source) for r in rows}


async def audit(bot: Bot) -> list[AuditLog]:
    return list(reversed(await AuditStore(bot.vobot.store.db).recent()))


# ---- resolution order -------------------------------------------------------------------------------------


async def test_config_file_wins_and_cannot_be_changed_from_slack(bot: Bot) -> None:
    assert "You act as `alice` in VictorOps (set in vobot's configuration file)" in await say(bot, "U0ALICE", "whoami")
    refused = await say(bot, "U0ALICE", "link bob.martinez")
    assert "mapped to `alice` in vobot's configuration file" in refused
    refused = await say(bot, ADMIN, "unlink <@U0ALICE>")
    assert "only an edit of that file can change" in refused
    assert await stored(bot) == {}


async def test_email_match_links_automatically_and_is_stored(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"email_matching": True}) as bot:
        number = bot.open_numbers("UNACKED")[0]
        await say(bot, ERIN, f"ack {number}")
        assert bot.incident(number)["transitions"][-1]["by"] == "erin.walsh"
        assert await stored(bot) == {ERIN: ("erin.walsh", "email")}
        assert "linked automatically: your Slack and VictorOps emails match" in await say(bot, ERIN, "whoami")
        # a burst of resolutions costs the lookups once: one users.info and one VictorOps user list
        for _ in range(3):
            await say(bot, FRANK, "whoami")
        assert len([c for c in bot.slack.calls("users.info") if c.params.get("user") == FRANK]) == 1
        assert len([c for c in bot.vo.calls() if c.path == "/api-public/v1/user"]) == 1


async def test_stored_link_is_used_and_unlink_stops_email_matching_relinking(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"email_matching": True}) as bot:
        assert "Linked you to VictorOps user `gkim`" in await say(bot, GRACE, "link gkim")
        assert "you linked yourself" in await say(bot, GRACE, "whoami")
        assert "Unlinked you from VictorOps user `gkim`" in await say(bot, GRACE, "unlink")
        assert "not linked to a VictorOps user" in await say(bot, GRACE, "whoami")
        number = bot.open_numbers("UNACKED")[0]
        await say(bot, GRACE, f"ack {number}")
        assert bot.writes() == []  # not silently re-linked by email


# ---- self-linking -----------------------------------------------------------------------------------------


async def test_self_link_with_matching_email(bot: Bot) -> None:
    reply = await say(bot, ERIN, "link erin.walsh")
    assert "Linked you to VictorOps user `erin.walsh`" in reply
    assert await stored(bot) == {ERIN: ("erin.walsh", "self")}


async def test_self_link_without_email_match_is_refused_with_the_reason(bot: Bot) -> None:
    reply = await say(bot, ERIN, "link frank")
    assert "Your Slack email does not match VictorOps user `frank`" in reply and "<@U0ADMIN1>" in reply
    assert await stored(bot) == {}


async def test_unverified_self_link_when_allowed(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"allow_unverified_self_link": True}) as bot:
        assert "Linked you to VictorOps user `frank`" in await say(bot, ERIN, "link frank")
        assert "already linked to <@U0ERIN>" in await say(bot, FRANK, "link frank")


async def test_unknown_or_taken_usernames_are_refused(bot: Bot) -> None:
    assert "VictorOps has no user `nobody`" in await say(bot, ERIN, "link nobody")
    assert "`alice` is already linked to <@U0ALICE>" in await say(bot, ADMIN, "link <@U0ERIN> alice")
    assert await stored(bot) == {}


# ---- admins -----------------------------------------------------------------------------------------------


async def test_admin_links_and_unlinks_others(bot: Bot) -> None:
    assert "Linked <@U0FRANK> to VictorOps user `frank`" in await say(bot, ADMIN, "link <@U0FRANK> frank")
    assert "linked by <@U0ADMIN1>" in await say(bot, FRANK, "whoami")
    assert "Unlinked <@U0FRANK>" in await say(bot, ADMIN, "unlink <@U0FRANK>")
    assert "not linked" in await say(bot, FRANK, "whoami")


async def test_non_admins_are_refused_and_told_who_may(bot: Bot) -> None:
    await say(bot, ADMIN, "link <@U0FRANK> frank")
    assert "Only vobot admins can link other people: <@U0ADMIN1>." in await say(bot, "U0BOB", "link <@U0GRACE> gkim")
    assert "Only vobot admins can unlink other people: <@U0ADMIN1>." in await say(bot, "U0BOB", "unlink <@U0FRANK>")
    assert await stored(bot) == {FRANK: ("frank", "admin")}


# ---- the unlinked click -----------------------------------------------------------------------------------


async def test_unlinked_click_links_and_completes_the_acknowledgement(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list public")
    listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click(ERIN, listing, ActionId.ACK, block_id=f"inc-{number}-actions")
    prompt = await bot.reply(ERIN)
    assert "nothing was sent to VictorOps" in texts(prompt)
    assert "Your Slack email matches VictorOps user *erin.walsh* (Erin Walsh)" in texts(prompt)
    assert f"Link me as erin.walsh and acknowledge #{number}" in texts(prompt)
    assert bot.writes() == []

    await bot.driver.click(ERIN, prompt, ActionId.LINK_AND_RETRY)
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    assert bot.incident(number)["transitions"][-1]["by"] == "erin.walsh"
    card = await bot.until(lambda: (m := bot.slack.messages(CHANNEL)[0]) and m.history and m)
    assert "Acknowledged by <@U0ERIN>" in texts(card) and buttons(card, number)[0] == ActionId.RESOLVE
    done = await bot.until(lambda: (m := bot.slack.find_message(prompt.ts)) and m.history and m)
    assert "Linked you to VictorOps user `erin.walsh`" in texts(done) and not buttons(done, number)
    assert await stored(bot) == {ERIN: ("erin.walsh", "self")}


async def test_unlinked_reroute_click_links_then_opens_the_modal(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list public")
    listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click(ERIN, listing, ActionId.REROUTE, block_id=f"inc-{number}-actions")
    prompt = await bot.reply(ERIN)
    await bot.driver.click(ERIN, prompt, ActionId.LINK_AND_RETRY)
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "policy" in str(v.body)), None))
    await bot.driver.submit_view(ERIN, view.id, {"users": {"users": ["dave"]}})
    await bot.until(lambda: bot.incident(number)["pagedUsers"] == ["dave"])


async def test_unlinked_command_prompt_finishes_the_command(bot: Bot) -> None:
    first, second = bot.open_numbers("UNACKED")[:2]
    prompt_text = await say(bot, ERIN, f"resolve {first} {second}")
    assert f"Link me as erin.walsh and resolve #{first}, #{second}" in prompt_text
    prompt = bot.slack.ephemerals(ERIN)[-1]
    await bot.driver.click(ERIN, prompt, ActionId.LINK_AND_RETRY)
    await bot.until(lambda: bot.incident(second)["currentPhase"] == "RESOLVED")
    done = await bot.until(lambda: (m := bot.slack.find_message(prompt.ts)) and m.history and m)
    assert "2 of 2 done" in texts(done)


async def test_without_a_suggestion_the_prompt_explains_how_to_link(tmp_path: Path) -> None:
    async with running_bot(tmp_path, users={}) as bot:  # Priya has no VictorOps account to suggest
        prompt = await say(bot, ADMIN, f"ack {bot.open_numbers('UNACKED')[0]}")
        assert "`/vo link <victorops-username>`" in prompt and "ask an admin (<@U0ADMIN1>)" in prompt
        assert not any(b["type"] == "actions" for b in bot.slack.ephemerals(ADMIN)[-1].blocks)
        assert bot.writes() == []


async def test_commands_with_nothing_to_finish_offer_a_plain_link(bot: Bot) -> None:
    prompt = await say(bot, ERIN, "list mine")
    assert "Link me as erin.walsh" in prompt and "and" not in prompt.split("Link me as erin.walsh")[1][:5]
    await bot.driver.click(ERIN, bot.slack.ephemerals(ERIN)[-1], ActionId.LINK_AND_RETRY)
    await bot.until(lambda: "Linked you" in texts(bot.slack.ephemerals(ERIN)[-1]))
    assert await stored(bot) == {ERIN: ("erin.walsh", "self")}


# ---- the permission matrix --------------------------------------------------------------------------------

WRITES: list[tuple[str, str]] = [
    ("command", "ack {n}"),
    ("command", "resolve {n}"),
    ("command", "ack mine"),
    ("command", "resolve mine"),
    ("command", "reroute {n} to user:dave"),
    ("command", "create Disk full to user:dave"),
    ("button", ActionId.ACK),
    ("button", ActionId.RESOLVE),
    ("button", ActionId.REROUTE),
]
ADMIN_ONLY = ["link <@U0GRACE> gkim", "unlink <@U0FRANK>"]


@pytest.mark.parametrize(("surface", "what"), WRITES)
async def test_unlinked_users_cannot_write(bot: Bot, surface: str, what: str) -> None:
    number = bot.open_numbers("UNACKED")[0]
    if surface == "command":
        reply = await say(bot, ERIN, what.format(n=number))
    else:
        await bot.driver.command("U0ALICE", CHANNEL, "list public")
        listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
        await bot.driver.click(ERIN, listing, what, block_id=f"inc-{number}-actions")
        reply = texts(await bot.reply(ERIN))
    assert "not linked to a VictorOps user yet, so nothing was sent" in reply
    assert bot.writes() == [] and not bot.slack.views()


@pytest.mark.parametrize("text", ADMIN_ONLY)
async def test_non_admins_cannot_manage_links(bot: Bot, text: str) -> None:
    await say(bot, ADMIN, "link <@U0FRANK> frank")
    before = await stored(bot)
    reply = await say(bot, "U0BOB", text)
    assert "Only vobot admins can" in reply and "<@U0ADMIN1>" in reply
    assert await stored(bot) == before and bot.writes() == []


# ---- audit ------------------------------------------------------------------------------------------------


async def test_every_action_is_audited(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    await say(bot, "U0BOB", f"ack {number} : looking")
    await say(bot, "U0BOB", "ack 99999")
    await say(bot, ADMIN, "link <@U0FRANK> frank")
    rows = [(r.slack_user_id, r.vo_username, r.action, r.incidents, r.result) for r in await audit(bot)]
    assert rows == [
        ("U0BOB", "bob.martinez", "ack", [number], "ok"),
        ("U0BOB", "bob.martinez", "ack", ["99999"], "refused"),
        (ADMIN, "frank", "link", [], "ok"),
    ]
    assert bot.incident(number)["transitions"][-1]["message"] == "Acknowledged from Slack by @bob: looking"


# ---- shared and durable -----------------------------------------------------------------------------------


async def test_links_survive_a_restart(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await say(bot, ERIN, "link erin.walsh")
    async with running_bot(tmp_path) as bot:
        assert "You act as `erin.walsh`" in await say(bot, ERIN, "whoami")


async def test_two_instances_on_postgres_share_links(tmp_path: Path) -> None:
    with fresh_postgres_schema() as url:
        async with (
            running_bot(tmp_path, VOBOT_DATABASE_URL=url) as first,
            running_bot(tmp_path, state=first.vo, slack=first.slack, VOBOT_DATABASE_URL=url) as second,
        ):
            await say(first, ERIN, "link erin.walsh")
            assert "You act as `erin.walsh`" in await say(second, ERIN, "whoami")
            await say(second, ADMIN, "unlink <@U0ERIN>")
            assert "not linked" in await say(first, ERIN, "whoami")
