"""`/vo subscribe | unsubscribe | subscriptions`: the core's feed administration, answered in Slack's words."""

from __future__ import annotations

from typing import Any, Protocol

from bot.core.feed import Feed
from bot.core.feed_admin import FeedAdmin
from bot.slack import grammar as g
from bot.slack.blocks import Block, sentence
from bot.slack.mrkdwn import escape


class Reply(Protocol):
    async def __call__(self, text: str, blocks: list[Block] | None = None) -> None: ...


class FeedCommands:
    def __init__(self, admin: FeedAdmin, command: str) -> None:
        self._admin = admin
        self._command = command  # the slash command, as the workspace types it

    async def subscribe(self, parsed: g.Subscribe, command: dict[str, Any], reply: Reply) -> None:
        done = await self._admin.subscribe(
            command["user_id"],
            command["channel_id"],
            routes=parsed.routes,
            teams=parsed.teams,
            policies=parsed.policies,
        )
        feed = done.feed
        how = "Changed this channel's live feed" if done.replaced else "Subscribed this channel to the live feed"
        matching = f" matching {escape(filters(feed))}" if filters(feed) else ""
        text = f"{how}: a card for every new incident{matching}, from now on; `{self._command} unsubscribe` stops it."
        await reply(text, sentence(text))

    async def unsubscribe(self, command: dict[str, Any], reply: Reply) -> None:
        await self._admin.unsubscribe(command["user_id"], command["channel_id"])
        text = "Unsubscribed this channel: no new cards will be posted here; the cards already here stay."
        await reply(text, sentence(text))

    async def subscriptions(self, reply: Reply) -> None:
        feeds = await self._admin.subscriptions()
        if not feeds:
            text = f"No live feeds yet. An admin adds one in a channel with `{self._command} subscribe …`."
            await reply(text, sentence(text))
            return
        await reply("Live feeds", sentence("\n".join(line(f) for f in feeds)))


def line(feed: Feed) -> str:
    """One feed of a listing: where, which incidents, its reminders, and where it was defined."""
    origin = "configuration file" if feed.source == "config" else f"added by <@{feed.created_by}>"
    handoff = " · handoffs" if feed.handoff else ""
    return (
        f"<#{feed.channel}> · {escape(filters(feed)) or 'every incident'} · reminders: "
        f"unacknowledged {duration(feed.remind_unacked)}, acknowledged {duration(feed.remind_acked)}{handoff} · "
        f"up to {feed.max_cards_per_minute} cards a minute · {origin}"
    )


def filters(feed: Feed) -> str:
    parts = [
        *(f"route:{r}" for r in feed.routes),
        *(f"team:{t}" for t in feed.teams),
        *(f"policy:{p}" for p in feed.policies),
    ]
    return " ".join(parts)


def duration(seconds: int | None) -> str:
    """A reminder's delay as the file writes it (`after 15m`, `after 90s`), or `off`."""
    if seconds is None:
        return "off"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"after {seconds // size}{unit}"
    return f"after {seconds}s"
