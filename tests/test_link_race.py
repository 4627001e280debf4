"""One VictorOps user per Slack user under real parallel signed requests, on SQLite and Postgres; emails
compared as emails, and an email two Slack users share proving neither."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.core.identity import Link
from bot.sim.slack import SlackUser
from bot.slack.blocks import ActionId
from bot.store.links import LinkStore
from tests.harness import CHANNEL, USERS, Bot, running_bot, texts

ADMIN = "U0ADMIN1"
N = 10
HEIDI_EMAIL = "heidi.schmidt@example.com"  # VictorOps user heidi's, and Slack user U0HEIDI's
KELVIN = "\u212a"
NOT_HEIDI = {slack: vo for slack, vo in USERS.items() if vo != "heidi"}  # heidi is free to link


@asynccontextmanager
async def race_bot(tmp_path: Path, database_url: str, **config: Any) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path, users=NOT_HEIDI, config=config, VOBOT_DATABASE_URL=database_url) as bot:
        yield bot


def join(bot: Bot, count: int, email: str = "") -> list[str]:
    """New people in the Slack workspace; each has their own email unless one is given."""
    ids = [f"U0NEW{n:02d}" for n in range(count)]
    for n, user_id in enumerate(ids):
        bot.slack.add_user(SlackUser(user_id, f"new{n}", f"New Person {n}", email or f"new{n}@example.com", "UTC"))
    return ids


async def answers(bot: Bot, user: str, count: int) -> list[str]:
    """The first `count` messages only `user` sees (each one's text), once they have all arrived."""
    found = await bot.until(lambda: (m := bot.slack.ephemerals(user)) and len(m) >= count and m, within=20)
    return [message.text or "" for message in found]


async def heidis(bot: Bot) -> list[str]:
    return [link.slack_user_id for link in await LinkStore(bot.vobot.store.db).holders("heidi")]


def refused(winner: str) -> str:
    return f"`heidi` is already linked to <@{winner}>; an admin (<@{ADMIN}>) can unlink them first if that is wrong."


async def test_concurrent_admin_links_give_a_victorops_user_to_one_slack_user(
    tmp_path: Path, database_url: str
) -> None:
    async with race_bot(tmp_path, database_url) as bot:
        people = join(bot, N)
        sent = await asyncio.gather(*(bot.driver.command(ADMIN, CHANNEL, f"link <@{u}> heidi") for u in people))
        assert [r.status for r in sent] == [200] * N
        said = await answers(bot, ADMIN, N)
        [winner] = await heidis(bot)
        assert [s for s in said if "Linked" in s] == [f"Linked <@{winner}> to VictorOps user `heidi`."]
        assert said.count(refused(winner)) == N - 1, said


async def test_concurrent_self_links_give_a_victorops_user_to_one_slack_user(tmp_path: Path, database_url: str) -> None:
    async with race_bot(tmp_path, database_url, allow_unverified_self_link=True) as bot:
        people = join(bot, N)
        await asyncio.gather(*(bot.driver.command(u, CHANNEL, "link heidi") for u in people))
        said = {u: (await answers(bot, u, 1))[0] for u in people}
        [winner] = await heidis(bot)
        assert said.pop(winner).startswith("Linked you to VictorOps user `heidi`")
        assert set(said.values()) == {refused(winner)}


async def test_an_email_twelve_slack_users_share_links_none_of_them(tmp_path: Path, database_url: str) -> None:
    async with race_bot(tmp_path, database_url, email_matching=True) as bot:
        sharing = ["U0HEIDI", *join(bot, 11, email=HEIDI_EMAIL.upper())]
        number = bot.open_numbers("UNACKED")[0]
        await asyncio.gather(*(bot.driver.command(u, CHANNEL, f"ack {number}") for u in sharing))
        for user in sharing:
            assert "nothing was sent to VictorOps" in (await answers(bot, user, 1))[0]
        assert await heidis(bot) == [] and bot.writes() == []

        # the one whose address it really may be cannot act as heidi either, nor be offered it as proven
        await bot.driver.command("U0HEIDI", CHANNEL, f"ack {number}")
        await answers(bot, "U0HEIDI", 2)
        prompt = bot.slack.ephemerals("U0HEIDI")[1]
        assert "nothing was sent" in texts(prompt) and "email matches" not in texts(prompt)
        assert ActionId.LINK_AND_RETRY not in str(prompt.blocks)
        await bot.driver.command("U0HEIDI", CHANNEL, "link heidi")
        assert (await answers(bot, "U0HEIDI", 3))[2] == (
            "Another Slack user has your Slack email too, so it does not prove that `heidi` is you; "
            f"ask an admin (<@{ADMIN}>) to link you."
        )
        assert await heidis(bot) == [] and bot.writes() == []


async def test_a_kelvin_sign_is_not_a_k(tmp_path: Path) -> None:
    async with running_bot(tmp_path, config={"email_matching": True}) as bot:
        bot.slack.add_user(SlackUser("U0KELVIN", "mallory", "Mallory", f"fran{KELVIN}.moreau@example.com", "UTC"))
        number = bot.open_numbers("UNACKED")[0]
        await bot.driver.command("U0KELVIN", CHANNEL, f"ack {number}")
        assert "nothing was sent to VictorOps" in (await answers(bot, "U0KELVIN", 1))[0]
        await bot.driver.command("U0KELVIN", CHANNEL, "link frank")
        assert "Your Slack email does not match VictorOps user `frank`'s" in (await answers(bot, "U0KELVIN", 2))[1]
        assert await LinkStore(bot.vobot.store.db).all() == [] and bot.writes() == []


async def test_the_configuration_file_takes_a_victorops_user_from_an_older_stored_link(tmp_path: Path) -> None:
    """A link stored before the configuration file gave its VictorOps user to someone else (the file wins):
    only the file's person acts as that user; the other one is asked to link again."""
    async with running_bot(tmp_path) as bot:  # the file gives heidi to U0ADMIN1
        await LinkStore(bot.vobot.store.db).put(Link("U0ERIN", "heidi", "self", "U0ERIN"))
        number = bot.open_numbers("UNACKED")[0]
        await bot.driver.command("U0ERIN", CHANNEL, f"ack {number}")
        assert "nothing was sent to VictorOps" in (await answers(bot, "U0ERIN", 1))[0]
        await bot.driver.command("U0ERIN", CHANNEL, "whoami")
        assert "heidi" not in (await answers(bot, "U0ERIN", 2))[1].lower()
        assert bot.writes() == []
