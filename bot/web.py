"""The HTTP surface: Slack's requests in HTTP mode, and health for both modes."""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def healthz(_: Request) -> Response:
    return JSONResponse({"ok": True})


def build_http_app(bolt: AsyncApp | None) -> Starlette:
    """`bolt` None: Socket Mode, where Slack's requests come over the WebSocket and only health is served."""
    routes = [Route("/healthz", healthz, methods=["GET"])]
    if bolt is not None:
        handler = AsyncSlackRequestHandler(bolt)

        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes)
