"""What Slack itself does toward a bot: signed slash commands and interactions over HTTP, Socket Mode envelopes.

Payloads are built from the workspace's state (a button can only be clicked if the message holds it, a view
submitted only while it is open), carry a fresh trigger id and response URL from the workspace, and are
signed with the v0 scheme. What Slack then does with the bot's answer is applied to the workspace too: a
slash command's ack text is shown to the user, a view_submission's `response_action` updates the views.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sim.slack import (
    APP_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    Json,
    Message,
    SlackWorkspace,
    SocketAck,
    View,
    elements,
)

T = TypeVar("T")
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
# What a person picks from Slack's autocomplete (or Slack links for them): a mention, channel, special mention
# or link, which Slack sends as such; every other `&`, `<`, `>` is typed text, which Slack sends escaped.
_PICKED = re.compile(r"(<(?:[@#!][^<>\s|]+(?:\|[^<>]*)?|(?:https?|mailto):[^<>\s|]+(?:\|[^<>]*)?)>)")


def typed_as_slack_sends(text: str) -> str:
    """Slash-command text as Slack sends it (`should_escape: true`): `latency > 2s & rising` arrives as
    `latency &gt; 2s &amp; rising`, while a `<@U0DAVE>` in `text` stands for a person picked from the
    autocomplete and arrives as it is."""
    parts = _PICKED.split(text)
    return "".join(
        p if i % 2 else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts)
    )


async def wait_for(predicate: Callable[[], T | None], within: float = 3.0, interval: float = 0.01) -> T:
    """Poll until `predicate()` is truthy and return it: the bot keeps working after its ack."""
    deadline = time.monotonic() + within
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing matched within {within} s")
        await asyncio.sleep(interval)
    return result


@dataclass(frozen=True)
class DriverResult:
    """The bot's HTTP answer to one request from "Slack"."""

    status: int
    body: str
    elapsed: float  # seconds until the answer: Slack gives up after 3
    content_type: str

    @property
    def json(self) -> Json | None:
        if not self.body or not self.content_type.startswith("application/json"):
            return None
        parsed: object = json.loads(self.body)
        return parsed if isinstance(parsed, dict) else None

    @property
    def message(self) -> Json | None:
        """The ack body as Slack reads it for a slash command: JSON, or plain text."""
        return self.json or ({"text": self.body} if self.body else None)

    @property
    def response_action(self) -> str | None:
        return (self.json or {}).get("response_action")

    @property
    def errors(self) -> dict[str, str]:
        return dict((self.json or {}).get("errors") or {})


def _option(element: Json, value: str) -> Json:
    options: list[Json] = list(element.get("options") or [])
    options += [o for group in element.get("option_groups") or [] for o in group["options"]]
    found = next((o for o in options if o["value"] == value), None)
    if found is None:
        raise LookupError(f"{element.get('action_id')!r} has no option {value!r}")
    return found


def _input_state(element: Json, value: Any) -> Json:
    """One element's entry in `view.state.values`, in Slack's shape for its type."""
    kind = element["type"]
    match kind:
        case "plain_text_input":
            return {"type": kind, "value": value}
        case "static_select":
            return {"type": kind, "selected_option": None if value is None else _option(element, value)}
        case "multi_static_select":
            return {"type": kind, "selected_options": [_option(element, v) for v in value or []]}
        case "users_select":
            return {"type": kind, "selected_user": value}
        case "multi_users_select":
            return {"type": kind, "selected_users": list(value or [])}
        case "conversations_select":
            return {"type": kind, "selected_conversation": value}
        case _:
            raise ValueError(f"the driver cannot fill a {kind}")


def _initial(element: Json) -> Any:
    """What an input holds before the person touches it: Slack submits a preselected option as chosen."""
    if option := element.get("initial_option"):
        return option["value"]
    return [o["value"] for o in element["initial_options"]] if element.get("initial_options") else None


