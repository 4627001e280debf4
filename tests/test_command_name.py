"""`VOBOT_COMMAND` renames the slash command everywhere: every reply that says what to type says `/oncall`, and
none says `/vo` — help, parse errors, refusals, link prompts, listing and digest hints — through the real app,
the Slack fake and the VictorOps simulator."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import CHANNEL, UNLINKED, Bot, running_bot, texts

COMMAND = "/oncall"
OLD = re.compile(r"(?<![\w/])/vo\b")
ADMIN = "U0ADMIN1"
DIGEST = {"name": "morning", "channel": CHANNEL, "schedule": "0 9 * * 1-5"}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path, config={"digests": [DIGEST]}, VOBOT_COMMAND=COMMAND) as running:
        yield running


async def say(bot: Bot, user: str, text: str) -> str:
    """Type `/oncall <text>`; what the user sees (the ack's text, or the next ephemeral reply)."""
    before = len(bot.slack.ephemerals(user))
    result = await bot.driver.command(user, CHANNEL, text, command=COMMAND)
    assert result.status == 200
    return texts(await bot.reply(user, before))


def everything_sent(bot: Bot) -> str:
    """Every text and block the bot sent: Web API calls, posts to response URLs, and every message Slack
    shows (each version of it; a command's ack is one)."""
    calls = [c.params for c in bot.slack.calls()]
    posts = [p.payload for p in bot.slack.response_posts()]
    messages = [*bot.slack.ephemerals(), *bot.slack.messages(CHANNEL)]
    shown = [[m.text, m.blocks, [[v.text, v.blocks] for v in m.history]] for m in messages]
    return json.dumps([calls, posts, shown], ensure_ascii=False)


async def test_every_reply_names_the_configured_command(bot: Bot) -> None:
    for n in range(60):  # more than one message shows: listings and digests say how to see the rest
        bot.vo.trigger(f"Disk filling on db{n:02}", "database")
    number = bot.open_numbers("UNACKED")[0]
    says = {
        "help": await say(bot, "U0ALICE", "help"),
        "parse error": await say(bot, "U0ALICE", "frobnicate"),
        "unknown incident": await say(bot, "U0ALICE", "ack 99999"),
        "too long": await say(bot, "U0ALICE", f"create db down : {'x' * 3001}"),
        "link prompt": await say(bot, UNLINKED, f"ack {number}"),
        "listing": await say(bot, "U0ALICE", "list"),
        "no such team": await say(bot, "U0ALICE", "oncall no-such-team"),
        "no such target": await say(bot, "U0ALICE", f"reroute {number} to user:nobody.here"),
        "digest": await say(bot, "U0ALICE", "digest now"),
        "digest again": await say(bot, "U0BOB", "digest now"),
        "admin links": await say(bot, ADMIN, f"link <@{UNLINKED}> erin.walsh"),
        "whoami": await say(bot, UNLINKED, "whoami"),
        "unlink": await say(bot, UNLINKED, "unlink"),
        "nothing to unlink": await say(bot, UNLINKED, "unlink"),
    }
    assert f"{COMMAND} ack" in says["help"] and f"{COMMAND} list" in says["help"]
    assert f"{COMMAND} help" in says["parse error"]
    assert "is not an open incident" in says["unknown incident"]
    assert "3001 characters" in says["too long"]
    assert "Link me as erin.walsh and acknowledge" in says["link prompt"]  # the one-click link: no command to type
    assert f"Narrow it with `{COMMAND} list triggered`" in says["listing"]
    assert f"`{COMMAND} oncall` lists every team" in says["no such team"]
    assert f"check the spelling with `{COMMAND} oncall`" in says["no such target"]
    assert "Posted the digest “morning” here" in says["digest"]
    assert f"See them all with `{COMMAND} list`" in texts(bot.slack.messages(CHANNEL)[-1])
    assert f"with `{COMMAND} digest now` less than a minute ago" in says["digest again"]
    assert "Linked <@U0ERIN> to VictorOps user `erin.walsh`" in says["admin links"]
    assert "You act as `erin.walsh`" in says["whoami"]
    assert f"until linked again with `{COMMAND} link`" in says["unlink"]
    assert "You are not linked to a VictorOps user; there is nothing to unlink." in says["nothing to unlink"]
    for what, text in says.items():
        assert not OLD.search(text), (what, text)
    sent = everything_sent(bot)
    assert COMMAND in sent and not OLD.search(sent), OLD.findall(sent)


async def test_a_prompt_without_a_one_click_link_names_the_configured_command(tmp_path: Path) -> None:
    async with running_bot(tmp_path, users={}, VOBOT_COMMAND=COMMAND) as bot:  # no VictorOps user to suggest
        prompt = await say(bot, ADMIN, f"ack {bot.open_numbers('UNACKED')[0]}")
        assert f"Link yourself with `{COMMAND} link <victorops-username>`" in prompt
        assert "or ask an admin (<@U0ADMIN1>) to link you" in prompt
        assert not OLD.search(everything_sent(bot))
