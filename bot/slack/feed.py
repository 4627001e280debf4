"""The live feed in Slack (the core's `CardPoster`): cards whose buttons act like any card's, their edits and
thread lines, and a storm minute's rolled-up message; no faster than Slack takes posts in one channel."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.feed import Feed
from bot.core.feeds import Change, Rollup
from bot.metrics import Metrics
from bot.slack.blocks import Block, card, card_text, check_message
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
        self._turns: dict[str, Turns] = {}

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

    async def reply(self, channel: str, ts: str, kind: str, text: str, blocks: list[Block] | None = None) -> str:
        """A message of another kind (a reminder) in a card's thread, in the channel's turn like the feed's own."""
        if blocks is not None:
            check_message(blocks, text)
        return await self._post(channel, kind, text=text, blocks=blocks, thread_ts=ts)

    async def rollup(self, feed: Feed, rollup: Rollup) -> str:
        text = rolled_up(feed, rollup.numbers, self._command)
        if rollup.ts is None:
            # ahead of the cards waiting their turn: the rolled-up message shows a storm's rest at once
            return await self._post(feed.channel, "rollup", first=True, text=text)
        await self._update(feed.channel, rollup.ts, text=text)
        return rollup.ts

    async def _post(self, channel: str, kind: str, first: bool = False, **message: Any) -> str:
        turns = self._turns.setdefault(channel, Turns(self._spacing, self._clock))
        async with turns.turn(first=first), self._counted(channel):
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
    async def _counted(self, channel: str) -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            self._metrics.feed_failures.labels(channel).inc()
            raise


class Turns:
    """One channel's posts: one at a time, `spacing` apart, in order of asking, `first` ones ahead of the rest."""

    def __init__(self, spacing: float, clock: Callable[[], float]) -> None:
        self._spacing = spacing
        self._clock = clock
        self._busy = False
        self._last = -spacing
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap: (0 first | 1, order, waiter)
        self._order = itertools.count()

    @asynccontextmanager
    async def turn(self, *, first: bool = False) -> AsyncIterator[None]:
        if self._busy:
            waiter = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (0 if first else 1, next(self._order), waiter))
            try:
                await waiter  # handed the turn by the post before: `_busy` stays set
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._next()  # handed the turn, then cancelled: pass it on
                raise
        self._busy = True
        try:
            if (wait := self._last + self._spacing - self._clock()) > 0:
                await asyncio.sleep(wait)
            yield
        finally:
            self._last = self._clock()
            self._next()

    def _next(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():  # a waiter cancelled meanwhile is skipped
                waiter.set_result(None)
                return
        self._busy = False
