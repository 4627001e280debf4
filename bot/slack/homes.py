"""Publishing people's App Home (`views.publish`), and delivering answers that have no response URL: to a
home, to a message's thread, to a direct message (`Surface.elsewhere`).

A home is republished after each action its person takes, wherever they took it (`acted`), but only for
people this process saw open their home: the others are not looking, and each publish is a Slack call.
What just happened is kept per person as the home's notice until they next open the tab.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
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
from bot.slack.sentences import HOME_UNLINKED, NOT_IN_THREAD

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # people whose home is kept up to date (the most recent openers)
NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


class Homes:
    def __init__(
        self,
        finder: HomeFinder,
        cards: Cards,
        identity: Identity,
        contexts: Contexts,
        slack: AsyncWebClient,
        command: str,
    ) -> None:
        self._finder = finder
        self._cards = cards
        self._identity = identity
        self._contexts = contexts
        self._slack = slack
        self._command = command
        self._watched: OrderedDict[str, str | None] = OrderedDict()  # who opened their home -> its notice
        self._locks: dict[str, asyncio.Lock] = {}
        self._due: set[str] = set()  # people whose home an action has changed since it was last drawn
        self._tasks: set[asyncio.Task[None]] = set()

    def _watch(self, slack_user_id: str, notice: str | None) -> None:
        self._watched[slack_user_id] = notice
        self._watched.move_to_end(slack_user_id)
        while len(self._watched) > REMEMBERED:
            gone, _ = self._watched.popitem(last=False)
            self._locks.pop(gone, None)

    async def opened(self, slack_user_id: str) -> None:
        """The person opened their Home tab (or pressed its Refresh): drawn afresh, without an old notice."""
        self._watch(slack_user_id, None)
        await self.publish(slack_user_id)

    async def publish(self, slack_user_id: str, notice: str | None = None, *, only_if_due: bool = False) -> None:
        """Draw the person's home as things are now; `notice` (mrkdwn, what just happened there) replaces the
        one it shows: they are looking at it, so it is kept up to date from now on."""
        if notice is not None:
            self._watch(slack_user_id, notice)
        # One draw at a time per person, each inside the lock, so the last one shows the newest state; a redraw
        # that was due when an action was recorded is skipped if a draw has started since (it shows the action).
        async with self._locks.setdefault(slack_user_id, asyncio.Lock()):
            if only_if_due and slack_user_id not in self._due:
                return
            self._due.discard(slack_user_id)
            try:
                view = await self._view(slack_user_id, self._watched.get(slack_user_id))
            except Exception as exc:  # VictorOps or the database: the home says so, in one sentence
                view = home_failed(explain(exc, self._command))
            await self._slack.views_publish(user_id=slack_user_id, view=view)

    async def _view(self, slack_user_id: str, notice: str | None) -> dict[str, Any]:
        facts = await self._finder.facts(slack_user_id)
        prompt: list[Block] = []
        if facts.vo_username is None:
            unlinked = NotLinked(slack_user_id, place=Place(home=slack_user_id))
            _, prompt = await link_prompt(self._identity, self._contexts, self._command, unlinked, HOME_UNLINKED)
        names = await self._cards.names(slack_user_id)
        return home_view(facts, self._command, names, notice, prompt)

    async def acted(self, slack_user_id: str) -> None:
        """Someone acted (an audit record): their home, if they look at it, is redrawn in the background."""
        if slack_user_id in self._watched and slack_user_id not in self._due:
            self._due.add(slack_user_id)
            task = asyncio.create_task(self._republish(slack_user_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _republish(self, slack_user_id: str) -> None:
        try:
            await self.publish(slack_user_id, only_if_due=True)
        except Exception as exc:
            log.warning("could not republish the App Home of %s: %s", slack_user_id, reason(exc))


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
                await self._homes.publish(place.home, text)
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
            told = [*sentence(NOT_IN_THREAD), *shown]
            hook = place.response_url
            if not await self._hooks.post(hook, NOT_IN_THREAD, told, replace_original=False, response_type="ephemeral"):
                raise


def _kind(place: Place) -> str:
    return "home" if place.home else "thread" if place.thread_ts else "direct message"
