"""Publishing people's App Home (`views.publish`), and delivering answers that have no response URL: to a
home, to a message's thread, to a direct message (`Surface.elsewhere`).

A home is republished after each action its person takes, wherever they took it (`acted`), but only for
people this process saw open their home in the last `WATCH_FOR`: the others are not looking, and each publish
is a Slack call. The redraw waits `REDRAW_DELAY`, so an action's audit record and its answer (the home's notice,
`tell`), or a burst of actions, make one publish; it is drawn from what is known, spending no VictorOps call.
What just happened is kept per person as the home's notice until they next open the tab.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.home import HomeFinder
from bot.core.identity import Identity
from bot.slack.blocks import Block, sentence
from bot.slack.cards import Cards
from bot.slack.contexts import Contexts
from bot.slack.errors import explain
from bot.slack.home import home_failed, home_view
from bot.slack.linking import NotLinked, link_prompt
from bot.slack.notify import reason
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import HOME_UNLINKED, NOT_IN_DM, NOT_IN_THREAD
from bot.victorops.limits import Clock

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # people whose home is kept up to date (the most recent openers)
WATCH_FOR = 1800.0  # seconds after someone last opened their home that it is still kept up to date
REDRAW_DELAY = 0.5  # seconds an action's redraw waits, so a burst of actions (and their answer) is one publish
NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


@dataclass
class Watched:
    opened_at: float  # when they last opened it (monotonic)
    notice: str | None = None  # what just happened there, shown at its top


class Homes:
    def __init__(
        self,
        finder: HomeFinder,
        cards: Cards,
        identity: Identity,
        contexts: Contexts,
        slack: AsyncWebClient,
        command: str,
        *,
        delay: float = REDRAW_DELAY,
        clock: Clock = monotonic,
    ) -> None:
        self._finder = finder
        self._cards = cards
        self._identity = identity
        self._contexts = contexts
        self._slack = slack
        self._command = command
        self._delay = delay
        self._clock = clock
        self._watched: OrderedDict[str, Watched] = OrderedDict()  # who opened their home, oldest first
        self._locks: dict[str, asyncio.Lock] = {}
        self._due: set[str] = set()  # people whose home an action changed, a redraw on its way
        self._redraws: set[asyncio.Task[None]] = set()

    def _watching(self, slack_user_id: str) -> Watched | None:
        """Their entry while they may still be looking (opened within `WATCH_FOR`), else forgotten."""
        watched = self._watched.get(slack_user_id)
        if watched is not None and self._clock() - watched.opened_at > WATCH_FOR:
            self._forget(slack_user_id)
            return None
        return watched

    def _forget(self, slack_user_id: str) -> None:
        self._watched.pop(slack_user_id, None)
        self._locks.pop(slack_user_id, None)

    async def opened(self, slack_user_id: str) -> None:
        """The person opened their Home tab (or pressed its Refresh): drawn afresh, without an old notice."""
        self._watched[slack_user_id] = Watched(self._clock())
        self._watched.move_to_end(slack_user_id)
        while len(self._watched) > REMEMBERED:
            self._forget(next(iter(self._watched)))
        await self._publish(slack_user_id, cached=False)

    def tell(self, slack_user_id: str, notice: str) -> None:
        """What just happened on their home (mrkdwn), shown at its top from its next draw on, which is due: they
        acted there, so they are looking at it."""
        watched = self._watching(slack_user_id)
        if watched is None:
            watched = self._watched[slack_user_id] = Watched(self._clock())
        watched.notice = notice
        self._mark_due(slack_user_id)

    async def acted(self, slack_user_id: str) -> None:
        """Someone acted (an audit record): their home, if they may be looking at it, is redrawn soon."""
        if self._watching(slack_user_id) is not None:
            self._mark_due(slack_user_id)

    def _mark_due(self, slack_user_id: str) -> None:
        """One redraw `delay` from now: what is marked due meanwhile is drawn by that same publish."""
        if slack_user_id not in self._due:
            self._due.add(slack_user_id)
            task = asyncio.create_task(self._redraw(slack_user_id))
            self._redraws.add(task)
            task.add_done_callback(self._redraws.discard)

    async def _redraw(self, slack_user_id: str) -> None:
        try:
            await asyncio.sleep(self._delay)
        finally:
            self._due.discard(slack_user_id)  # an action from now on needs a redraw of its own
        try:
            await self._publish(slack_user_id, cached=True)
        except Exception as exc:
            log.warning("could not republish the App Home of %s: %s", slack_user_id, reason(exc))

    async def drain(self) -> None:
        """Wait for the redraws on their way (on shutdown, before the clients close)."""
        while self._redraws:
            await asyncio.gather(*self._redraws)

    async def _publish(self, slack_user_id: str, *, cached: bool) -> None:
        """Draw the person's home as known now (`cached`: without asking VictorOps) and publish it; one draw at a
        time per person, so the last one shows the newest state."""
        async with self._locks.setdefault(slack_user_id, asyncio.Lock()):
            watched = self._watched.get(slack_user_id)
            try:
                view = await self._view(slack_user_id, watched.notice if watched else None, cached)
            except Exception as exc:  # the database, or Slack's names: the home says so, in one sentence
                view = home_failed(explain(exc, self._command))
            await self._slack.views_publish(user_id=slack_user_id, view=view)

    async def _view(self, slack_user_id: str, notice: str | None, cached: bool) -> dict[str, Any]:
        facts = await self._finder.facts(slack_user_id, cached=cached)
        prompt: list[Block] = []
        if facts.vo_username is None:
            unlinked = NotLinked(slack_user_id, place=Place(home=slack_user_id))
            _, prompt = await link_prompt(self._identity, self._contexts, self._command, unlinked, HOME_UNLINKED)
        names = await self._cards.names(slack_user_id)
        return home_view(facts, self._command, names, notice, prompt)


class OffMessage:
    """`Surface.elsewhere`: answers for a home (republished with the answer as its notice), a thread (posted
    in it for everyone; when vobot cannot post there, told privately instead) or a direct message."""

    def __init__(self, homes: Homes, slack: AsyncWebClient, hooks: ResponseUrls) -> None:
        self._homes = homes
        self._slack = slack
        self._hooks = hooks

    async def show(self, place: Place, text: str, blocks: Sequence[Block] | None) -> bool:
        try:
            if place.home:
                self._homes.tell(place.home, text)
            elif place.thread_ts and place.channel:
                await self._in_thread(place, text, blocks)
            elif place.dm:
                await self._slack.chat_postMessage(channel=place.dm, text=text, blocks=list(blocks or sentence(text)))
            return True
        except Exception as exc:
            log.warning("could not deliver an answer to a %s: %s", _kind(place), reason(exc))
            return False

    async def _in_thread(self, place: Place, text: str, blocks: Sequence[Block] | None) -> None:
        assert place.channel and place.thread_ts
        shown = list(blocks or sentence(text))
        try:
            await self._slack.chat_postMessage(
                channel=place.channel, thread_ts=place.thread_ts, text=text, blocks=shown
            )
        except SlackApiError as exc:
            if reason(exc) not in NOT_IN_CHANNEL:
                raise
            why = NOT_IN_DM if place.channel.startswith("D") else NOT_IN_THREAD  # a 1:1 between other people
            told = [*sentence(why), *shown]
            hook = place.response_url
            if not await self._hooks.post(hook, why, told, replace_original=False, response_type="ephemeral"):
                raise


def _kind(place: Place) -> str:
    return "home" if place.home else "thread" if place.thread_ts else "direct message"
