"""The HTTP edge in front of Bolt, for POST /slack/events.

Before Bolt sees a request it must be, in this order: small enough (413, refused before it is read whole),
signed by Slack within five minutes (401, checked on the raw bytes before any parsing), well formed for its
kind (400, one sentence), for our workspace (403), and new: a replay, or an Events API retry of an event
already taken, gets 200 and changes nothing. Bolt then gets the one parse. Nothing here logs a body.
The edge checks the envelope; the listeners check the values they round-trip (button values, metadata).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from bot.core.seen import EVENT_WINDOW, SIGNATURE_WINDOW, SKEW, SeenRequests
from bot.metrics import Metrics
from bot.victorops.limits import Clock

log = logging.getLogger(__name__)

Json = dict[str, Any]

# Slack's largest requests carry a whole modal or message (100 blocks of at most 3,000 characters), a few
# hundred KB once URL-encoded; vobot's own are a few KB. 1 MiB leaves room and parses in milliseconds.
MAX_BODY = 1 << 20
MAX_FIELDS = 50  # a slash command has 15 form fields, an interaction one
MAX_EVENT_ID = 90  # fits the seen_requests key with its prefix

_DIGITS = re.compile(r"[0-9]{1,12}")  # Unix seconds, or a Content-Length; not a 5,000-digit number
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
COMMAND_FIELDS = ("command", "text", "user_id", "team_id", "channel_id", "response_url", "trigger_id")
# metrics labels stay few: any other type counts as "other"
KINDS = frozenset({"command", "block_actions", "view_submission", "view_closed", "block_suggestion",
                   "shortcut", "message_action", "event_callback", "url_verification", "ssl_check"})  # fmt: skip


class Refusal(Exception):
    """A request the edge does not pass on: the status and one sentence for whoever sent it."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


@dataclass(frozen=True)
class Envelope:
    kind: str  # "command", or the payload's type
    body: Json  # what Bolt gets
    team_id: str | None = None  # None only for url_verification and ssl_check, which name no workspace
    event_id: str | None = None  # Events API deliveries: the same for each retry


# --- pure checks ---------------------------------------------------------------------------------------


def check_size(headers: Mapping[str, str]) -> None:
    declared = headers.get("content-length")
    if declared is not None and (not _DIGITS.fullmatch(declared) or int(declared) > MAX_BODY):
        raise Refusal(413, f"Slack's requests are smaller than {MAX_BODY // 1024} KB; this one is not.")


def signed_at(headers: Mapping[str, str], now: float) -> int:
    """The signed timestamp, when the headers can carry a valid signature at all (checked before reading)."""
    stamp = headers.get("x-slack-request-timestamp", "")
    if not _DIGITS.fullmatch(stamp) or not _SIGNATURE.fullmatch(headers.get("x-slack-signature", "")):
        raise Refusal(401, "This request is not signed by Slack.")
    if abs(now - int(stamp)) > SIGNATURE_WINDOW:
        raise Refusal(401, "This request's signature is more than five minutes old.")
    return int(stamp)


def check_signature(secret: bytes, timestamp: int, body: bytes, signature: str) -> None:
    """Slack's v0 scheme on the raw bytes: HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    expected = "v0=" + hmac.new(secret, b"v0:%d:%b" % (timestamp, body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refusal(401, "This request's signature does not match.")


def parse(raw: bytes, content_type: str) -> Envelope:
    """The request as Bolt reads it, once its shape is one Slack sends; Refusal(400) otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "The request body is not UTF-8.") from None
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json":
        return _event(_json(text, "The request body"))
    if media != "application/x-www-form-urlencoded":
        raise Refusal(400, "Slack sends forms or JSON; this request is neither.")
    form = _form(text)
    if "payload" in form:
        return _interaction(_json(form["payload"], "The payload"))
    if "command" in form:
        missing = [name for name in COMMAND_FIELDS if name not in form]
        if missing:
            raise Refusal(400, f"This slash command lacks {', '.join(missing)}.")
        return Envelope("command", dict(form), form["team_id"])
    if form.get("ssl_check") == "1":
        return Envelope("ssl_check", dict(form))
    raise Refusal(400, "This form is neither a slash command nor an interaction.")


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=MAX_FIELDS)
    except ValueError:  # a field without "=", bad percent-encoding (UnicodeDecodeError), too many fields
        raise Refusal(400, "The request body is not a form Slack would send.") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise Refusal(400, "The form repeats a field.")
    return form


