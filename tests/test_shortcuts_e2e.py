"""The two shortcuts, end to end: a signed `message_action` or `shortcut` into the real app, the create modal it
opens in the Slack fake, its submission, the incident in the simulator and where its card is posted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.text import MAX_DETAILS, MAX_SUMMARY
from bot.sim.slack import Message, SlackChannel, View
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.slack.listeners.shortcuts import CREATE, CREATE_FROM_MESSAGE, prefill, said
from bot.slack.sentences import NOT_IN_DM
from bot.victorops.client import INCIDENTS_PATH
from bot.victorops.limits import RateSpec
from tests.harness import CHANNEL, OFF, Bot, running_bot, texts

ALICE = "U0ALICE"
SAID = "Checkout is failing for EU users\n\nerrors since 14:02 &amp; rising, see <https://status.example.com|status>"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


def value(view: View, block_id: str) -> str | None:
    block = next(b for b in view.body["blocks"] if b.get("block_id") == block_id)
    found: str | None = block["element"].get("initial_value")
    return found


async def create_modal(bot: Bot) -> View:
    """The create modal once its pickers are filled in."""
    return await bot.until(lambda: next((v for v in bot.slack.views() if "summary" in json.dumps(v.body)), None))


def created(bot: Bot, summary: str) -> str:
    return next(str(i["incidentNumber"]) for i in bot.vo.incidents() if i["entityDisplayName"] == summary)


def test_prefill_is_the_first_line_and_the_text_with_its_address() -> None:
    summary, details = prefill("\n  Disk full on db-1  \nsecond line", "https://x.slack.com/archives/C1/p1")
    assert summary == "Disk full on db-1"
    assert details == "Disk full on db-1  \nsecond line\n\nFrom Slack: https://x.slack.com/archives/C1/p1"
    summary, details = prefill("a & b <@U0BOB|bob>", None)
    assert summary == "a & b @bob" and details == "a & b @bob"
    summary, details = prefill("x" * 5000, "https://x.slack.com/p")
    assert len(summary) <= 255 and details.endswith("From Slack: https://x.slack.com/p")


async def test_message_shortcut_prefills_the_modal_and_posts_the_card_in_the_thread(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, SAID)
    result = await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
    assert result.status == 200 and result.elapsed < 3
    view = await create_modal(bot)
    assert value(view, "summary") == "Checkout is failing for EU users"
    details = value(view, "details") or ""
    assert "errors since 14:02 & rising" in details
    assert f"From Slack: https://vobot-demo.slack.com/archives/{CHANNEL}/p{message.ts.replace('.', '')}" in details
    assert bot.writes() == []

    await bot.driver.submit_view(
        ALICE, view.id, {"summary": {"summary": value(view, "summary")}, "details": {"details": details}}
    )
    await bot.until(
        lambda: any(i["entityDisplayName"] == "Checkout is failing for EU users" for i in bot.vo.incidents())
    )
    number = created(bot, "Checkout is failing for EU users")
    reply = await bot.until(lambda: next((m for m in bot.slack.messages(CHANNEL) if m.thread_ts == message.ts), None))
    assert f"inc-{number}" in json.dumps(reply.blocks) and f"Created #{number} for <@U0ALICE>." in texts(reply)


def test_a_message_without_text_says_its_attachments_and_files() -> None:
    alert = {"text": "", "bot_id": "B1", "attachments": [{"fallback": "CPU 97% on web-3", "color": "danger"}]}
    assert said(alert) == "CPU 97% on web-3"
    titled = {"attachments": [{"fallback": "x", "title": "Disk full", "text": "db-1 at 100%"}, "junk"]}
    assert said(titled) == "Disk full\ndb-1 at 100%"
    assert said({"text": " ", "files": [{"name": "trace.log"}, {"title": "Heap dump", "name": "h.bin"}]}) == (
        "trace.log\nHeap dump"
    )
    assert said({"text": "typed", "attachments": [{"fallback": "ignored"}]}) == "typed"
    summary, details = prefill(said({"attachments": [{"fallback": "y" * 9000}]}), "https://x.slack.com/p")
    assert len(summary) <= MAX_SUMMARY and len(details) <= MAX_DETAILS


async def shortcut_on(bot: Bot, message: Message, **changed: object) -> None:
    """The message shortcut on `message` as Slack would send it with `changed` in its `message`."""
    payload = bot.driver.message_shortcut_payload(ALICE, message, CREATE_FROM_MESSAGE)
    payload["message"] |= changed
    await bot.driver.post(f"payload={json.dumps(payload)}".replace("&", "%26").replace("+", "%2B"))


async def test_a_bot_message_with_attachments_only_prefills_from_them(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "-")
    await shortcut_on(bot, message, text="", bot_id="B0MON", attachments=[{"fallback": "[FIRING] api latency p99"}])
    view = await create_modal(bot)
    assert value(view, "summary") == "[FIRING] api latency p99"
    assert (value(view, "details") or "").startswith("[FIRING] api latency p99\n\nFrom Slack: https://")


async def test_a_file_only_message_prefills_its_file_names(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "-")
    await shortcut_on(bot, message, text="", files=[{"id": "F1", "name": "stacktrace.txt"}])
    view = await create_modal(bot)
    assert value(view, "summary") == "stacktrace.txt"


async def test_the_shortcut_on_a_thread_reply_posts_the_card_in_that_thread(bot: Bot) -> None:
    parent = bot.slack.user_says("U0BOB", CHANNEL, "Payments look odd")
    reply = bot.slack.user_says("U0BOB", CHANNEL, "Refunds failing too", thread_ts=parent.ts)
    await bot.driver.message_shortcut(ALICE, reply, CREATE_FROM_MESSAGE)
    view = await create_modal(bot)
    assert value(view, "summary") == "Refunds failing too"
    await bot.driver.submit_view(ALICE, view.id, {"summary": {"summary": "Refunds failing too"}})
    number = await bot.until(lambda: next(
        (str(i["incidentNumber"]) for i in bot.vo.incidents() if i["entityDisplayName"] == "Refunds failing too"), None
    ))  # fmt: skip
    card = await bot.until(lambda: next((m for m in bot.slack.messages(CHANNEL) if m.bot_id and m.thread_ts), None))
    assert card.thread_ts == parent.ts and f"inc-{number}" in json.dumps(card.blocks)


async def test_a_slow_permalink_does_not_let_the_trigger_expire(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "Search is down")
    bot.slack.fail_next("chat.getPermalink", 429, retry_after=4)  # Slack's client would wait 4 s, then retry
    await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
    view = await create_modal(bot)
    assert value(view, "summary") == "Search is down" and "From Slack" not in (value(view, "details") or "")


async def test_message_shortcut_where_vobot_cannot_post_says_so_and_still_creates(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", "C0PRIV", "War room: payments down")
    await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
    view = await create_modal(bot)
    assert "From Slack" not in (value(view, "details") or "")  # Slack gives no permalink where vobot is not
    await bot.driver.submit_view(ALICE, view.id, {"summary": {"summary": "War room: payments down"}})
    await bot.until(lambda: any(i["entityDisplayName"] == "War room: payments down" for i in bot.vo.incidents()))
    told = await bot.reply(ALICE)
    assert "vobot is not in that channel" in texts(
        told
    ) and f"inc-{created(bot, 'War room: payments down')}" in json.dumps(told.blocks)


async def test_message_shortcut_in_a_direct_message_between_people_says_so_privately(bot: Bot) -> None:
    bot.slack.add_channel(SlackChannel("D0BOBALICE", "", is_private=True, bot_is_member=False))  # bob and alice
    message = bot.slack.user_says("U0BOB", "D0BOBALICE", "Can you look at the queue?")
    await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
    view = await create_modal(bot)
    await bot.driver.submit_view(ALICE, view.id, {"summary": {"summary": "Can you look at the queue?"}})
    told = await bot.reply(ALICE)
    assert texts(told).startswith(NOT_IN_DM) and bot.slack.messages("D0BOBALICE") == [message]


async def test_global_shortcut_opens_the_empty_modal_and_answers_in_a_direct_message(bot: Bot) -> None:
    result = await bot.driver.global_shortcut(ALICE, CREATE)
    assert result.status == 200
    view = await create_modal(bot)
    assert value(view, "summary") is None and value(view, "details") is None
    await bot.driver.submit_view(ALICE, view.id, {"summary": {"summary": "Search is slow"}})
    await bot.until(lambda: any(i["entityDisplayName"] == "Search is slow" for i in bot.vo.incidents()))
    dm = bot.slack.open_dm(ALICE).id
    answer = await bot.until(lambda: next(iter(bot.slack.messages(dm)), None))
    assert f"inc-{created(bot, 'Search is slow')}" in json.dumps(answer.blocks)


async def test_an_unlinked_person_links_from_the_prompt_and_the_modal_opens_prefilled(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "Something broke\nbadly")
    await bot.driver.message_shortcut("U0ERIN", message, CREATE_FROM_MESSAGE)
    prompt = await bot.reply("U0ERIN")
    assert "You are not linked to a VictorOps user yet" in texts(prompt)
    assert "Link me as erin.walsh and create the incident" in texts(prompt)
    assert not [v for v in bot.slack.views() if "summary" in json.dumps(v.body)] and bot.writes() == []
    await bot.driver.click("U0ERIN", prompt, ActionId.LINK_AND_RETRY)
    view = await create_modal(bot)
    assert value(view, "summary") == "Something broke" and "badly" in (value(view, "details") or "")
    await bot.driver.submit_view("U0ERIN", view.id, {"summary": {"summary": "Something broke"}})
    await bot.until(lambda: any(i["entityDisplayName"] == "Something broke" for i in bot.vo.incidents()))
    number = created(bot, "Something broke")
    assert bot.incident(number)["monitorName"] == "vouser-erin.walsh"  # created as her
    await bot.until(lambda: next((m for m in bot.slack.messages(CHANNEL) if m.thread_ts == message.ts), None))


async def test_the_global_shortcut_unlinked_gets_the_prompt_as_a_direct_message(bot: Bot) -> None:
    await bot.driver.global_shortcut("U0ERIN", CREATE)
    dm = bot.slack.open_dm("U0ERIN").id
    prompt = await bot.until(lambda: next(iter(bot.slack.messages(dm)), None))
    assert "Link me as erin.walsh and create the incident" in texts(prompt)
    await bot.driver.click("U0ERIN", prompt, ActionId.LINK_AND_RETRY)
    view = await create_modal(bot)
    assert value(view, "summary") is None
    done = await bot.until(lambda: (m := bot.slack.find_message(prompt.ts)) and m.history and m)
    assert "Linked you to VictorOps user `erin.walsh`" in texts(done)


async def test_a_tampered_message_is_refused_in_one_sentence(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "Something broke")
    payload = bot.driver.message_shortcut_payload(ALICE, message, CREATE_FROM_MESSAGE)
    payload["message"]["ts"] = "1.2<@U0BOB>"
    await bot.driver.post(f"payload={json.dumps(payload)}".replace("&", "%26").replace("+", "%2B"))
    told = await bot.reply(ALICE)
    assert "could not read which message this was" in texts(told)
    assert not bot.slack.views()


async def test_a_tampered_modal_token_is_refused(bot: Bot) -> None:
    message = bot.slack.user_says("U0BOB", CHANNEL, "Something broke")
    await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
    view = await create_modal(bot)
    payload = bot.driver.view_submission_payload(ALICE, view.id, {"summary": {"summary": "Something broke"}})
    payload["view"]["private_metadata"] = json.dumps({"at": {"ch": "C0PAY", "th": "1.1", "p": True}})
    result = await bot.driver.post(f"payload={json.dumps(payload)}".replace("&", "%26").replace("+", "%2B"))
    assert result.status == 200 and result.response_action == "update"
    refused = "This window is from an older version of vobot, so nothing was done; close it and run the command again."
    assert refused in json.dumps(result.json)
    assert bot.writes() == [] and bot.slack.messages("C0PAY") == []


@pytest.mark.slow  # waits out a real VictorOps window
@pytest.mark.parametrize("fails", [False, True])
async def test_a_queued_create_is_told_privately_and_only_its_card_lands_in_the_thread(
    tmp_path: Path, fails: bool
) -> None:
    state = SimState(SimConfig(incidents=RateSpec.parse("1/3s"), reporting=OFF, lookups=OFF))
    async with running_bot(tmp_path, state=state, VICTOROPS_RATE_LIMIT="1/3s", VOBOT_BATCH_WINDOW="0") as bot:
        message = bot.slack.user_says("U0BOB", CHANNEL, "Queue is backing up")
        await bot.driver.message_shortcut(ALICE, message, CREATE_FROM_MESSAGE)
        view = await create_modal(bot)
        await bot.driver.command(ALICE, CHANNEL, "list")  # spends the window's one call
        await bot.reply(ALICE)
        if fails:
            bot.vo.fail_next("POST", INCIDENTS_PATH, status=400)
        await bot.driver.submit_view(ALICE, view.id, {"summary": {"summary": "Queue is backing up"}})
        queued = await bot.reply(ALICE, 1)
        assert "Queued" in texts(queued) and not [m for m in bot.slack.messages(CHANNEL) if m.thread_ts]
        if fails:  # told privately in the channel, never in the thread everyone reads
            assert "Your queued new incident was not sent" in texts(await bot.reply(ALICE, 2, within=8))
            assert [m for m in bot.slack.messages(CHANNEL) if m.thread_ts] == []
        else:
            card = await bot.until(
                lambda: next((m for m in bot.slack.messages(CHANNEL) if m.thread_ts), None), within=8
            )
            assert f"inc-{created(bot, 'Queue is backing up')}" in json.dumps(card.blocks)
