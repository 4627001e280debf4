"""Where a card lives and how to redraw it: an ephemeral reply (through its response_url) or a channel
message (through chat.update)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import Block, ListSpec, check_message
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls


class Undelivered(Exception):
    """Slack refused the reply (logged already); raised only by a `strict` surface, whose caller has another way."""


class Drawn:
    """What this process last drew into each channel message, with a lock per message. Concurrent clicks on
    one listing each carry a copy of it from before the others' redraws: splicing a card into that copy would
    undo them, so a splice starts from the newest copy this process knows."""

    SIZE = 500

    def __init__(self) -> None:
        self._blocks: OrderedDict[tuple[str, str], tuple[Block, ...]] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def newest(self, key: tuple[str, str], sent: tuple[Block, ...]) -> tuple[Block, ...]:
        return self._blocks.get(key, sent)

    def remember(self, key: tuple[str, str], blocks: Sequence[Block]) -> None:
        self._blocks[key] = tuple(blocks)
        self._blocks.move_to_end(key)
        while len(self._blocks) > self.SIZE:
            old, _ = self._blocks.popitem(last=False)
            self._locks.pop(old, None)


DRAWN = Drawn()


class Elsewhere(Protocol):
    """Delivers answers to a place without a response URL or message (Place.off_message): a home, a thread, a
    direct message. True when Slack took the answer."""

    async def show(self, place: Place, text: str, blocks: Sequence[Block] | None) -> bool: ...


@dataclass(frozen=True)
class Surface:
    hooks: ResponseUrls  # every post to `response_url` goes through it
    place: Place
    message_blocks: tuple[Block, ...] = ()  # the message's blocks when Slack sent them with the click
    strict: bool = False  # a refused response URL raises Undelivered (a late outcome falls back to a new message)
    elsewhere: Elsewhere | None = None  # for an off-message place (a home, a thread, a direct message)

    @classmethod
    def of_click(cls, hooks: ResponseUrls, body: dict[str, Any], elsewhere: Elsewhere | None = None) -> Surface:
        """Where the click came from, as the request Slack signed says."""
        # Socket Mode has no edge in front of the listeners: a null or odd part is taken as absent
        container, message = _part(body, "container"), _part(body, "message")
        user = _part(body, "user").get("id")
        if _part(body, "view").get("type") == "home" and isinstance(user, str):
            return cls(hooks, Place(home=user), elsewhere=elsewhere)  # the clicker's own App Home
        channel = container.get("channel_id") or _part(body, "channel").get("id")
        in_channel = not container.get("is_ephemeral") and container.get("message_ts")
        place = Place(
            response_url=body.get("response_url"),
            channel=channel,
            message_ts=container.get("message_ts") if in_channel else None,
        )
        return cls(hooks, place, message_blocks=tuple(message.get("blocks") or ()), elsewhere=elsewhere)

    def at(self, listing: ListSpec | None) -> Surface:
        """The same surface, its card in `listing`."""
        return replace(self, place=self.place.model_copy(update={"listing": listing}))

    async def redraw(self, client: AsyncWebClient, text: str, blocks: Sequence[Block]) -> None:
        check_message(blocks, text)
        if self.place.off_message() and self.elsewhere is not None:
            self._check(await self.elsewhere.show(self.place, text, blocks))
            return
        channel, ts = self.place.channel, self.place.message_ts
        if ts and channel:
            await client.chat_update(channel=channel, ts=ts, text=text, blocks=list(blocks))
            DRAWN.remember((channel, ts), blocks)
        else:
            self._check(await self.hooks.post(self.place.response_url, text, blocks, replace_original=True))

    async def splice(self, client: AsyncWebClient, text: str, change: Callable[[Sequence[Block]], list[Block]]) -> None:
        """Redraw part of the message Slack sent with the click (`change` maps its blocks to the new ones)."""
        channel, ts = self.place.channel, self.place.message_ts
        if not (ts and channel):
            await self.redraw(client, text, change(self.message_blocks))
            return
        key = (channel, ts)
        async with DRAWN.lock(key):
            await self.redraw(client, text, change(DRAWN.newest(key, self.message_blocks)))

    async def replace(
        self, client: AsyncWebClient, build: Callable[[], Awaitable[tuple[str, Sequence[Block]]]]
    ) -> None:
        """Redraw the whole message as `build` makes it, built and sent under the message's lock (the one
        `splice` holds): a redraw that read the incidents earlier cannot land after this one with their older state."""
        channel, ts = self.place.channel, self.place.message_ts
        if not (ts and channel):
            await self.redraw(client, *await build())
            return
        async with DRAWN.lock((channel, ts)):
            await self.redraw(client, *await build())

    async def tell(self, text: str, blocks: Sequence[Block] | None = None) -> None:
        """A new message to the person who acted (errors, confirmations): ephemeral through the response URL, or,
        for a place with none (a home, a thread, a direct message), wherever `elsewhere` shows it."""
        if self.place.off_message() and self.elsewhere is not None:
            self._check(await self.elsewhere.show(self.place, text, blocks))
            return
        self._check(
            await self.hooks.post(
                self.place.response_url, text, blocks, response_type="ephemeral", replace_original=False
            )
        )

    def _check(self, posted: bool) -> None:
        if not posted and self.strict:
            raise Undelivered("Slack refused the response URL")


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}
