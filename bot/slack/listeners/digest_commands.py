"""`/vo digest now | list | add | remove`: digests from Slack (adding and removing is for admins)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.config import DigestConfig
from bot.core.digests import describe_filter
from bot.core.errors import ActionError
from bot.core.identity import AdminOnly, NotAdmin
from bot.core.schedule import next_slot
from bot.core.text import escape
from bot.services import Services
from bot.slack import grammar as g
from bot.slack.blocks import Block, ListSpec, check_message, sentence
from bot.slack.listeners.cards import listing_message, names_for
from bot.slack.slack_errors import post_message
from bot.store.digests import Digest


class Reply(Protocol):
    async def __call__(self, text: str, blocks: list[Block] | None = None) -> None: ...
    async def privately(self, text: str, blocks: list[Block] | None = None) -> None: ...


class DigestCommands:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def now(self, command: dict[str, Any], reply: Reply) -> None:
        """Post this channel's digests now, or every open incident when it has none."""
        channel = command["channel_id"]
        if limited := await self.services.posts.digest_now(channel):
            raise limited
        try:
            digests = await self.post_now(channel)
        except Exception:
            await self.services.posts.digest_not_posted(channel)
            raise
        names = ", ".join(f"“{escape(d.name)}”" for d in digests) or "of every open incident"
        await reply.privately(f"Posted the digest {names} here.")

    async def post_now(self, channel: str) -> list[Digest]:
        digests = await self.services.digest_store.in_channel(channel)
        for digest in digests:
            await self.services.digests.send(digest)
        if not digests:
            spec = ListSpec()
            incidents, command = await self.services.incidents.open(), self.services.settings.command
            text, blocks = listing_message(spec, incidents, command, names=await names_for(self.services))
            check_message(blocks, text)
            await post_message(self.services.slack, channel, text=text, blocks=blocks)
        return digests

    async def list(self, reply: Reply) -> None:
        digests = await self.services.digest_store.all()
        if not digests:
            text = f"No digests yet. An admin adds one with `{self.services.settings.command} digest add …`."
            await reply(text, sentence(text))
            return
        lines = [self.line(d) for d in digests]
        await reply("Digests", sentence("\n".join(lines)))

    def line(self, digest: Digest) -> str:
        upcoming = next_slot(digest.schedule, digest.timezone, self.services.now())
        when = upcoming.astimezone(ZoneInfo(digest.timezone)).strftime("%a %d %b %H:%M %Z") if upcoming else "never"
        origin = "configuration file" if digest.source == "config" else f"added by <@{digest.created_by}>"
        empty = ", skipped when empty" if digest.when_empty == "skip" else ""
        return (
            f"*{escape(digest.name)}* → <#{digest.channel}> · `{escape(digest.schedule)}` {escape(digest.timezone)} · "
            f"next {when} · {escape(describe_filter(digest))}{empty} · {origin}"
        )

    async def add(self, parsed: g.DigestAdd, command: dict[str, Any], reply: Reply) -> None:
        self._require_admin(command["user_id"])
        existing = await self.services.digest_store.get(parsed.name)
        if existing is not None and existing.source == "config":
            raise ActionError(f"Digest “{parsed.name}” is defined in vobot's configuration file; change it there.")
        try:
            config = DigestConfig.model_validate(
                {
                    "name": parsed.name,
                    "channel": command["channel_id"],
                    "schedule": parsed.schedule,
                    "timezone": parsed.timezone or "UTC",
                    "when_empty": parsed.when_empty or "post",
                    "filter": {
                        "routing_keys": list(parsed.routes),
                        "teams": list(parsed.teams),
                        "phases": [p.value for p in parsed.phases],
                    },
                }
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(p) for p in problem["loc"])
            raise ActionError(
                f"That digest cannot be added: {escape(field)}: {escape(problem['msg'].removeprefix('Value error, '))}."
            ) from None
        digest = replace(Digest.from_config(config), source="slack", created_by=command["user_id"])
        await self.services.digest_store.put(digest)
        await self.services.digests.reload()
        verb = "Replaced" if existing else "Added"
        text = f"{verb} a digest: {self.line(digest)}"
        await reply(text, sentence(text))

    async def remove(self, parsed: g.DigestRemove, command: dict[str, Any], reply: Reply) -> None:
        self._require_admin(command["user_id"])
        store = self.services.digest_store
        digest = await store.get(parsed.name)
        if digest is None:
            raise ActionError(
                f"There is no digest “{parsed.name}”; `{self.services.settings.command} digest list` shows them."
            )
        if digest.source == "config":
            raise ActionError(f"Digest “{parsed.name}” is defined in vobot's configuration file; remove it there.")
        await store.remove(parsed.name)
        await self.services.digests.reload()
        text = f"Removed the digest “{parsed.name}”; it will not be posted again."
        await reply(text, sentence(text))

    def _require_admin(self, slack_user_id: str) -> None:
        identity = self.services.identity
        if not identity.is_admin(slack_user_id):
            raise NotAdmin(AdminOnly.DIGESTS, identity.admins)
