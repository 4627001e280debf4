"""The demo's Slack workspace page: a browser page that plays the Slack client against the local stack.

The page polls `GET /demo/state` for what the chosen user would see and posts what they do to `/demo/*`.
Those routes hand every action to the `SlackDriver`, which sends the bot the same signed requests Slack
would; what the bot posts or updates lands in the `SlackWorkspace` fake and shows at the next poll. So the
page never talks to the bot directly, and shows nothing the real Slack client would not.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.sim.seed import random_alert
from bot.sim.slack import BOT_USER_ID, Json, Message, SlackError, View
from bot.sim.slack_driver import DriverResult
from bot.sim.stack import LocalStack

STATIC = Path(__file__).parent / "static"
CALLS_SHOWN = 50
MENTION = re.compile(r"(?<![<\w])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)  # a typed @handle, not inside <@…>


@dataclass(frozen=True)
class DemoUser:
    slack_id: str
    name: str
    role: str  # shown next to the name in the user picker: "linked", "unlinked", "admin"


class BadRequest(Exception):
    """Answered as 400 `{"error": sentence}`: the sentence says what was wrong."""


Handler = Callable[[Request], Awaitable[Json]]


def _json_route(path: str, handler: Handler, method: str) -> Route:
    """A route answering `handler`'s dict as JSON, and any mistake in the request as one sentence, never a
    traceback."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, 400)
        except (LookupError, ValueError) as error:  # the driver refusing what Slack's client would not send
            return JSONResponse({"error": _sentence(str(error))}, 400)
        except httpx.TimeoutException:
            return JSONResponse({"error": "The bot did not answer within Slack's 3 seconds."}, 504)
        except httpx.HTTPError as error:
            return JSONResponse({"error": _sentence(f"The bot could not be reached: {error}")}, 502)

    return Route(path, endpoint, methods=[method])


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


