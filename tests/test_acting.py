"""Who acts, read one way from a command, a click or a submission; and where a card lives, one model that still
reads the queued rows of the version before it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.contexts import Saved
from bot.core.errors import ActionError
from bot.slack.blocks import ActionId, ListSpec
from bot.slack.contexts import TTL, Contexts, Kind
from bot.slack.linking import Pending
from bot.slack.modals import ModalMeta
from bot.store.contexts import SavedContexts
from bot.store.db import Database
from bot.store.queue import ActionQueue
from tests.harness import CHANNEL, Bot, running_bot

ALICE = "U0ALICE"
HOOK = "https://hooks.slack.com/actions/T0/1/x"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path, VOBOT_BATCH_WINDOW="0") as running:
        yield running


async def test_one_person_has_one_slack_name_by_command_button_and_modal(bot: Bot) -> None:
    by_command, by_button, by_modal = bot.open_numbers("UNACKED")[:3]
    await bot.driver.command(ALICE, CHANNEL, "list")
    listing = await bot.reply(ALICE)
    await bot.driver.command(ALICE, CHANNEL, f"ack {by_command}")
    await bot.until(lambda: bot.incident(by_command)["currentPhase"] == "ACKED")

    # Slack's clicks and submissions name the person in `user`, where `username` may be missing
    click = bot.driver.click_payload(ALICE, listing, ActionId.ACK, block_id=f"inc-{by_button}-actions")
    del click["user"]["username"]
    assert (await bot.driver._interact(click)).status == 200
    await bot.until(lambda: bot.incident(by_button)["currentPhase"] == "ACKED")
    recorded = {bot.incident(n)["transitions"][-1]["message"] for n in (by_command, by_button)}
    assert recorded == {"Acknowledged from Slack by @alice"}

    await bot.driver.command(ALICE, CHANNEL, f"reroute {by_modal}")
    view = await bot.until(lambda: next((v for v in bot.slack.views() if "policy" in str(v.body)), None))
    submission = bot.driver.view_submission_payload(ALICE, view.id, {"users": {"users": ["dave"]}})
    del submission["user"]["username"]
    assert (await bot.driver._interact(submission)).status == 200
    await bot.until(lambda: any(c.path.endswith("/reroute") for c in bot.writes()), within=5)
    queued = await bot.vobot.store.queue.recent()
    assert sorted(a.verb for a in queued) == ["ack", "ack", "reroute"]
    assert {a.slack_name for a in queued} == {"alice"}  # what VictorOps is told "by @…"


async def test_a_queued_row_with_the_older_reply_shape_is_still_told(bot: Bot, database: Database) -> None:
    """Rows queued before the reply had short keys hold kind, response_url, channel, listing, public."""
    number = bot.open_numbers("UNACKED")[0]
    url = bot.slack.new_response_url("commands", CHANNEL, ALICE)
    older = {"kind": "card", "response_url": url, "channel": CHANNEL, "listing": ListSpec().model_dump(mode="json")}
    queue = ActionQueue(database)  # not the bot's database: its dispatcher would send the row
    action, _ = await queue.enqueue(
        verb="ack", vo_username="alice", slack_user_id=ALICE, slack_name="alice", incidents=[number],
        payload={"note": None}, reply=older, dedupe_key=None,
    )  # fmt: skip
    outcome = {"n": number, "done": True, "note": f"Acknowledged #{number} (older row)."}
    done = await queue.complete(action.id, {"outcomes": [outcome], "created": None})
    await bot.vobot.slack_side.notifier(done)
    [post] = bot.slack.response_posts(url)
    assert post.payload["replace_original"] is True  # the card's listing, redrawn in place
    assert f"inc-{number}" in str(post.payload["blocks"]) and "Open incidents" in texts_of(post.payload)
    assert f"Acknowledged #{number} (older row)." in texts_of(post.payload)


def texts_of(payload: dict[str, object]) -> str:
    return str(payload.get("text", "")) + str(payload.get("blocks", ""))


@pytest.mark.parametrize(
    ("kind", "older", "says"),
    [
        (Kind.MODAL, {"numbers": ["42"], "channel": CHANNEL, "response_url": HOOK}, "This window is from an older"),
        (Kind.LINK, {"f": "ack", "u": "alice", "n": ["42"], "r": HOOK, "ch": CHANNEL}, "This button is from an older"),
    ],
)
async def test_a_context_saved_in_the_older_shape_is_answered_with_one_sentence(
    database: Database, kind: Kind, older: dict[str, object], says: str
) -> None:
    """Contexts live 30 minutes: one saved before the place was its own part is refused, not misread."""
    token, now = secrets.token_urlsafe(32), datetime.now(UTC)
    await SavedContexts(database).put(Saved(token, kind, ALICE, older, now + TTL))
    with pytest.raises(ActionError, match=says):
        await Contexts(SavedContexts(database), lambda: now).load(
            kind, ALICE, token, ModalMeta if kind == Kind.MODAL else Pending
        )
