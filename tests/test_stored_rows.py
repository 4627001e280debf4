"""Queue rows an older version stored still go out and are told: "ack_mine" / "resolve_mine" verbs, results
with a ready sentence in "note", a failure as a sentence — through the real dispatcher, database, simulator
and Slack fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.store.tables import QueuedActionRow
from tests.harness import CHANNEL, Bot, running_bot, texts


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


async def store_row(bot: Bot, verb: str, status: str = "pending", **row: Any) -> str:
    """A row as the older version wrote it for Alice, handed off (she stopped waiting); its response URL."""
    url = bot.slack.new_response_url("commands", CHANNEL, "U0ALICE")
    now = datetime.now(UTC)
    async with bot.vobot.store.db.session() as session:
        session.add(
            QueuedActionRow(
                **{
                    "created_at": now,
                    "verb": verb,
                    "vo_username": "alice",
                    "slack_user_id": "U0ALICE",
                    "slack_name": "alice",
                    "incidents": [],
                    "payload": {"note": None},
                    "reply": {"kind": "reply", "response_url": url, "channel": CHANNEL},
                    "status": status,
                    "attempts": 0,
                    "handed_off": True,
                    "told": False,
                    "dedupe_key": f"{verb}:alice" if status == "pending" else None,
                    "finished_at": None if status == "pending" else now - timedelta(minutes=1),
                    **row,
                }
            )
        )
    bot.vobot.core.dispatcher.wake()
    return url


async def told(bot: Bot, url: str) -> str:
    posts = await bot.until(lambda: bot.slack.response_posts(url), within=8)
    return "\n".join([posts[-1].payload.get("text", ""), str(posts[-1].payload.get("blocks", ""))])


def paging_alice(bot: Bot, *phases: str) -> list[str]:
    return [
        str(i["incidentNumber"])
        for i in bot.vo.incidents()
        if i["currentPhase"] in phases and "alice" in i.get("pagedUsers", [])
    ]


async def test_an_ack_mine_row_goes_out_by_user_and_is_told(bot: Bot) -> None:
    mine = paging_alice(bot, "UNACKED")
    assert mine
    url = await store_row(bot, "ack_mine")
    text = await told(bot, url)
    assert [c.path for c in bot.writes()] == ["/api-public/v1/incidents/byUser/ack"]
    assert all(bot.incident(n)["currentPhase"] == "ACKED" for n in mine)
    assert "Acknowledged by you." in text


async def test_a_resolve_mine_row_goes_out_by_user_and_is_told(bot: Bot) -> None:
    mine = paging_alice(bot, "UNACKED", "ACKED")
    assert mine
    url = await store_row(bot, "resolve_mine")
    text = await told(bot, url)
    assert [c.path for c in bot.writes()] == ["/api-public/v1/incidents/byUser/resolve"]
    assert all(bot.incident(n)["currentPhase"] == "RESOLVED" for n in mine)
    assert "Resolved by you." in text


async def test_a_result_stored_with_sentences_is_told_in_them(bot: Bot) -> None:
    number = bot.open_numbers("UNACKED")[0]
    result = {
        "outcomes": [
            {"n": number, "done": True, "note": "Acknowledged by <@U0ALICE>.", "did": {"verb": "ack", "by": "U0ALICE"}},
            {"n": "9999", "done": False, "note": "VictorOps did not ack #9999: closed by <@U0BOB>."},
        ],
        "created": None,
    }
    url = await store_row(bot, "ack", status="done", incidents=[number, "9999"], result=result)
    text = await told(bot, url)
    assert "1 of 2 done." in text and "Acknowledged by you." in text
    assert "VictorOps did not ack #9999: closed by <@U0BOB>." in text  # the stored sentence, as it was
    assert bot.writes() == []


async def test_a_failure_stored_as_a_sentence_is_told_in_it(bot: Bot) -> None:
    sentence = "VictorOps has no user `ghost`, which is who you are linked to; ask an admin to correct your link."
    url = await store_row(bot, "ack_mine", status="failed", error=sentence)
    text = await told(bot, url)
    assert f"Your queued acknowledgement was not sent: {sentence}" in text
    assert texts(bot.slack.ephemerals("U0ALICE")[-1]).startswith("Your queued acknowledgement was not sent")