def _view_state(view: View, values: dict[str, dict[str, Any]]) -> Json:
    inputs = [b for b in view.body.get("blocks", []) if b["type"] == "input"]
    unknown = set(values) - {b["block_id"] for b in inputs}
    if unknown:
        raise LookupError(f"view {view.id} has no input blocks {sorted(unknown)}")
    state: Json = {}
    for block in inputs:
        element = block["element"]
        value = values.get(block["block_id"], {}).get(element["action_id"], _initial(element))
        if value in (None, "", []) and not block.get("optional", False):
            raise ValueError(f"Slack would not submit: input {block['block_id']!r} is required")
        state[block["block_id"]] = {element["action_id"]: _input_state(element, value)}
    return state


def _one_element(
    blocks: list[Json], where: str, kind: str, action_id: str, block_id: str | None, value: str | None
) -> Json:
    """The one `kind` element of `blocks` that matches, with its block_id."""
    found = [
        element | {"block_id": block["block_id"]}
        for block in blocks
        for element in elements(block)
        if element.get("type") == kind
        and element.get("action_id") == action_id
        and block_id in (None, block["block_id"])
        and value in (None, element.get("value"))
    ]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise LookupError(f"{where} has {what} {kind} {action_id!r} (block {block_id}, value {value})")
    return found[0]