def _json(text: str, what: str) -> Json:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise Refusal(400, f"{what} is not JSON.") from None
    if not isinstance(value, dict):
        raise Refusal(400, f"{what} is not a JSON object.")
    return value


def _need(obj: Json, key: str, kind: type, path: str = "") -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise Refusal(400, f"`{path}{key}` is missing or not {_NAMES[kind]}.")
    return value


def _may(obj: Json, key: str, kind: type | tuple[type, ...], path: str = "") -> Any:
    """`key` is absent, null, or of `kind`; its value or None."""
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise Refusal(400, f"`{path}{key}` is not {_NAMES.get(kind, 'of the right type')}.")
    return value


def _objects(obj: Json, key: str, path: str = "", *, required: bool = False) -> list[Json]:
    items = _need(obj, key, list, path) if required else _may(obj, key, list, path) or []
    if (required and not items) or not all(isinstance(item, dict) for item in items):
        raise Refusal(400, f"`{path}{key}` is not a list of objects.")
    return items


_NAMES: dict[Any, str] = {str: "a string", dict: "an object", list: "a list"}


# Optional parts a payload may give as null; Bolt and the listeners read them as `body.get(key, {})`, which a
# null breaks (and an exception soon after ack() makes Bolt drop the ack), so a null is passed on as absent.
_NULL_AS_ABSENT = ("team", "channel", "container", "message", "state", "view", "response_urls", "authorizations")


def _interaction(payload: Json) -> Envelope:
    kind = _need(payload, "type", str)
    _need(_need(payload, "user", dict), "id", str, "user.")
    payload = {key: value for key, value in payload.items() if value is not None or key not in _NULL_AS_ABSENT}
    for key in ("team", "channel", "container", "message", "state"):
        _may(payload, key, dict)
    _may(payload, "enterprise", (dict, str))
    for key in ("response_url", "trigger_id", "callback_id", "action_id"):
        _may(payload, key, str)
    _objects(payload, "response_urls")
    _objects(payload, "authorizations")
    if kind == "block_actions":
        for action in _objects(payload, "actions", required=True):
            _need(action, "action_id", str, "actions[].")
            _may(action, "block_id", str, "actions[].")
    view = _need(payload, "view", dict) if kind in ("view_submission", "view_closed") else _may(payload, "view", dict)
    if view is not None:
        _view(view, kind == "view_submission")
    if kind == "workflow_step_edit" or (kind == "view_submission" and view and view["type"] == "workflow_step"):
        _need(payload, "workflow_step", dict)  # Bolt reads it unguarded for these
    return Envelope(kind, payload, _team_of(payload))


def _view(view: Json, submitted: bool) -> None:
    _need(view, "id", str, "view.")
    _need(view, "type", str, "view.")  # Bolt reads it unguarded on every submission
    _need(view, "callback_id", str, "view.")
    for key in ("private_metadata", "team_id", "app_installed_team_id"):
        _may(view, key, str, "view.")
    if submitted:
        values = _need(_need(view, "state", dict, "view."), "values", dict, "view.state.")
        for block in values.values():
            if not isinstance(block, dict) or not all(isinstance(v, dict) for v in block.values()):
                raise Refusal(400, "`view.state.values` is not block_id -> action_id -> value objects.")


def _team_of(payload: Json) -> str | None:
    """The workspace the request is for, read in Bolt's order (a modal's installing team first)."""
    view, team = payload.get("view") or {}, payload.get("team") or {}
    found = view.get("app_installed_team_id") or team.get("id") or payload["user"].get("team_id")
    if not isinstance(found, str):
        raise Refusal(400, "The payload names no workspace.")
    return found


