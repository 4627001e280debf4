"""A bulk action's redraw of a channel message (a digest) is built and sent under the message's lock, the one a
card's splice holds: a redraw that read the incidents before another one cannot land after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import Block
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.slack.surface import DRAWN, Surface

KEY = ("C0OPS", "1700000000.000100")


class Updates:
    """Just the chat.update the surface calls, recorded in order (the Slack fake's role, without HTTP)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def chat_update(self, *, channel: str, ts: str, text: str, blocks: list[Block]) -> dict[str, Any]:
        self.sent.append(text)
        return {"ok": True}


async def test_a_bulk_redraw_waits_for_a_redraw_of_the_same_message_in_progress() -> None:
    surface = Surface(ResponseUrls("https://hooks.slack.com/"), Place(channel=KEY[0], message_ts=KEY[1]))
    client = Updates()
    built: list[str] = []

    async def build() -> tuple[str, Sequence[Block]]:
        built.append("bulk")
        return "bulk", [{"type": "section", "text": {"type": "mrkdwn", "text": "bulk"}}]

    async with DRAWN.lock(KEY):  # a card's splice, drawing
        task = asyncio.create_task(surface.replace(cast(AsyncWebClient, client), build))
        await asyncio.sleep(0.01)
        assert built == [] and client.sent == []  # not read, not sent, while the other redraw holds the message
        client.sent.append("splice")
    await task
    assert client.sent == ["splice", "bulk"]
    assert DRAWN.newest(KEY, ()) == ({"type": "section", "text": {"type": "mrkdwn", "text": "bulk"}},)
