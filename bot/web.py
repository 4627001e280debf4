"""The HTTP surface: Slack's requests in HTTP mode; health, readiness and metrics in both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import Metrics
from bot.slack.auth import SlackAuth
from bot.slack.edge import Edge

READY_TIMEOUT = 5.0  # seconds the database may take before the probe says not ready

Check = Callable[[], Awaitable[str]]  # "ok", or what is wrong


async def healthz(_: Request) -> Response:
    """The process is alive (nothing else is checked)."""
    return JSONResponse({"ok": True})


def database_check(ping: Callable[[], Awaitable[None]]) -> Check:
    """Ready when the database answers within READY_TIMEOUT."""

    async def check() -> str:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await ping()
        except Exception as exc:
            return f"unavailable: {exc}"
        return "ok"

    return check


def slack_check(auth: SlackAuth) -> Check:
    """Ready when Slack accepts our token (auth.test's answer is shared and cached)."""

    async def check() -> str:
        return (await auth.answer()).problem or "ok"

    return check


class Readiness:
    def __init__(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    async def check(self, _: Request) -> Response:
        found = {name: await check() for name, check in self._checks.items()}
        ready = all(value == "ok" for value in found.values())
        return JSONResponse(found, status_code=200 if ready else 503)


def build_http_app(metrics: Metrics, checks: Mapping[str, Check], edge: Edge | None = None) -> Starlette:
    """`edge` None: Socket Mode, where Slack's requests come over the WebSocket and only health is served."""

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", Readiness(checks).check, methods=["GET"]),
        Route("/metrics", metrics_endpoint),
    ]
    if edge is not None:
        routes.append(Route("/slack/events", edge.endpoint, methods=["POST"]))
    return Starlette(routes=routes)
