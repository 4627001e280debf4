"""The App Home tab: drawn when its person opens it (`app_home_opened`, Events API or Socket Mode) and when they
press its Refresh button. Its cards' buttons are the card buttons (bot.slack.listeners.buttons), whose answers
republish the home (bot.slack.homes.OffMessage)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.acting import Middleware, slack_user
from bot.slack.home import REFRESH
from bot.slack.homes import Homes
from bot.slack.notify import reason

log = logging.getLogger(__name__)


class HomeTab:
    def __init__(self, homes: Homes) -> None:
        self._homes = homes

    async def on_opened(self, event: dict[str, Any]) -> None:
        """Only the Home tab: the Messages tab opening says nothing to draw."""
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return
        await self._draw(user)

    async def on_refresh(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user, _ = slack_user(body)
        if user:
            await self._draw(user)

    async def _draw(self, user: str) -> None:
        try:
            await self._homes.opened(user)
        except Exception as exc:  # Slack refused the view: nobody to tell but the log
            log.warning("could not publish the App Home of %s: %s", user, reason(exc))


def register(app: AsyncApp, home: HomeTab, middleware: Sequence[Middleware]) -> None:
    app.event("app_home_opened")(home.on_opened)
    app.action(REFRESH, middleware=list(middleware))(home.on_refresh)