def _event(body: Json) -> Envelope:
    kind = _need(body, "type", str)
    if kind == "url_verification":
        _need(body, "challenge", str)
        return Envelope(kind, body)
    team = _need(body, "team_id", str)
    _objects(body, "authorizations")
    if kind != "event_callback":
        return Envelope(kind, body, team)
    event_id = _need(body, "event_id", str)
    if len(event_id) > MAX_EVENT_ID:
        raise Refusal(400, "`event_id` is too long.")
    _need(_need(body, "event", dict), "type", str, "event.")
    return Envelope(kind, body, team, event_id)


def replay_key(envelope: Envelope, signature: str, timestamp: int, now: float) -> tuple[str, int]:
    """What to remember the request by, and until when: an event by its id, anything else by its signature
    for as long as that signature is accepted."""
    if envelope.event_id is not None:
        return f"event:{envelope.event_id}", int(now) + EVENT_WINDOW
    return f"sig:{signature.removeprefix('v0=')}", timestamp + SIGNATURE_WINDOW + SKEW


# --- the endpoint --------------------------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The body, counted as it streams in: a chunked body has no Content-Length to refuse it by."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Refusal(413, f"Slack's requests are smaller than {MAX_BODY // 1024} KB; this one is not.")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody left to answer; a line in the log, not a traceback
        raise Refusal(400, "The client left before sending the whole body.") from None
    return b"".join(chunks)


class Edge:
    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        team_id: Callable[[], Awaitable[str | None]],
        seen: SeenRequests,
        metrics: Metrics | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is empty: every forged request would pass as signed")
        self._bolt = bolt
        self._secret = signing_secret.encode()
        self._team_id = team_id
        self._seen = seen
        self._metrics = metrics
        self._clock = clock

    async def endpoint(self, request: Request) -> Response:
        start = time.perf_counter()
        kind, outcome, response = await self._answer(request)
        if self._metrics is not None:
            label = kind if kind in KINDS else "other"
            self._metrics.requests.labels(label, outcome).inc()
            self._metrics.ack_seconds.labels(label).observe(time.perf_counter() - start)
        return response

    async def _answer(self, request: Request) -> tuple[str, str, Response]:
        """(kind, outcome, response) for one request."""
        kind = "other"
        try:
            check_size(request.headers)
            timestamp = signed_at(request.headers, self._clock())
            raw = await read_body(request)
            signature = request.headers["x-slack-signature"]
            check_signature(self._secret, timestamp, raw, signature)
            envelope = parse(raw, request.headers.get("content-type", ""))
            kind = envelope.kind
            await self._check_team(envelope)
            if not await self._first_time(replay_key(envelope, signature, timestamp, self._clock())):
                return kind, "replay", Response(status_code=200)  # taken once already: nothing more to do
        except Refusal as refusal:
            log.info("refused a request to /slack/events (%s): %s", refusal.status, refusal.sentence)
            return kind, "rejected", PlainTextResponse(refusal.sentence, refusal.status)
        # Bolt's "socket_mode" request mode means what the edge hands over: a body already parsed and verified.
        bolt_request = AsyncBoltRequest(
            body=envelope.body,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
            mode="socket_mode",
        )
        response = to_starlette_response(await self._bolt.async_dispatch(bolt_request))
        status = response.status_code
        return kind, "ok" if status < 400 else "rejected" if status < 500 else "error", response

    async def _first_time(self, key: tuple[str, int]) -> bool:
        try:
            return await self._seen.first_time(*key)
        except Exception as exc:  # without the memory a replay cannot be told apart: take nothing
            log.warning("cannot record a Slack request in the database: %s", type(exc).__name__)
            raise Refusal(503, "vobot cannot reach its database right now; try again in a minute.") from None

    async def _check_team(self, envelope: Envelope) -> None:
        if envelope.team_id is None:
            return
        ours = await self._team_id()
        if ours is None:
            raise Refusal(503, "vobot cannot reach Slack to learn its workspace; try again in a minute.")
        if envelope.team_id != ours:
            raise Refusal(403, "This request is for another Slack workspace.")
