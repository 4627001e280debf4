"""A user tries every command and button, against the simulator, through signed HTTP into the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.slack.blocks import ActionId
from tests.harness import CHANNEL, UNLINKED, Bot, buttons, running_bot, texts


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


async def test_help_is_answered_in_the_ack(bot: Bot) -> None:
    result = await bot.driver.command("U0ALICE", CHANNEL, "help")
    assert result.status == 200 and result.elapsed < 3
    assert "/vo ack" in result.body and "/vo list" in result.body
    assert (await bot.driver.command("U0ALICE", CHANNEL, "")).body == result.body


async def test_list_shows_every_open_incident_triggered_first(bot: Bot) -> None:
    result = await bot.driver.command("U0ALICE", CHANNEL, "list")
    assert result.status == 200
    reply = await bot.reply("U0ALICE")
    shown = [
        b["block_id"].removeprefix("inc-")
        for b in reply.blocks
        if b.get("type") == "section" and "block_id" in b and b["block_id"].startswith("inc-")
    ]
    assert sorted(shown) == sorted(bot.open_numbers())
    triggered = bot.open_numbers("UNACKED")
    assert set(shown[: len(triggered)]) == set(triggered)
    assert buttons(reply, triggered[0]) == [ActionId.ACK, ActionId.RESOLVE, ActionId.REROUTE]
    acked = bot.open_numbers("ACKED")[0]
    assert buttons(reply, acked) == [ActionId.RESOLVE, ActionId.REROUTE]
    assert bot.writes() == []


async def test_list_filters(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list triggered route:database")
    reply = await bot.reply("U0ALICE")
    expected = [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if i["currentPhase"] == "UNACKED" and i["routingKey"] == "database"
    ]
    assert expected and all(f"inc-{n}" in str(reply.blocks) for n in expected)
    assert "route:database" in texts(reply)


async def test_acknowledge_and_resolve_from_buttons_update_the_card_in_place(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list")
    listing = await bot.reply("U0ALICE")
    number = bot.open_numbers("UNACKED")[0]

    result = await bot.driver.click("U0ALICE", listing, ActionId.ACK, block_id=f"inc-{number}-actions")
    assert result.status == 200 and result.elapsed < 3
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    transition = bot.incident(number)["transitions"][-1]
    assert transition["by"] == "alice" and transition["message"] == "Acknowledged from Slack by @alice"
    card = await bot.until(lambda: (m := bot.slack.find_message(listing.ts)) and m.history and m)
    assert buttons(card, number) == [ActionId.RESOLVE, ActionId.REROUTE]
    assert "Acknowledged by you." in texts(card) and "Acknowledged by you," in texts(card)  # her ephemeral
    assert len(bot.slack.ephemerals("U0ALICE")) == 1  # updated in place, not a new message

    await bot.driver.click("U0ALICE", card, ActionId.RESOLVE, block_id=f"inc-{number}-actions")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "RESOLVED")
    card = await bot.until(lambda: (m := bot.slack.find_message(listing.ts)) and len(m.history) == 2 and m)
    assert buttons(card, number) == [] and "Resolved by you," in texts(card)


async def test_ack_and_resolve_from_text(bot: Bot) -> None:
    first, second = bot.open_numbers("UNACKED")[:2]
    await bot.driver.command("U0BOB", CHANNEL, f"ack #{first}, {second} : on it")
    reply = await bot.reply("U0BOB")
    assert {bot.incident(first)["currentPhase"], bot.incident(second)["currentPhase"]} == {"ACKED"}
    assert bot.incident(first)["transitions"][-1]["message"] == "Acknowledged from Slack by @bob: on it"
    assert len(bot.writes()) == 1  # both in one call
    assert "2 of 2 done" in texts(reply)

    await bot.driver.command("U0BOB", CHANNEL, f"resolve {first}")
    await bot.reply("U0BOB", 1)
    assert bot.incident(first)["currentPhase"] == "RESOLVED"


async def test_acting_on_an_incident_in_the_wanted_state_costs_no_call(bot: Bot) -> None:
    acked = bot.open_numbers("ACKED")[0]
    await bot.driver.command("U0ALICE", CHANNEL, f"ack {acked}")
    reply = await bot.reply("U0ALICE")
    assert "already acknowledged" in texts(reply)
    await bot.driver.command("U0ALICE", CHANNEL, "ack 99999")
    reply = await bot.reply("U0ALICE", 1)
    assert "#99999 is not an open incident" in texts(reply)
    assert bot.writes() == []


async def test_ack_mine_uses_by_user(bot: Bot) -> None:
    mine = [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if "alice" in i["pagedUsers"] and i["currentPhase"] == "UNACKED"
    ]
    assert mine
    await bot.driver.command("U0ALICE", CHANNEL, "ack mine")
    await bot.reply("U0ALICE")
    assert [c.path for c in bot.writes()] == ["/api-public/v1/incidents/byUser/ack"]
    assert all(bot.incident(n)["currentPhase"] == "ACKED" for n in mine)


async def test_reroute_from_text(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    policy = bot.vo.directory.policies[-1]
    await bot.driver.command("U0ALICE", CHANNEL, f"reroute {number} to policy:{policy.slug} <@U0DAVE>")
    reply = await bot.reply("U0ALICE")
    paged = bot.incident(number)
    assert paged["pagedPolicies"][0]["policy"]["slug"] == policy.slug and "dave" in paged["pagedUsers"]
    assert f"Rerouted to {policy.name}, <@U0DAVE> by you." in texts(reply)  # names, not slugs


async def test_reroute_to_an_unknown_policy_is_refused_before_any_write(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.command("U0ALICE", CHANNEL, f"reroute {number} to policy:pol-nope")
    reply = await bot.reply("U0ALICE")
    assert "no escalation policy `pol-nope`" in reply.text and bot.writes() == []


async def test_reroute_from_a_modal_opened_by_the_button(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list")
    listing = await bot.reply("U0ALICE")
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click("U0ALICE", listing, ActionId.REROUTE, block_id=f"inc-{number}-actions")
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "policy" in str(v.body)), None))
    assert "on call" in str(view.body)
    policy = bot.vo.directory.policies[-1]
    empty = await bot.driver.submit_view("U0ALICE", view.id, {})
    assert empty.response_action == "errors" and bot.writes() == []
    result = await bot.driver.submit_view("U0ALICE", view.id, {"policy": {"policy": policy.slug}})
    assert result.status == 200
    await bot.until(lambda: bot.incident(number)["pagedPolicies"][0]["policy"]["slug"] == policy.slug)
    card = await bot.until(lambda: (m := bot.slack.find_message(listing.ts)) and m.history and m)
    assert f"Rerouted to {policy.name} by you." in texts(card)


async def test_reroute_without_targets_opens_a_modal(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.command("U0ALICE", CHANNEL, f"reroute {number}")
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "policy" in str(v.body)), None))
    await bot.driver.submit_view("U0ALICE", view.id, {"users": {"users": ["dave", "frank"]}})
    await bot.until(lambda: bot.incident(number)["pagedUsers"] == ["dave", "frank"])
    reply = await bot.reply("U0ALICE")
    assert "Rerouted" in texts(reply)


async def test_create_from_text(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "create Disk full on db09 to user:dave : df says 99%")
    reply = await bot.reply("U0ALICE")
    created = next(i for i in bot.vo.incidents() if i["entityDisplayName"] == "Disk full on db09")
    assert created["pagedUsers"] == ["dave"] and created["monitorName"] == "vouser-alice"
    assert f"Created #{created['incidentNumber']}" in texts(reply)
    assert buttons(reply, str(created["incidentNumber"])) == [ActionId.ACK, ActionId.RESOLVE, ActionId.REROUTE]


async def test_create_from_a_modal(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "create")
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "summary" in str(v.body)), None))
    missing = await bot.driver.submit_view("U0ALICE", view.id, {"summary": {"summary": "   "}})
    assert missing.response_action == "errors" and "summary" in missing.errors
    await bot.driver.submit_view(
        "U0ALICE", view.id, {"summary": {"summary": "Queue stuck"}, "details": {"details": "since 3am"}}
    )
    created = await bot.until(
        lambda: next((i for i in bot.vo.incidents() if i["entityDisplayName"] == "Queue stuck"), None)
    )
    assert created["pagedUsers"] == ["alice"]  # no targets, no defaults: the caller
    reply = await bot.reply("U0ALICE")
    assert "Created #" in texts(reply)


async def test_history(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "history phase:resolved route:database since:30d")
    reply = await bot.reply("U0ALICE")
    assert "Incident history" in texts(reply) and "resolved" in texts(reply)
    call = next(c for c in bot.vo.calls() if c.path == "/api-reporting/v2/incidents")
    assert "routingKey=database" in call.query and "currentPhase=resolved" in call.query


async def test_oncall(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "oncall")
    reply = await bot.reply("U0ALICE")
    assert "*Ops*: alice (Ops Primary); cchen (Ops Escalation)" in texts(reply)
    await bot.driver.command("U0ALICE", CHANNEL, "oncall payments")
    reply = await bot.reply("U0ALICE", 1)
    assert "Payments" in texts(reply) and "Ops" not in texts(reply)


async def test_public_list_posts_in_channel_and_buttons_use_chat_update(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list public")
    message = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click("U0BOB", message, ActionId.ACK, block_id=f"inc-{number}-actions")
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
    await bot.until(lambda: bot.slack.calls("chat.update"))
    updated = bot.slack.messages(CHANNEL)[0]
    assert "Acknowledged by <@U0BOB>" in texts(updated) and buttons(updated, number)[0] == ActionId.RESOLVE


async def test_unlinked_user_is_told_how_to_link_and_nothing_is_sent(bot: Bot) -> None:
    await bot.driver.command("U0ALICE", CHANNEL, "list public")
    message = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click(UNLINKED, message, ActionId.ACK, block_id=f"inc-{number}-actions")
    told = await bot.reply(UNLINKED)
    assert "not linked to a VictorOps user" in told.text
    await bot.driver.command(UNLINKED, CHANNEL, f"ack {number}")
    assert "not linked" in (await bot.reply(UNLINKED, 1)).text
    assert bot.writes() == []


async def test_whoami(bot: Bot) -> None:
    await bot.driver.command("U0ADMIN1", CHANNEL, "whoami")
    assert (
        "You act as `heidi` in VictorOps (set in vobot's configuration file). You are a vobot admin."
        in (await bot.reply("U0ADMIN1")).text
    )


async def test_bad_or_stale_signatures_get_401_and_change_nothing(bot: Bot) -> None:
    from bot.sim.slack_driver import SlackDriver

    number = bot.open_numbers("UNACKED")[0]
    for driver in (
        SlackDriver(bot.slack, bot.driver.bot_url, "wrong-secret"),
        SlackDriver(bot.slack, bot.driver.bot_url, bot.slack.signing_secret, timestamp_offset=-310),
        SlackDriver(bot.slack, bot.driver.bot_url, bot.slack.signing_secret, timestamp_offset=310),
    ):
        result = await driver.command("U0ALICE", CHANNEL, f"ack {number}")
        assert result.status == 401
    assert bot.writes() == [] and bot.slack.ephemerals() == []


async def test_victorops_unreachable_is_one_sentence(tmp_path: Path) -> None:
    async with running_bot(tmp_path, VICTOROPS_API_URL="http://127.0.0.1:1") as bot:
        result = await bot.driver.command("U0ALICE", CHANNEL, "list")
        assert result.status == 200
        reply = await bot.reply("U0ALICE", within=15)
        assert reply.text.startswith("VictorOps could not be reached") and "Traceback" not in reply.text


async def test_slack_refusing_the_modal_is_explained(bot: Bot) -> None:
    bot.slack.fail_next("views.open", status=200, error="expired_trigger_id", retry_after=None)
    await bot.driver.command("U0ALICE", CHANNEL, "create")
    reply = await bot.reply("U0ALICE")
    assert "Slack refused our reply (expired_trigger_id)" in reply.text


async def test_malformed_commands_get_one_sentence_fast_and_never_reach_victorops(bot: Bot) -> None:
    from tests.test_grammar import MALFORMED

    assert len(MALFORMED) >= 25
    for text in MALFORMED:
        result = await bot.driver.command("U0ALICE", CHANNEL, text)
        assert result.status == 200 and result.elapsed < 3, text
        message = result.body.strip()
        assert message and "\n" not in message and "Traceback" not in message, (text, message)
    assert bot.writes() == []
    assert [c for c in bot.vo.calls() if c.family == "incidents"] == []
