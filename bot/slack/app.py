"""The Bolt app, built from its listeners by a function (no global app: tests build fresh ones)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.identity import Identity
from bot.slack.acting import acting_middleware
from bot.slack.listeners import bulk, buttons, commands, home, reminders, shortcuts, views


def build_bolt_app(
    client: AsyncWebClient,
    identity: Identity,
    on_commands: commands.Commands,
    on_buttons: buttons.Buttons,
    on_views: views.Views,
    on_reminders: reminders.ReminderButtons,
    on_bulk: bulk.Bulk,
    on_home: home.HomeTab,
    on_shortcuts: shortcuts.Shortcuts,
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        # Bolt verifies nothing: HTTP requests reach it only through the edge (bot/slack/edge.py), which
        # checks the signature on the raw bytes first; Socket Mode ones come over our authenticated WebSocket.
        signing_secret="",
        request_verification_enabled=False,
    )
    middleware = [acting_middleware(identity)]  # every listener knows who is acting
    commands.register(app, on_commands, middleware)
    buttons.register(app, on_buttons, middleware)
    views.register(app, on_views, middleware)
    reminders.register(app, on_reminders, middleware)
    bulk.register(app, on_bulk, middleware)
    home.register(app, on_home, middleware)
    shortcuts.register(app, on_shortcuts, middleware)
    return app
