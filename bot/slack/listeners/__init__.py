"""Slack listeners, registered on a fresh AsyncApp by `register` (no global app, so tests build their own)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.listeners import buttons, commands, views


def register(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    buttons.register(app, services)
    views.register(app, services)