async def _body(request: Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _field(body: Json, key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadRequest(f"The field “{key}” must be a non-empty string.")
    return value


def _ts_order(ts: str) -> tuple[int, int]:
    """Slack's ts is seconds.sequence; compared as two integers, a float would lose the last digits."""
    seconds, _, sequence = ts.partition(".")
    return int(seconds), int(sequence or 0)


def _version(state: Json) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _incident(view: Json) -> Json:
    """The simulator's public view of an incident, reduced to what the side panel shows."""
    acked = next((t for t in reversed(view["transitions"]) if t["name"] == "ACKED"), None)
    return {
        "number": view["incidentNumber"],
        "title": view["entityDisplayName"],
        "phase": view["currentPhase"],
        "routing_key": view["routingKey"],
        "paged_users": view["pagedUsers"],
        "paged_policies": [p["policy"]["name"] for p in view["pagedPolicies"]],
        "acked_by": acked.get("by") if acked else None,
    }


class _Page:
    def __init__(self, stack: LocalStack, demo_users: list[DemoUser]) -> None:
        self.stack = stack
        self.demo_users = demo_users
        self._rng = random.Random()

    # --- validation: unknown ids are the user's mistake, answered as one sentence ---------------------

    def _user(self, user_id: str | None) -> str:
        if user_id is None:
            raise BadRequest("Say which user acts: the field “user” is missing.")
        try:
            return self.stack.slack.user(user_id).id
        except SlackError:
            raise BadRequest(f"There is no user “{user_id}” in this workspace.") from None

    def _channel(self, channel_id: str | None) -> str:
        if channel_id is None:
            raise BadRequest("Say which channel: the field “channel” is missing.")
        try:
            return self.stack.slack.channel(channel_id).id
        except SlackError:
            raise BadRequest(f"There is no channel “{channel_id}” in this workspace.") from None

    def _message(self, user: str, ts: str | None) -> Message:
        message = self.stack.slack.find_message(ts or "")
        if message is None:
            raise BadRequest(f"There is no message “{ts}”; it may have been deleted.")
        if message.ephemeral_to not in (None, user):
            raise BadRequest(f"Message “{ts}” is visible only to {message.ephemeral_to}.")
        return message

    def _view(self, view_id: str | None) -> View:
        try:
            return self.stack.slack.view(view_id or "")
        except SlackError:
            raise BadRequest(f"There is no open view “{view_id}”; it may have been closed.") from None

    # --- reading ----------------------------------------------------------------------------------------

    async def index(self, _: Request) -> Response:
        return FileResponse(STATIC / "workspace.html")

    async def state(self, request: Request) -> Json:
        """What `user` sees in `channel`; without them, the first demo user in the first channel (a fresh page)."""
        slack, vo = self.stack.slack, self.stack.vo
        first_user = self.demo_users[0].slack_id if self.demo_users else None
        user = self._user(request.query_params.get("user", first_user))
        channel = self._channel(request.query_params.get("channel", slack.channels()[0].id))
        # Slack shows a user's ephemerals among the channel's messages, in the order they came.
        shown = slack.messages(channel) + [m for m in slack.ephemerals(user) if m.channel == channel]
        shown.sort(key=lambda m: _ts_order(m.ts))
        incidents = sorted(
            (_incident(i) for i in vo.incidents()), key=lambda i: (i["phase"] == "RESOLVED", -int(i["number"]))
        )
        calls = [
            {"at": c.at, "method": c.method, "path": c.path, "status": c.status, "rate_limited": c.rate_limited}
            for c in reversed(vo.calls()[-CALLS_SHOWN:])
        ]
        state: Json = {
            "user": user,
            "channel": channel,
            "users": [asdict(u) for u in self.demo_users],
            "names": {u.id: u.name for u in slack.users()},  # for <@U…> mentions
            "channels": [
                {"id": c.id, "name": c.name, "private": c.is_private, "dm": c.im_with is not None}
                for c in slack.channels()
                if c.im_with in (None, user)  # someone else's direct messages with the bot are not shown
            ],
            "home": home.body if (home := slack.home(user)) else None,  # the App Home vobot published for them
            "messages": [self._message_view(m) for m in shown],
            "views": [
                {"id": v.id, "body": v.body, "hash": v.hash, "errors": v.errors}
                for v in slack.views()
                if v.user == user
            ],
            "incidents": incidents,
            "calls": calls,
            "budget": vo.budget(),
        }
        return state | {"version": _version(state)}

    @staticmethod
    def _message_view(message: Message) -> Json:
        return {
            "ts": message.ts,
            "text": message.text,
            "blocks": message.blocks,
            "user": message.user,
            "bot": message.bot_id is not None,
            "ephemeral": message.is_ephemeral,
            "edited": bool(message.history),
        }

    # --- acting -----------------------------------------------------------------------------------------

    async def command(self, request: Request) -> Json:
        body = await _body(request)
        user, channel = self._user(_field(body, "user")), self._channel(_field(body, "channel"))
        name = self.stack.vobot.settings.command
        text = (_field(body, "text", required=False) or "").strip()
        if text.startswith("/"):
            typed, _, text = text.partition(" ")
            if typed == "/invite":
                return self._invite(user, channel, text.strip())
            if typed != name:
                raise BadRequest(f"{typed} is not a valid command here; this workspace has {name} and /invite.")
        result = await self.stack.driver.command(
            user, channel, typed_mentions(text.strip(), {u.name: u.id for u in self.stack.slack.users()}), name
        )
        # The driver has already shown the ack's text to the user, as Slack does.
        return {"status": result.status, "message": _ack_text(result)}

    def _invite(self, user: str, channel: str, who: str) -> Json:
        if who.lstrip("@") != "vobot" and who != f"<@{BOT_USER_ID}>":
            raise BadRequest("In this demo workspace /invite adds the bot only: type /invite @vobot.")
        self.stack.slack.invite_bot(channel, by=user)
        return {"status": 200, "message": ""}

    async def click(self, request: Request) -> Json:
        body = await _body(request)
        user = self._user(_field(body, "user"))
        message = self._message(user, _field(body, "ts"))
        result = await self.stack.driver.click(
            user,
            message,
            str(_field(body, "action_id")),
            value=_field(body, "value", required=False),
            block_id=_field(body, "block_id", required=False),
        )
        return {"status": result.status}

    async def select(self, request: Request) -> Json:
        body = await _body(request)
        user = self._user(_field(body, "user"))
        message = self._message(user, _field(body, "ts"))
        result = await self.stack.driver.select(
            user,
            message,
            str(_field(body, "action_id")),
            str(_field(body, "value")),
            block_id=_field(body, "block_id", required=False),
        )
        return {"status": result.status}

    async def submit(self, request: Request) -> Json:
        body = await _body(request)
        user = self._user(_field(body, "user"))
        view = self._view(_field(body, "view_id"))
        if view.user != user:
            raise BadRequest(f"View “{view.id}” is open for {view.user}, not for {user}.")
        values = body.get("values", {})
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            raise BadRequest("The field “values” must map block ids to {action_id: value} objects.")
        result = await self.stack.driver.submit_view(user, view.id, values)
        return {"status": result.status, "response_action": result.response_action, "errors": result.errors}

    async def message(self, request: Request) -> Json:
        """Plain text typed in the composer: the person's own message in the channel (for a shortcut to act on)."""
        body = await _body(request)
        user, channel = self._user(_field(body, "user")), self._channel(_field(body, "channel"))
        text = str(_field(body, "text")).strip()
        handles = {u.name: u.id for u in self.stack.slack.users()}
        try:
            said = self.stack.slack.user_says(user, channel, typed_mentions(text, handles))
        except SlackError as error:
            raise BadRequest(f"Slack refused the message: {error}.") from None
        return {"ts": said.ts}

    async def open_home(self, request: Request) -> Json:
        """The person opened vobot's Home tab: Slack sends the bot `app_home_opened`."""
        user = self._user(_field(await _body(request), "user"))
        return {"status": (await self.stack.driver.open_home(user)).status}

    async def home_click(self, request: Request) -> Json:
        body = await _body(request)
        user = self._user(_field(body, "user"))
        value = _field(body, "value", required=False)
        result = await self.stack.driver.click_home(user, str(_field(body, "action_id")), value)
        return {"status": result.status}

    async def shortcut(self, request: Request) -> Json:
        """A shortcut: on a message (with its `ts`) from its "⋯" menu, else the global one."""
        body = await _body(request)
        user, callback_id = self._user(_field(body, "user")), str(_field(body, "callback_id"))
        ts = _field(body, "ts", required=False)
        if ts is None:
            result = await self.stack.driver.global_shortcut(user, callback_id)
        else:
            result = await self.stack.driver.message_shortcut(user, self._message(user, ts), callback_id)
        return {"status": result.status}

    async def alert(self, request: Request) -> Json:
        """A new alert, as a monitoring tool sends VictorOps: its incident reaches the bot by webhook, and the
        feed's channel gets its card."""
        alert = random_alert(self._rng)
        self.stack.vo.ingest_alert(alert.routing_key, alert.body)
        return {"routing_key": alert.routing_key}

    async def close(self, request: Request) -> Json:
        view = self._view(_field(await _body(request), "view_id"))
        # The workspace has no close_view; a plain ack to a submission is how it removes exactly one view,
        # which is what Cancel does to the top of a modal stack.
        self.stack.slack.apply_view_response(view.id, None)
        return {"closed": view.id}


def typed_mentions(text: str, handles: Mapping[str, str]) -> str:
    """What Slack's composer does to a typed `@handle` of a workspace member (`handles`: name -> user ID):
    a mention, sent as `<@ID|handle>` (the manifest's should_escape)."""

    def mention(match: re.Match[str]) -> str:
        handle = match.group(1)
        return f"<@{handles[handle]}|{handle}>" if handle in handles else match.group(0)

    return MENTION.sub(mention, text)


def _ack_text(result: DriverResult) -> str:
    message = result.message or {}
    return str(message.get("text") or "")


def build_workspace_routes(stack: LocalStack, demo_users: list[DemoUser]) -> list[BaseRoute]:
    """The page at `/`, its files at `/static/`, and the `/demo/` API it polls and posts to."""
    page = _Page(stack, demo_users)
    return [
        Route("/", page.index, methods=["GET"]),
        _json_route("/demo/state", page.state, "GET"),
        _json_route("/demo/command", page.command, "POST"),
        _json_route("/demo/click", page.click, "POST"),
        _json_route("/demo/select", page.select, "POST"),
        _json_route("/demo/submit", page.submit, "POST"),
        _json_route("/demo/close", page.close, "POST"),
        _json_route("/demo/alert", page.alert, "POST"),
        _json_route("/demo/message", page.message, "POST"),
        _json_route("/demo/home/open", page.open_home, "POST"),
        _json_route("/demo/home/click", page.home_click, "POST"),
        _json_route("/demo/shortcut", page.shortcut, "POST"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
