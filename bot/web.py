"""The HTTP surface: Slack's requests in HTTP mode; health, readiness and metrics in both modes."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import Metrics
from bot.services import Services

READY_TIMEOUT = 5.0  # seconds a dependency may take before the probe says not ready
SLACK_OK_FOR = 30.0  # a successful auth.test is trusted this long, so probes do not hammer Slack


async def healthz(_: Request) -> Response:
    """The process is alive (nothing else is checked)."""
    return JSONResponse({"ok": True})


def request_kind(body: bytes) -> str:
    """command, block_actions, view_submission, … — for metrics; never fails."""
    form = parse_qs(body.decode(errors="replace"))
    if "command" in form:
        return "command"
    try:
        return str(json.loads(form["payload"][0]).get("type", "interaction"))
    except (KeyError, ValueError, AttributeError):
        return "other"


def slack_events(bolt: AsyncApp, metrics: Metrics | None) -> Route:
    handler = AsyncSlackRequestHandler(bolt)

    async def endpoint(request: Request) -> Response:
        start = time.perf_counter()
        response = await handler.handle(request)  # returns once the listener has acked
        if metrics is not None:
            kind = request_kind(await request.body())
            outcome = "ok" if response.status_code < 400 else "rejected" if response.status_code < 500 else "error"
            metrics.requests.labels(kind, outcome).inc()
            metrics.ack_seconds.labels(kind).observe(time.perf_counter() - start)
        return response

    return Route("/slack/events", endpoint, methods=["POST"])


class Readiness:
    """Ready when the database answers and Slack accepts our token."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._slack_ok_until = 0.0

    async def check(self, _: Request) -> Response:
        found = {"database": await self._database(), "slack": await self._slack()}
        ready = all(value == "ok" for value in found.values())
        return JSONResponse(found, status_code=200 if ready else 503)

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.services.db.ping()
        except Exception as exc:
            return f"unavailable: {exc}"
        return "ok"

    async def _slack(self) -> str:
        if time.monotonic() < self._slack_ok_until:
            return "ok"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.services.slack.auth_test()
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}"
        self._slack_ok_until = time.monotonic() + SLACK_OK_FOR
        return "ok"


def build_http_app(bolt: AsyncApp | None, services: Services | None = None) -> Starlette:
    """`bolt` None: Socket Mode, where Slack's requests come over the WebSocket and only health is served."""
    routes = [Route("/healthz", healthz, methods=["GET"])]
    if services is not None:
        metrics = services.metrics

        async def metrics_endpoint(_: Request) -> Response:
            return Response(metrics.render(), media_type="text/plain; version=0.0.4")

        routes += [Route("/readyz", Readiness(services).check, methods=["GET"]), Route("/metrics", metrics_endpoint)]
    if bolt is not None:
        routes.append(slack_events(bolt, services.metrics if services else None))
    return Starlette(routes=routes)
