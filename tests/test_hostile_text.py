"""What people type, through the real app over loopback: it reaches VictorOps as typed, reaches other people as
text (never a ping), is held to one set of limits in every path, and nobody floods a channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sim.slack import Message
from bot.slack.names import when
from bot.victorops.models import Incident
from tests.harness import CHANNEL, UNLINKED, USERS, Bot, running_bot, texts
from tests.mrkdwn_check import live_sequences


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


def built_by_the_bot(bot: Bot, *users: str) -> set[str]:
    """The sequences vobot itself puts in messages here: mentions of these linked users, incident links, and
    the times of incidents as date tokens."""
    incidents = [Incident.model_validate(i) for i in bot.vo.incidents()]
    links = {f"<{i.incident_link}|#{i.incident_number}>" for i in incidents if i.incident_link}
    moments = [m for i in incidents for m in [i.start_time, *(t.at for t in i.transitions)] if m]
    return links | {f"<@{user}>" for user in users} | {when(m) for m in moments}


def live(bot: Bot, message: Message, *users: str) -> list[str]:
    return live_sequences(message.blocks, top_text=message.text, allowed=built_by_the_bot(bot, *users))


def created(bot: Bot, summary: str) -> dict[str, Any] | None:
    return next((i for i in bot.vo.incidents() if i["entityDisplayName"] == summary), None)


async def test_a_channel_mention_in_a_public_create_does_not_ping(bot: Bot) -> None:
    before = len(bot.slack.messages(CHANNEL))
    await bot.driver.command("U0ALICE", CHANNEL, "create <!channel> db down public")
    incident = await bot.until(lambda: created(bot, "@channel db down"))
    posted = await bot.until(lambda: bot.slack.messages(CHANNEL)[before:])
    assert f"#{incident['incidentNumber']}" in texts(posted[0])
    assert [live(bot, m, "U0ALICE") for m in posted] == [[]]
    assert "<!channel>" not in json.dumps([m.blocks for m in posted])  # not even in the resolve confirmation


async def test_typed_text_reaches_victorops_as_typed_and_shows_escaped_once(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "create latency > 2s & rising : p99 < 3s & <@U0DAVE|dave> knows")
    incident = await bot.until(lambda: created(bot, "latency > 2s & rising"))
    sent = next(json.loads(c.body) for c in bot.writes() if c.path.endswith("/incidents"))
    assert sent["details"] == "p99 < 3s & @dave knows"
    card = texts(await bot.reply("U0ALICE"))
    assert "latency &gt; 2s &amp; rising" in card and "&amp;gt;" not in card and "&amp;amp;" not in card
    number = str(incident["incidentNumber"])
    await bot.driver.command("U0ALICE", CHANNEL, f"ack {number} : <!here> on it & rolling back <#C0DB|db>")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    ack = bot.incident(number)["transitions"][-1]
    assert ack["message"].endswith(": @here on it & rolling back #db")


async def test_hostile_titles_from_victorops_are_text_everywhere(bot: Bot) -> None:
    # mentions someone vobot never names itself (not linked), so any live mention of them came from the title
    bot.vo.trigger(f"<!channel> & <@{UNLINKED}> <https://evil.example|click>", routing_key="<!here>")
    for text in ("list public", "digest now", "history public"):
        before = len(bot.slack.messages(CHANNEL))
        await bot.driver.command("U0BOB", CHANNEL, text)
        posted = await bot.until(lambda b=before: bot.slack.messages(CHANNEL)[b:])  # type: ignore[misc]
        # the people paged are named, linked ones as mentions
        assert [live(bot, m, *USERS) for m in posted] == [[]], text


async def open_view(bot: Bot, text: str, marker: str) -> Any:
    await bot.driver.command("U0ALICE", CHANNEL, text)
    return await bot.until(lambda: next((v for v in bot.slack.views() if marker in str(v.body)), None))


async def test_a_crafted_create_modal_is_held_to_the_commands_limits(bot: Bot) -> None:
    view = await open_view(bot, "create", "summary")
    payload = bot.driver.view_submission_payload("U0ALICE", view.id, {"summary": {"summary": "ok"}})
    payload["view"]["state"]["values"]["summary"]["summary"]["value"] = "x" * 10_000
    payload["view"]["state"]["values"]["details"] = {"details": {"type": "plain_text_input", "value": "y" * 3001}}
    result = await bot.driver._interact(payload)
    assert result.response_action == "errors" and set(result.errors) == {"summary", "details"}
    assert "keep it to 255" in result.errors["summary"]
    await asyncio.sleep(0.3)
    assert bot.writes() == []


async def test_a_crafted_target_option_is_refused_in_the_modal(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    view = await open_view(bot, f"reroute {number}", "policy")
    policy = bot.vo.directory.policies[-1].slug
    payload = bot.driver.view_submission_payload("U0ALICE", view.id, {"policy": {"policy": policy}})
    payload["view"]["state"]["values"]["policy"]["policy"]["selected_option"]["value"] = "../../x"
    result = await bot.driver._interact(payload)
    assert result.response_action == "errors" and set(result.errors) == {"policy"}
    created_view = await open_view(bot, "create", "summary")
    payload = bot.driver.view_submission_payload(
        "U0ALICE", created_view.id, {"summary": {"summary": "db down"}, "users": {"users": ["dave"]}}
    )
    payload["view"]["state"]["values"]["users"]["users"]["selected_options"][0]["value"] = "../../x"
    result = await bot.driver._interact(payload)
    assert result.response_action == "errors" and set(result.errors) == {"users"}
    await asyncio.sleep(0.3)
    assert bot.writes() == []


async def test_ack_messages_have_a_limit(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.command("U0ALICE", CHANNEL, f"ack {number} : " + "x" * 501)
    assert "keep it to 500" in texts(await bot.reply("U0ALICE"))
    assert bot.writes() == []


async def test_one_person_cannot_flood_a_channel_with_digests(tmp_path: Path, database_url: str) -> None:
    async with running_bot(tmp_path, VOBOT_DATABASE_URL=database_url) as bot:
        await asyncio.gather(*(bot.driver.command(UNLINKED, CHANNEL, "digest now") for _ in range(20)))
        answers = await bot.until(lambda: len(bot.slack.ephemerals(UNLINKED)) >= 20 and bot.slack.ephemerals(UNLINKED))
        await asyncio.sleep(0.3)
        assert len(bot.slack.messages(CHANNEL)) == 1
        limited = [texts(m) for m in answers if "less than a minute ago" in texts(m)]
        assert len(limited) == 19 and all(t.count(".") == 1 for t in limited)  # one sentence each


async def test_public_replies_are_limited_per_person_and_channel(bot: Bot) -> None:
    for _ in range(6):
        await bot.driver.command("U0BOB", CHANNEL, "list public")
    await bot.until(lambda: len(bot.slack.messages(CHANNEL)) >= 5)
    answer = await bot.until(lambda: next((m for m in bot.slack.ephemerals("U0BOB") if "public" in texts(m)), None))
    assert "5 public replies here in the last minute" in texts(answer)
    await asyncio.sleep(0.3)
    assert len(bot.slack.messages(CHANNEL)) == 5
    await bot.driver.command("U0ALICE", CHANNEL, "list public")  # someone else still can
    await bot.until(lambda: len(bot.slack.messages(CHANNEL)) == 6)
