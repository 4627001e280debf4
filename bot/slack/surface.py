"""Where a card lives and how to redraw it: an ephemeral reply (through its response_url) or a channel
message (through chat.update)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import Block, ListSpec, check_message
from bot.slack.responses import ResponseUrls


class Undelivered(Exception):
    """Slack refused the reply (logged already); raised only by a `strict` surface, whose caller has another way."""


@dataclass(frozen=True)
class Surface:
    hooks: ResponseUrls  # every post to `response_url` goes through it
    response_url: str | None
    channel: str | None = None
    message_ts: str | None = None  # set for channel messages, which chat.update can edit
    message_blocks: tuple[Block, ...] = ()  # the message's blocks when Slack sent them with the click
    listing: ListSpec | None = None
    strict: bool = False  # a refused response URL raises Undelivered (a late outcome falls back to a new message)

    @classmethod
    def of_click(cls, hooks: ResponseUrls, body: dict[str, Any], listing: ListSpec | None = None) -> Surface:
        """Where the click came from, as the request Slack signed says."""
        container = body.get("container", {})
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        in_channel = not container.get("is_ephemeral") and container.get("message_ts")
        return cls(
            hooks,
            response_url=body.get("response_url"),
            channel=channel,
            message_ts=container.get("message_ts") if in_channel else None,
            message_blocks=tuple(message.get("blocks") or ()),
            listing=listing,
        )

    def to_reply(self, kind: str) -> dict[str, Any]:
        """Where to show the result of a queued action, stored with it (`kind`: a card, or a reply)."""
        reply: dict[str, Any] = {"kind": kind, "response_url": self.response_url, "channel": self.channel}
        if self.message_ts:
            reply["message_ts"] = self.message_ts
        if self.listing:
            reply["listing"] = self.listing.model_dump()
        return reply

    @classmethod
    def from_reply(cls, hooks: ResponseUrls, reply: dict[str, Any], *, strict: bool = False) -> Surface:
        listing = reply.get("listing")
        return cls(
            hooks,
            response_url=reply.get("response_url"),
            channel=reply.get("channel"),
            message_ts=reply.get("message_ts"),
            listing=ListSpec.model_validate(listing) if listing else None,
            strict=strict,
        )

    async def redraw(self, client: AsyncWebClient, text: str, blocks: Sequence[Block]) -> None:
        check_message(blocks, text)
        if self.message_ts and self.channel:
            await client.chat_update(channel=self.channel, ts=self.message_ts, text=text, blocks=list(blocks))
        else:
            self._check(await self.hooks.post(self.response_url, text, blocks, replace_original=True))

    async def tell(self, text: str, blocks: Sequence[Block] | None = None) -> None:
        """A new ephemeral message to the person who acted (errors, confirmations)."""
        self._check(
            await self.hooks.post(self.response_url, text, blocks, response_type="ephemeral", replace_original=False)
        )

    def _check(self, posted: bool) -> None:
        if not posted and self.strict:
            raise Undelivered("Slack refused the response URL")