class SlackDriver:
    """Plays Slack toward the bot at `bot_url` (e.g. http://127.0.0.1:PORT/slack/events).

    `signing_secret` signs the requests (pass a wrong one to test rejection); `timestamp_offset` moves the
    signed timestamp, e.g. -310 or 310 for a stale one (timestamps are whole seconds, so an offset of just
    over 300 is sometimes still inside Slack's 5-minute window).
    """

    def __init__(
        self,
        workspace: SlackWorkspace,
        bot_url: str,
        signing_secret: str,
        *,
        timestamp_offset: float = 0.0,
        timeout: float = 3.0,
    ) -> None:
        self.workspace = workspace
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.timestamp_offset = timestamp_offset
        self.timeout = timeout

    # --- payloads ------------------------------------------------------------------------------------

    def _user(self, user_id: str) -> Json:
        user = self.workspace.user(user_id)
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}

    def _interaction(self, kind: str, user_id: str) -> Json:
        return {
            "type": kind,
            "user": self._user(user_id),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.workspace.new_trigger_id(user_id),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def command_payload(self, user_id: str, channel_id: str, text: str, command: str = "/vo") -> dict[str, str]:
        """The fields of a slash command, as Slack form-encodes them (or puts them in a Socket Mode envelope);
        `text` is what the person typed (see `typed_as_slack_sends`)."""
        user, channel = self.workspace.user(user_id), self.workspace.channel(channel_id)
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": typed_as_slack_sends(text),
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.workspace.new_response_url("commands", channel.id, user.id),
            "trigger_id": self.workspace.new_trigger_id(user.id),
        }

    def _current(self, message: Message) -> Message:
        """The message as it is now: a user clicks what Slack shows, not an old copy."""
        current = self.workspace.find_message(message.ts)
        if current is None:
            raise LookupError(f"message {message.ts} no longer exists")
        return current

    def _block_actions(self, user_id: str, current: Message, action: Json, state: Json) -> Json:
        original = {"ephemeral_id": current.ts} if current.is_ephemeral else {"message_ts": current.ts}
        channel = self.workspace.channel(current.channel)
        payload = self._interaction("block_actions", user_id) | {
            "container": {
                "type": "message",
                "message_ts": current.ts,
                "channel_id": channel.id,
                "is_ephemeral": current.is_ephemeral,
            },
            "channel": {"id": channel.id, "name": channel.name},
            "state": {"values": state},
            "response_url": self.workspace.new_response_url("actions", channel.id, user_id, **original),
            "actions": [action | {"action_ts": f"{time.time():.6f}"}],
        }
        if not current.is_ephemeral:  # a click on an ephemeral message carries no copy of it
            payload["message"] = current.to_api()
        return payload

    @staticmethod
    def _element(message: Message, kind: str, action_id: str, block_id: str | None, value: str | None) -> Json:
        """The one `kind` element of the message that matches, with its block_id."""
        return _one_element(message.blocks, f"message {message.ts}", kind, action_id, block_id, value)

    def click_payload(
        self, user_id: str, message: Message, action_id: str, value: str | None = None, block_id: str | None = None
    ) -> Json:
        """block_actions for a click on a button of `message`; `value`/`block_id` pick among equal action_ids."""
        current = self._current(message)
        button = self._element(current, "button", action_id, block_id, value)
        action = {key: button[key] for key in ("action_id", "block_id", "text", "value", "style") if key in button}
        return self._block_actions(user_id, current, action | {"type": "button"}, {})

    def select_payload(
        self, user_id: str, message: Message, action_id: str, option_value: str, block_id: str | None = None
    ) -> Json:
        """block_actions for choosing an option of a static_select in `message`."""
        current = self._current(message)
        select = self._element(current, "static_select", action_id, block_id, None)
        option = _option(select, option_value)
        action = {
            "type": "static_select",
            "action_id": action_id,
            "block_id": select["block_id"],
            "selected_option": option,
            "placeholder": select.get("placeholder"),
        }
        state = {select["block_id"]: {action_id: {"type": "static_select", "selected_option": option}}}
        return self._block_actions(user_id, current, action, state)

    def view_submission_payload(self, user_id: str, view_id: str, values: dict[str, dict[str, Any]]) -> Json:
        """view_submission of an open view; `values` maps block_id -> action_id -> value (a str, a list of str
        for multi selects, a user id for users_select, an option value for selects)."""
        view = self.workspace.view(view_id)
        if view.user not in (None, user_id):
            raise LookupError(f"view {view_id} is open for {view.user}, not {user_id}")
        return self._interaction("view_submission", user_id) | {
            "view": view.to_api() | {"state": {"values": _view_state(view, values)}},
            "response_urls": [],
        }

    def home_opened_payload(self, user_id: str, tab: str = "home") -> Json:
        """The Events API's `app_home_opened` for `user_id`, with the home view Slack has for them, if any."""
        event: Json = {
            "type": "app_home_opened",
            "user": self.workspace.user(user_id).id,
            "channel": f"D{user_id}",
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        }
        if (home := self.workspace.home(user_id)) is not None:
            event["view"] = home.to_api()
        return self.event_payload(event)

    def event_payload(self, event: Json) -> Json:
        """An Events API delivery (`event_callback`) of `event`, with a fresh event id."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(8).upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0VOBOT", "is_bot": True}],
        }

    def home_click_payload(self, user_id: str, action_id: str, value: str | None = None) -> Json:
        """block_actions for a click on a button of the user's App Home (no response_url: a view has none)."""
        home = self.workspace.home(user_id)
        if home is None:
            raise LookupError(f"{user_id} has no App Home published")
        button = _one_element(home.body.get("blocks", []), f"the home of {user_id}", "button", action_id, None, value)
        action = {key: button[key] for key in ("action_id", "block_id", "text", "value", "style") if key in button}
        return self._interaction("block_actions", user_id) | {
            "container": {"type": "view", "view_id": home.id},
            "view": home.to_api(),
            "actions": [action | {"type": "button", "action_ts": f"{time.time():.6f}"}],
        }

    def message_shortcut_payload(self, user_id: str, message: Message, callback_id: str) -> Json:
        """`message_action`: the "…" menu of a channel message, picked by `user_id`."""
        current = self._current(message)
        channel = self.workspace.channel(current.channel)
        return self._interaction("message_action", user_id) | {
            "callback_id": callback_id,
            "action_ts": f"{time.time():.6f}",
            "message_ts": current.ts,
            "message": current.to_api(),
            "channel": {"id": channel.id, "name": channel.name},
            "response_url": self.workspace.new_response_url("actions", channel.id, user_id),
        }

    def global_shortcut_payload(self, user_id: str, callback_id: str) -> Json:
        """`shortcut`: a global shortcut from the composer or the search bar (no channel, no response URL)."""
        return self._interaction("shortcut", user_id) | {"callback_id": callback_id, "action_ts": f"{time.time():.6f}"}

    # --- over HTTP -----------------------------------------------------------------------------------

    async def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> DriverResult:
        """POST a body to the bot (a form, or JSON for the Events API), signed as Slack signs it."""
        timestamp = str(int(time.time() + self.timestamp_offset))
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=timestamp, body=body)
        assert signature is not None  # None only without a timestamp
        headers = {
            "Content-Type": content_type,
            "User-Agent": SLACK_USER_AGENT,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            started = time.perf_counter()
            response = await client.post(self.bot_url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
        return DriverResult(response.status_code, response.text, elapsed, response.headers.get("content-type", ""))

    async def command(self, user_id: str, channel_id: str, text: str, command: str = "/vo") -> DriverResult:
        """A slash command; an ack with text is shown to the user, as Slack does."""
        payload = self.command_payload(user_id, channel_id, text, command)
        result = await self.post(urlencode(payload))
        if result.status == 200 and result.message:
            self.workspace.show_ack(payload["response_url"], result.message)
        return result

    async def _interact(self, payload: Json) -> DriverResult:
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def click(
        self, user_id: str, message: Message, action_id: str, value: str | None = None, block_id: str | None = None
    ) -> DriverResult:
        return await self._interact(self.click_payload(user_id, message, action_id, value, block_id))

    async def select(
        self, user_id: str, message: Message, action_id: str, option_value: str, block_id: str | None = None
    ) -> DriverResult:
        return await self._interact(self.select_payload(user_id, message, action_id, option_value, block_id))

    async def event(self, payload: Json) -> DriverResult:
        """An Events API request (JSON), e.g. `home_opened_payload` or a `url_verification`."""
        return await self.post(json.dumps(payload), "application/json")

    async def open_home(self, user_id: str, tab: str = "home") -> DriverResult:
        return await self.event(self.home_opened_payload(user_id, tab))

    async def click_home(self, user_id: str, action_id: str, value: str | None = None) -> DriverResult:
        return await self._interact(self.home_click_payload(user_id, action_id, value))

    async def message_shortcut(self, user_id: str, message: Message, callback_id: str) -> DriverResult:
        return await self._interact(self.message_shortcut_payload(user_id, message, callback_id))

    async def global_shortcut(self, user_id: str, callback_id: str) -> DriverResult:
        return await self._interact(self.global_shortcut_payload(user_id, callback_id))

    async def submit_view(self, user_id: str, view_id: str, values: dict[str, dict[str, Any]]) -> DriverResult:
        """Submit an open view; its `response_action` (errors, update, push, clear, or none: close) is applied."""
        result = await self._interact(self.view_submission_payload(user_id, view_id, values))
        if result.status == 200:
            self.workspace.apply_view_response(view_id, result.json)
        return result

    # --- over Socket Mode ----------------------------------------------------------------------------

    async def send_socket_envelope(self, envelope_type: str, payload: Json) -> SocketAck:
        """Deliver `payload` ("slash_commands", "interactive", "events_api") to the connected Socket Mode
        client and wait for its ack."""
        await wait_for(self.workspace.socket_connections, self.timeout)
        envelope_id = self.workspace.push_envelope(envelope_type, payload)
        ack = await wait_for(lambda: self.workspace.socket_ack(envelope_id), self.timeout)
        if envelope_type == "slash_commands" and ack.payload:
            self.workspace.show_ack(payload["response_url"], ack.payload)
        return ack
