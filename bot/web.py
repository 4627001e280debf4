"""The HTTP surface: Slack's requests in HTTP mode; health, readiness and metrics in both modes."""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services import Services
from bot.slack.auth import SlackAuth
from bot.slack.edge import Edge

READY_TIMEOUT = 5.0  # seconds the database may take before the probe says not ready


async def healthz(_: Request) -> Response:
    """The process is alive (nothing else is checked)."""
    return JSONResponse({"ok": True})


class Readiness:
    """Ready when the database answers and Slack accepts our token (auth.test's answer is shared and cached)."""

    def __init__(self, services: Services, auth: SlackAuth) -> None:
        self.services = services
        self.auth = auth

    async def check(self, _: Request) -> Response:
        found = {"database": await self._database(), "slack": (await self.auth.answer()).problem or "ok"}
        ready = all(value == "ok" for value in found.values())
        return JSONResponse(found, status_code=200 if ready else 503)

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.services.db.ping()
        except Exception as exc:
            return f"unavailable: {exc}"
        return "ok"


def build_http_app(bolt: AsyncApp | None, services: Services) -> Starlette:
    """`bolt` None: Socket Mode, where Slack's requests come over the WebSocket and only health is served."""
    metrics, auth = services.metrics, SlackAuth(services.slack)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", Readiness(services, auth).check, methods=["GET"]),
        Route("/metrics", metrics_endpoint),
    ]
    if bolt is not None:
        secret = services.settings.slack_signing_secret
        edge = Edge(bolt, secret.get_secret_value() if secret else "", auth.team_id, services.seen, metrics)
        routes.append(Route("/slack/events", edge.endpoint, methods=["POST"]))
    return Starlette(routes=routes)
