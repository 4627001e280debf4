"""The Bolt app, built from services by a function (no global app: tests build fresh ones)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.listeners import register


def build_bolt_app(services: Services) -> AsyncApp:
    app = AsyncApp(
        client=services.slack,
        # Bolt verifies nothing: HTTP requests reach it only through the edge (bot/slack/edge.py), which
        # checks the signature on the raw bytes first; Socket Mode ones come over our authenticated WebSocket.
        signing_secret="",
        request_verification_enabled=False,
    )
    register(app, services)
    return app
