"""The HTTP surface: Slack's requests in HTTP mode; health, readiness and metrics in both modes."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.core.ingest import Ingest
from bot.metrics import Metrics
from bot.slack.auth import SlackAuth
from bot.slack.edge import MAX_BODY, Edge
from bot.victorops.webhook import NotAnIncident, oncall_event

log = logging.getLogger(__name__)

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


WEBHOOK_FIELDS = 2000  # a §6a body has about a hundred keys


class BadBody(Exception):
    def __init__(self, status: int, line: str) -> None:
        super().__init__(line)
        self.status = status


class Webhook:
    """`POST /victorops/webhook`: VictorOps' outgoing webhook, authenticated by the token it carries (the query's
    `token` or `X-Vobot-Token`), stored before the 200. The token is never logged: no access log is kept."""

    def __init__(
        self, token: str | None, ingest: Ingest, metrics: Metrics, nudge: Callable[[], None] | None = None
    ) -> None:
        self._token = token.encode() if token else None
        self._ingest = ingest
        self._metrics = metrics
        self._nudge = nudge  # an on-call event: who is on call is read again (bot.core.oncall)

    async def endpoint(self, request: Request) -> Response:
        if self._token is None:
            return PlainTextResponse("Webhooks are off: VOBOT_WEBHOOK_TOKEN is not set.\n", status_code=404)
        given = request.query_params.get("token") or request.headers.get("x-vobot-token") or ""
        if not hmac.compare_digest(given.encode(), self._token):
            return self._answer("unauthorized", 401, "A missing or wrong token.")
        try:
            body = _decode(await _read(request), request.headers.get("content-type", ""))
        except BadBody as exc:
            return self._answer("bad_body", exc.status, str(exc))
        try:
            received = await self._ingest.receive(body)
        except NotAnIncident as exc:
            if self._nudge is not None and oncall_event(body, request.query_params.get("kind")):
                self._nudge()  # nothing stored: the next read of who is on call decides
                return self._answer("oncall", 200, "Accepted: who is on call is read again soon.")
            return self._answer("not_incident", 400, str(exc))
        if received.duplicate:
            return self._answer("duplicate", 200, "Already received.")
        self._metrics.last_webhook.set_to_current_time()
        return self._answer("accepted", 200, "Accepted.")

    def _answer(self, result: str, status: int, line: str) -> Response:
        self._metrics.webhooks.labels(result).inc()
        if status >= 400:
            log.info("webhook refused (%d): %s", status, line)
        return PlainTextResponse(line + "\n", status_code=status)


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BadBody(413, f"A webhook body is at most {MAX_BODY // 1024} KB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadBody(413, f"A webhook body is at most {MAX_BODY // 1024} KB.")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, content_type: str) -> Mapping[str, Any]:
    """A JSON object, or a form (`application/x-www-form-urlencoded`) of the same flat keys."""
    try:
        text = raw.decode()
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=WEBHOOK_FIELDS))
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadBody(400, f"The body is neither a JSON object nor a form: {type(exc).__name__}.") from None
    if not isinstance(body, dict):
        raise BadBody(400, "The body is JSON but not an object.")
    return body


def build_http_app(
    metrics: Metrics, checks: Mapping[str, Check], edge: Edge | None = None, webhook: Webhook | None = None
) -> Starlette:
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
    if webhook is not None:
        routes.append(Route("/victorops/webhook", webhook.endpoint, methods=["POST"]))
    return Starlette(routes=routes)
