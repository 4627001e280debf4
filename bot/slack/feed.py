"""The live feed in Slack (the core's `CardPoster`): cards whose buttons act like any card's, their edits and
thread lines, and a storm minute's rolled-up message; no faster than Slack takes posts in one channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.feed import Feed
from bot.core.feeds import Change, Rollup
from bot.metrics import Metrics
from bot.slack.blocks import card, card_text, check_message
from bot.slack.names import Names
from bot.slack.sentences import rolled_up, thread_line
from bot.slack.slack_errors import post_message, typed
from bot.victorops.models import Incident

POST_SPACING = 1.0  # seconds between posts in one channel: Slack's ~1 message/s (a 429 is waited out as well)


class FeedPoster:
    def __init__(
        self,
        slack: AsyncWebClient,
        command: str,
        names: Callable[[], Awaitable[Names]],
        metrics: Metrics,
        spacing: float = POST_SPACING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._command = command
        self._names = names  # for a channel message: nobody is "you", linked people are mentioned (pinged)
        self._metrics = metrics
        self._spacing = spacing
        self._clock = clock
        self._turns: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def post(self, channel: str, incident: Incident) -> str:
        names = await self._names()
        text, blocks = card_text(incident, names), card(incident, names=names)
        check_message(blocks, text)
        ts = await self._post(channel, "card", text=text, blocks=blocks)
        return ts

    async def update(self, channel: str, ts: str, incident: Incident) -> None:
        names = await self._names()
        text, blocks = card_text(incident, names), card(incident, names=names)
        check_message(blocks, text)
        await self._update(channel, ts, text=text, blocks=blocks)

    async def thread(self, channel: str, ts: str, change: Change) -> None:
        await self._post(channel, "thread", text=thread_line(change, await self._names()), thread_ts=ts)

    async def rollup(self, feed: Feed, rollup: Rollup) -> str:
        text = rolled_up(feed, rollup.numbers, self._command)
        if rollup.ts is None:
            return await self._post(feed.channel, "rollup", text=text)
        await self._update(feed.channel, rollup.ts, text=text)
        return rollup.ts

    async def _post(self, channel: str, kind: str, **message: Any) -> str:
        async with self._turn(channel), self._counted(channel):
            # A channel gone, archived or without vobot raises a `PostRefused`: the core holds the channel.
            ts = await post_message(self._slack, channel, unfurl_links=False, **message)
        self._metrics.feed_posts.labels(channel, kind).inc()
        return ts

    async def _update(self, channel: str, ts: str, **message: Any) -> None:
        async with self._counted(channel):
            try:
                await self._slack.chat_update(channel=channel, ts=ts, **message)
            except SlackApiError as exc:
                refusal = typed(exc, channel)
                if refusal is None:
                    raise
                raise refusal from exc
        self._metrics.feed_edits.labels(channel).inc()

    @asynccontextmanager
    async def _turn(self, channel: str) -> AsyncIterator[None]:
        """One post at a time per channel, `spacing` apart."""
        async with self._turns.setdefault(channel, asyncio.Lock()):
            wait = self._last.get(channel, -self._spacing) + self._spacing - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last[channel] = self._clock()

    @asynccontextmanager
    async def _counted(self, channel: str) -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            self._metrics.feed_failures.labels(channel).inc()
            raise
