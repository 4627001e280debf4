"""The Bolt app, built from services by a function (no global app: tests build fresh ones)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.listeners import register


def build_bolt_app(services: Services) -> AsyncApp:
    settings = services.settings
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(
        client=services.slack,
        signing_secret=secret,
        # Socket Mode requests come over our own authenticated WebSocket and carry no signature.
        request_verification_enabled=not settings.socket_mode,
    )
    register(app, services)
    return app
