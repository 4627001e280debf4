"""`/vo digest now | list | add | remove`: the core's digest administration, answered in Slack's words."""

from __future__ import annotations

from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.core.digest import Digest
from bot.core.digest_admin import DigestAdmin, Scheduled
from bot.slack import grammar as g
from bot.slack.blocks import Block, sentence
from bot.slack.mrkdwn import escape


class Reply(Protocol):
    async def __call__(self, text: str, blocks: list[Block] | None = None) -> None: ...
    async def privately(self, text: str, blocks: list[Block] | None = None) -> None: ...


class DigestCommands:
    def __init__(self, admin: DigestAdmin, command: str) -> None:
        self._admin = admin
        self._command = command  # the slash command, as the workspace types it

    async def now(self, command: dict[str, Any], reply: Reply) -> None:
        """Post this channel's digests now, or every open incident when it has none."""
        digests = await self._admin.post_now(command["channel_id"])
        names = ", ".join(f"“{escape(d.name)}”" for d in digests) or "of every open incident"
        await reply.privately(f"Posted the digest {names} here.")

    async def list(self, reply: Reply) -> None:
        entries = await self._admin.scheduled()
        if not entries:
            text = f"No digests yet. An admin adds one with `{self._command} digest add …`."
            await reply(text, sentence(text))
            return
        await reply("Digests", sentence("\n".join(line(e) for e in entries)))

    async def add(self, parsed: g.DigestAdd, command: dict[str, Any], reply: Reply) -> None:
        added = await self._admin.add(
            command["user_id"],
            name=parsed.name,
            channel=command["channel_id"],
            schedule=parsed.schedule,
            timezone=parsed.timezone or "UTC",
            when_empty=parsed.when_empty or "post",
            routes=parsed.routes,
            teams=parsed.teams,
            phases=[p.value for p in parsed.phases],
        )
        text = f"{'Replaced' if added.replaced else 'Added'} a digest: {line(added)}"
        await reply(text, sentence(text))

    async def remove(self, parsed: g.DigestRemove, command: dict[str, Any], reply: Reply) -> None:
        removed = await self._admin.remove(command["user_id"], parsed.name)
        text = f"Removed the digest “{escape(removed.name)}”; it will not be posted again."
        await reply(text, sentence(text))


def line(entry: Scheduled) -> str:
    """One digest of a listing: where, when, which incidents, and where it was defined."""
    digest = entry.digest
    zone = ZoneInfo(digest.timezone)
    when = entry.next_run.astimezone(zone).strftime("%a %d %b %H:%M %Z") if entry.next_run else "never"
    origin = "configuration file" if digest.source == "config" else f"added by <@{digest.created_by}>"
    empty = ", skipped when empty" if digest.when_empty == "skip" else ""
    return (
        f"*{escape(digest.name)}* → <#{digest.channel}> · `{escape(digest.schedule)}` {escape(digest.timezone)} · "
        f"next {when} · {escape(filters(digest))}{empty} · {origin}"
    )


def filters(digest: Digest) -> str:
    parts = [
        *(f"route:{r}" for r in digest.routes),
        *(f"team:{t}" for t in digest.teams),
        *(f"phase:{p}" for p in digest.phases),
    ]
    return " ".join(parts) or "every open incident"
