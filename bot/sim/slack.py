"""A fake Slack workspace: the state behind the fake Web API (`slack_api.py`) and the driver (`slack_driver.py`).

It holds what Slack would: a seeded team, channels and users, channel and ephemeral messages, open views,
trigger ids and response URLs with Slack's expiry rules, plus what tests inspect: a log of every Web API
call and response URL post, injected faults, and the Socket Mode envelopes and their acks.

The HTTP server runs in its own thread while tests read from theirs, so every public method takes the lock
and accessors return deep copies.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

TEAM_ID = "T0VOBOT"
TEAM_DOMAIN = "vobot-demo"
TEAM_NAME = "VoBot Demo"
APP_ID = "A0VOBOT"
BOT_ID = "B0VOBOT"
BOT_USER_ID = "U0VOBOT"
VERIFICATION_TOKEN = "fake-verification-token"  # noqa: S105 - deprecated by Slack, still sent in every payload

TRIGGER_TTL = 3.0
RESPONSE_URL_TTL = 30 * 60.0
RESPONSE_URL_USES = 5
MAX_MESSAGE_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_BUTTON_VALUE = 2000
MAX_VIEW_STACK = 3
MAX_VIEW_BLOCKS = 100  # a modal's or a home's
RESPONSE_URL = "response_url"  # the fault key for posts to response URLs: fail_next(RESPONSE_URL, 500, …)


class SlackError(Exception):
    """A Slack error code, answered as `{"ok": false, "error": code}`."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str
    tz: str
    is_admin: bool = False
    is_bot: bool = False

    def to_api(self) -> Json:
        profile: Json = {
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "team": TEAM_ID,
        }
        # Slack has no email for bots, and tells a bot user by the bot_id in its profile.
        profile |= {"bot_id": BOT_ID} if self.is_bot else {"email": self.email}
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
        }


@dataclass(frozen=True)
class SlackChannel:
    id: str
    name: str
    is_private: bool = False
    bot_is_member: bool = True
    is_archived: bool = False
    im_with: str | None = None  # a direct message channel (D…) between the bot and this user

    def to_api(self) -> Json:
        if self.im_with:
            return {"id": self.id, "is_im": True, "user": self.im_with, "is_archived": False}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,  # C… ids: is_group is only for private channels made before 2021
            "is_group": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.bot_is_member,
        }


def _seed_users() -> tuple[SlackUser, ...]:
    # Emails follow the VictorOps seed (first.last@example.com) so email matching links them; Priya has no
    # VictorOps account.
    people = (
        ("U0ALICE", "alice", "Alice Nguyen", "Europe/Berlin"),
        ("U0BOB", "bob", "Bob Martinez", "America/New_York"),
        ("U0CAROL", "carol", "Carol Chen", "America/Los_Angeles"),
        ("U0DAVE", "dave", "Dave Okafor", "Europe/London"),
        ("U0ERIN", "erin", "Erin Walsh", "Europe/Dublin"),
        ("U0FRANK", "frank", "Frank Moreau", "Europe/Paris"),
        ("U0GRACE", "grace", "Grace Kim", "Asia/Seoul"),
        ("U0HEIDI", "heidi", "Heidi Schmidt", "Europe/Berlin"),
        ("U0IVAN", "ivan", "Ivan Petrov", "Europe/Sofia"),
        ("U0JUDY", "judy", "Judy Alvarez", "America/Chicago"),
    )
    users = [
        SlackUser(uid, name, real, f"{real.replace(' ', '.').lower()}@example.com", tz)
        for uid, name, real, tz in people
    ]
    users.append(
        SlackUser("U0ADMIN1", "priya", "Priya Raman", "priya.raman@example.com", "Asia/Kolkata", is_admin=True)
    )
    users.append(SlackUser(BOT_USER_ID, "vobot", "vobot", "", "America/Los_Angeles", is_bot=True))
    return tuple(users)


SEED_USERS = _seed_users()
SEED_CHANNELS = (
    SlackChannel("C0OPS", "ops"),
    SlackChannel("C0DB", "database"),
    SlackChannel("C0PAY", "payments", bot_is_member=False),  # public: chat:write.public still lets the bot post
    SlackChannel("C0PRIV", "incident-war-room", is_private=True, bot_is_member=False),
)
# user groups (paid plans only) the demo and tests keep on call; users added with usergroups.users.update
SEED_USERGROUPS = {"S0OPSONCALL": ("U0ALICE",), "S0DBONCALL": ("U0DAVE",)}


@dataclass
class MessageVersion:
    text: str
    blocks: list[Json]
    at: float


@dataclass
class Message:
    """A channel message, or an ephemeral one when `ephemeral_to` is set (then `ts` is its id)."""

    ts: str
    channel: str
    text: str
    blocks: list[Json]
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    history: list[MessageVersion] = field(default_factory=list)  # earlier versions, oldest first

    @property
    def is_ephemeral(self) -> bool:
        return self.ephemeral_to is not None

    def to_api(self) -> Json:
        message: Json = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text, "team": TEAM_ID}
        if self.blocks:
            message["blocks"] = self.blocks
        if self.bot_id:
            message |= {"bot_id": self.bot_id, "app_id": APP_ID}
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.history:
            message["edited"] = {"user": self.user, "ts": f"{self.history[-1].at:.6f}"}
        return message


@dataclass
class View:
    id: str
    user: str | None
    body: Json  # the view as the app sent it
    root_view_id: str
    previous_view_id: str | None
    hash: str
    errors: dict[str, str] = field(default_factory=dict)  # from the last `response_action: errors`

    def to_api(self) -> Json:
        return {
            "type": "modal",
            **self.body,
            "id": self.id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "app_installed_team_id": TEAM_ID,
            "hash": self.hash,
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "private_metadata": self.body.get("private_metadata", ""),
            "callback_id": self.body.get("callback_id", ""),
            "external_id": self.body.get("external_id", ""),
            "state": {"values": {}},
        }


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: Json
    at: float
    error: str | None  # None when the call succeeded


@dataclass(frozen=True)
class ResponsePost:
    url: str
    payload: Json
    at: float
    status: int


@dataclass(frozen=True)
class Fault:
    status: int
    error: str
    retry_after: int | None


@dataclass(frozen=True)
class SocketAck:
    envelope_id: str
    payload: Json | None


@dataclass
class _Trigger:
    issued_at: float
    user: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    created_at: float
    original_ts: str | None  # the message replace/delete_original act on
    uses: int = 0


@dataclass(frozen=True)
class _SocketLink:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Json]


def _section_ok(block: Json) -> bool:
    text = block.get("text") or {}
    fields = block.get("fields") or []
    return len(text.get("text", "")) <= MAX_SECTION_TEXT and len(fields) <= MAX_SECTION_FIELDS


def elements(block: Json) -> Iterator[Json]:
    """The interactive elements of a block: an actions block's elements, a section's accessory."""
    yield from block.get("elements") or []
    if "accessory" in block:
        yield block["accessory"]


def check_message(text: str | None, blocks: object, max_blocks: int = MAX_MESSAGE_BLOCKS) -> None:
    """Slack's server-side checks of a message or a home view (slack_sdk does not check message-level limits)."""
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if not text and not blocks:
        raise SlackError("no_text")
    blocks = blocks or []
    if len(blocks) > max_blocks or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise SlackError("invalid_blocks")
    for block in blocks:
        if block["type"] == "section" and not _section_ok(block):
            raise SlackError("invalid_blocks")
        if any(len(str(e.get("value", ""))) > MAX_BUTTON_VALUE for e in elements(block) if e.get("type") == "button"):
            raise SlackError("invalid_blocks")


def with_block_ids(blocks: list[Json]) -> list[Json]:
    """Slack gives every block without a `block_id` one of its own; derive it from the content to be stable."""
    return [
        b
        if "block_id" in b
        else {**b, "block_id": hashlib.sha256(json.dumps(b, sort_keys=True).encode()).hexdigest()[:5]}
        for b in blocks
    ]


class SlackWorkspace:
    """One Slack team as the fake Web API, the response URLs, Socket Mode and the driver see it."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a fake workspace's credentials
        signing_secret: str = "test-signing-secret",  # noqa: S107
        app_token: str = "xapp-test-token",  # noqa: S107
        *,
        clock: Callable[[], float] = time.time,
        base_url: str = "",
    ) -> None:
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.app_token = app_token
        # what Slack reports in auth.test's x-oauth-scopes header: the scopes the app was installed with
        self.scopes = ["commands", "chat:write", "chat:write.public", "users:read", "users:read.email",
                       "channels:read", "groups:read", "usergroups:write"]  # fmt: skip
        self.base_url = base_url  # where the fake is served; set it before making response URLs
        self._clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._users = {u.id: u for u in SEED_USERS}
        self._channels = {c.id: c for c in SEED_CHANNELS}
        self._messages: dict[str, Message] = {}  # ts -> channel or ephemeral message, in posting order
        self._views: dict[str, View] = {}
        self._homes: dict[str, View] = {}  # user -> the App Home view published for them
        self._publishes: dict[str, list[Json]] = {}  # user -> every home view published, oldest first
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._calls: list[ApiCall] = []
        self._response_posts: list[ResponsePost] = []
        self._faults: dict[str, list[Fault]] = {}
        self._sockets: list[_SocketLink] = []
        self._acks: dict[str, SocketAck] = {}
        self._usergroups: dict[str, tuple[str, ...]] = dict(SEED_USERGROUPS)  # user group ID -> its users

    # --- directory -----------------------------------------------------------------------------------

    def user(self, user_id: str) -> SlackUser:
        with self._lock:
            if user_id not in self._users:
                raise SlackError("user_not_found")
            return self._users[user_id]

    def add_user(self, user: SlackUser) -> SlackUser:
        """A person joins the workspace."""
        with self._lock:
            if user.id in self._users:
                raise ValueError(f"the workspace already has a user {user.id}")
            self._users[user.id] = user
            return user

    def add_channel(self, channel: SlackChannel) -> SlackChannel:
        """A channel is made."""
        with self._lock:
            if channel.id in self._channels:
                raise ValueError(f"the workspace already has a channel {channel.id}")
            self._channels[channel.id] = channel
            return channel

    def user_page(self, cursor: str | None, limit: int) -> tuple[list[SlackUser], str]:
        """One page of users.list, in joining order, and the cursor of the next ("" after the last); like
        Slack's, a cursor names the user the next page starts at."""
        with self._lock:
            ids = list(self._users)
            start = 0
            if cursor:
                try:
                    start = ids.index(base64.b64decode(cursor, validate=True).decode().removeprefix("user:"))
                except (ValueError, UnicodeDecodeError):
                    raise SlackError("invalid_cursor") from None
            end = len(ids) if limit <= 0 else start + limit
            after = f"user:{ids[end]}".encode() if end < len(ids) else b""
            return [self._users[i] for i in ids[start:end]], base64.b64encode(after).decode()

    def user_by_email(self, email: str) -> SlackUser:
        with self._lock:
            found = next((u for u in self._users.values() if u.email and u.email == email.lower()), None)
            if found is None:
                raise SlackError("users_not_found")
            return found

    def channel(self, channel_id: str) -> SlackChannel:
        with self._lock:
            found = self._channels.get(channel_id) or next(
                (c for c in self._channels.values() if f"#{c.name}" == channel_id), None
            )
            if found is None:
                raise SlackError("channel_not_found")
            return found

    def users(self) -> list[SlackUser]:
        with self._lock:
            return list(self._users.values())

    def invite_bot(self, channel_id: str, by: str) -> Message:
        """`/invite @vobot`: the bot becomes a member, and the channel says so, as Slack does."""
        with self._lock:
            channel = self.channel(channel_id)
            self._channels[channel.id] = dataclasses.replace(channel, bot_is_member=True)
            return copy.deepcopy(
                self._add(channel.id, f"vobot joined #{channel.name}. Added by <@{by}>.", None, user=by)
            )

    def archive(self, channel_id: str) -> None:
        """The channel is archived: Slack refuses posts to it with `is_archived`."""
        with self._lock:
            channel = self.channel(channel_id)
            self._channels[channel.id] = dataclasses.replace(channel, is_archived=True)

    def open_dm(self, user_id: str) -> SlackChannel:
        """The bot's direct message channel with a user (chat.postMessage to a user id posts there)."""
        with self._lock:
            user = self.user(user_id)
            found = next((c for c in self._channels.values() if c.im_with == user.id), None)
            if found is None:
                found = SlackChannel(f"D{user.id[1:]}", user.name, is_private=True, im_with=user.id)
                self._channels[found.id] = found
            return found

    def channels(self) -> list[SlackChannel]:
        with self._lock:
            return list(self._channels.values())

    # --- user groups ---------------------------------------------------------------------------------

    def usergroup_users(self, group_id: str) -> tuple[str, ...]:
        with self._lock:
            if group_id not in self._usergroups:
                raise SlackError("no_such_subteam")
            return self._usergroups[group_id]

    def update_usergroup(self, group_id: str, users: Sequence[str]) -> tuple[str, ...]:
        """usergroups.users.update: the group's users replaced; Slack refuses an empty list and unknown users."""
        with self._lock:
            if "usergroups:write" not in self.scopes:
                raise SlackError("missing_scope")
            if group_id not in self._usergroups:
                raise SlackError("no_such_subteam")
            if not users:
                raise SlackError("no_users_provided")
            if any(u not in self._users or self._users[u].is_bot for u in users):
                raise SlackError("invalid_users")
            self._usergroups[group_id] = tuple(dict.fromkeys(users))
            return self._usergroups[group_id]

    # --- accessors for tests -------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if method in (None, c.method)]

    def messages(self, channel: str) -> list[Message]:
        """Channel messages (not ephemerals), oldest first."""
        with self._lock:
            return copy.deepcopy([m for m in self._messages.values() if m.channel == channel and not m.is_ephemeral])

    def ephemerals(self, user: str | None = None) -> list[Message]:
        with self._lock:
            found = [m for m in self._messages.values() if m.is_ephemeral and user in (None, m.ephemeral_to)]
            return copy.deepcopy(found)

    def find_message(self, ts: str) -> Message | None:
        with self._lock:
            return copy.deepcopy(self._messages.get(ts))

    def views(self) -> list[View]:
        """Open views, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._views.values()))

    def view(self, view_id: str) -> View:
        with self._lock:
            if view_id not in self._views:
                raise SlackError("not_found")
            return copy.deepcopy(self._views[view_id])

    def response_posts(self, url: str | None = None) -> list[ResponsePost]:
        with self._lock:
            return [p for p in self._response_posts if url in (None, p.url)]

    # --- Web API bookkeeping -------------------------------------------------------------------------

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, error: str = "ratelimited", times: int = 1
    ) -> None:
        """The next `times` calls of `method` answer `status` with `{"ok": false, "error": error}`."""
        with self._lock:
            self._faults.setdefault(method, []).extend([Fault(status, error, retry_after)] * times)

    def take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queued = self._faults.get(method)
            return queued.pop(0) if queued else None

    def record_call(self, method: str, params: Json, error: str | None) -> None:
        with self._lock:
            self._calls.append(ApiCall(method, params, self._clock(), error))

    # --- messages ------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(self._clock())}.{next(self._ids):06d}"

    def _postable(self, channel_id: str) -> SlackChannel:
        channel = self.channel(channel_id)
        if channel.is_archived:
            raise SlackError("is_archived")
        if channel.is_private and not channel.bot_is_member:
            raise SlackError("not_in_channel")
        return channel

    def _add(self, channel: str, text: str | None, blocks: list[Json] | None, **more: Any) -> Message:
        check_message(text, blocks)
        message = Message(self._next_ts(), channel, text or "", with_block_ids(blocks or []), **more)
        self._messages[message.ts] = message
        return message

    def _existing(self, ts: str) -> Message:
        """A channel message: chat.update and chat.delete cannot reach ephemerals."""
        message = self._messages.get(ts)
        if message is None or message.is_ephemeral:
            raise SlackError("message_not_found")
        return message

    def _replace(self, message: Message, text: str | None, blocks: list[Json] | None) -> None:
        check_message(text, blocks)
        message.history.append(MessageVersion(message.text, message.blocks, self._clock()))
        message.text, message.blocks = text or "", with_block_ids(blocks or [])

    def post_message(
        self, channel: str, text: str | None, blocks: list[Json] | None = None, thread_ts: str | None = None
    ) -> Message:
        """chat.postMessage by the bot."""
        with self._lock:
            # a user id as the channel is the bot's direct message with them, as in Slack
            channel_id = (self.open_dm(channel) if channel in self._users else self._postable(channel)).id
            message = self._add(channel_id, text, blocks, user=BOT_USER_ID, bot_id=BOT_ID, thread_ts=thread_ts)
            return copy.deepcopy(message)

    def user_says(self, user_id: str, channel: str, text: str, thread_ts: str | None = None) -> Message:
        """A person's own message in a channel, or in a thread of it (what a shortcut on a message acts on)."""
        with self._lock:
            found, user = self.channel(channel), self.user(user_id).id
            if found.is_archived:
                raise SlackError("is_archived")
            return copy.deepcopy(self._add(found.id, text, None, user=user, thread_ts=thread_ts))

    def update_message(self, channel: str, ts: str, text: str | None, blocks: list[Json] | None) -> Message:
        """chat.update: a field left out keeps its value, as in Slack."""
        with self._lock:
            message = self._existing(ts)
            if message.channel != self.channel(channel).id:
                raise SlackError("message_not_found")
            self._replace(message, message.text if text is None else text, message.blocks if blocks is None else blocks)
            return copy.deepcopy(message)

    def post_ephemeral(self, channel: str, user: str, text: str | None, blocks: list[Json] | None = None) -> Message:
        with self._lock:
            channel_id, user_id = self._postable(channel).id, self.user(user).id
            message = self._add(channel_id, text, blocks, user=BOT_USER_ID, bot_id=BOT_ID, ephemeral_to=user_id)
            return copy.deepcopy(message)

    def delete_message(self, channel: str, ts: str) -> None:
        with self._lock:
            if self._existing(ts).channel != self.channel(channel).id:
                raise SlackError("message_not_found")
            del self._messages[ts]

    # --- triggers and views --------------------------------------------------------------------------

    def new_trigger_id(self, user: str | None = None) -> str:
        """A trigger id as Slack puts in a command or interaction: valid for 3 s, once."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{int(self._clock())}.{secrets.token_hex(8)}"
            self._triggers[trigger_id] = _Trigger(self._clock(), user)
            return trigger_id

    def _exchange(self, trigger_id: str) -> _Trigger:
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self._clock() - trigger.issued_at > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _new_view(self, body: Json, user: str | None, previous: View | None) -> View:
        external_id = body.get("external_id")
        if external_id and any(v.body.get("external_id") == external_id for v in self._views.values()):
            raise SlackError("duplicate_external_id")
        view_id = f"V{next(self._ids):08d}"
        root = previous.root_view_id if previous else view_id
        view = View(view_id, user, {}, root, previous.id if previous else None, hash="")
        self._replace_view(view, body)
        self._views[view_id] = view
        return view

    def _hash(self, body: Json) -> str:
        return f"{int(self._clock())}.{hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]}"

    def _replace_view(self, view: View, body: Json) -> None:
        view.body = {**body, "blocks": with_block_ids(body.get("blocks") or [])}
        view.hash, view.errors = self._hash(view.body), {}

    def _stack(self, user: str | None) -> list[View]:
        return [v for v in self._views.values() if v.user == user]

    def open_view(self, trigger_id: str, body: Json) -> View:
        with self._lock:
            trigger = self._exchange(trigger_id)
            return copy.deepcopy(self._new_view(body, trigger.user, None))

    def push_view(self, trigger_id: str, body: Json) -> View:
        with self._lock:
            trigger = self._exchange(trigger_id)
            stack = self._stack(trigger.user)
            if len(stack) >= MAX_VIEW_STACK:
                raise SlackError("push_limit_reached")
            return copy.deepcopy(self._new_view(body, trigger.user, stack[-1] if stack else None))

    def update_view(self, body: Json, view_id: str | None = None, external_id: str | None = None) -> View:
        with self._lock:
            view = self._views.get(view_id or "") or next(
                (v for v in self._views.values() if external_id and v.body.get("external_id") == external_id), None
            )
            if view is None:
                raise SlackError("not_found")
            self._replace_view(view, body)
            return copy.deepcopy(view)

    def publish_home(self, user_id: str, body: Json, hash_: str | None = None) -> View:
        """views.publish: the user's App Home. A stale `hash` is refused, as Slack does."""
        with self._lock:
            self.user(user_id)
            if body.get("type") != "home":
                raise SlackError("invalid_arguments")
            check_message("home", body.get("blocks"), MAX_VIEW_BLOCKS)
            current = self._homes.get(user_id)
            if hash_ and current is not None and current.hash != hash_:
                raise SlackError("hash_conflict")
            view = current or View(f"V{next(self._ids):08d}", user_id, {}, "", None, hash="")
            view.root_view_id = view.id
            self._replace_view(view, body)
            self._homes[user_id] = view
            self._publishes.setdefault(user_id, []).append(copy.deepcopy(view.body))
            return copy.deepcopy(view)

    def home(self, user_id: str) -> View | None:
        """The App Home last published for the user."""
        with self._lock:
            return copy.deepcopy(self._homes.get(user_id))

    def publishes(self, user_id: str) -> list[Json]:
        """Every home view published for the user, oldest first."""
        with self._lock:
            return copy.deepcopy(self._publishes.get(user_id, []))

    def permalink(self, channel_id: str, ts: str) -> str:
        """chat.getPermalink: a channel message's address."""
        with self._lock:
            message, channel = self._messages.get(ts), self.channel(channel_id)
            if channel.is_private and not channel.bot_is_member:
                raise SlackError("channel_not_found")  # as Slack: a private channel the bot is not in is unseen
            if message is None or message.is_ephemeral or message.channel != channel.id:
                raise SlackError("message_not_found")
            return f"https://{TEAM_DOMAIN}.slack.com/archives/{message.channel}/p{ts.replace('.', '')}"

    def apply_view_response(self, view_id: str, response: Json | None) -> None:
        """What Slack does with the app's answer to a view_submission (None: an empty ack)."""
        answer = response or {}
        with self._lock:
            view = self._views[view_id]
            match answer.get("response_action"):
                case "errors":
                    view.errors = dict(answer.get("errors") or {})
                case "update":
                    self._replace_view(view, answer["view"])
                case "push":
                    self._new_view(answer["view"], view.user, view)
                case "clear":
                    for other in [v for v in self._views.values() if v.root_view_id == view.root_view_id]:
                        del self._views[other.id]
                case _:  # a plain ack closes the submitted view
                    del self._views[view_id]

    # --- response URLs -------------------------------------------------------------------------------

    def new_response_url(
        self, kind: str, channel: str, user: str, message_ts: str | None = None, ephemeral_id: str | None = None
    ) -> str:
        """A response URL for a command ("commands") or an interaction ("actions") by `user` in `channel`;
        replace/delete_original then act on `message_ts` or `ephemeral_id` (or on the first message it posts)."""
        if not self.base_url:
            raise RuntimeError("set SlackWorkspace.base_url to the fake's URL before making response URLs")
        with self._lock:
            path = f"{kind}/{TEAM_ID}/{next(self._ids)}"
            self._response_urls[path] = _ResponseUrl(channel, user, self._clock(), message_ts or ephemeral_id)
            return f"{self.base_url}/hooks/{path}"

    def post_to_response_url(self, path: str, payload: Json) -> tuple[int, str]:
        """POST /hooks/<path>: Slack's answer as (status, body); a fault from `fail_next(RESPONSE_URL, …)` first."""
        with self._lock:
            fault = self.take_fault(RESPONSE_URL)
            status, body = (fault.status, fault.error) if fault else self._use_response_url(path, payload)
            self._response_posts.append(ResponsePost(f"{self.base_url}/hooks/{path}", payload, self._clock(), status))
            return status, body

    def _use_response_url(self, path: str, payload: Json) -> tuple[int, str]:
        hook = self._response_urls.get(path)
        if hook is None:
            return 404, "no_service"
        hook.uses += 1
        if hook.uses > RESPONSE_URL_USES:
            return 404, "used_url"
        if self._clock() - hook.created_at > RESPONSE_URL_TTL:
            return 404, "expired_url"
        try:
            self._respond(hook, payload)
        except SlackError as error:
            return 400 if error.error != "message_not_found" else 404, error.error
        return 200, "ok"

    def show_ack(self, response_url: str, payload: Json) -> None:
        """A slash command's ack body is shown like a response, without using up the response URL."""
        with self._lock:
            self._respond(self._response_urls[response_url.split("/hooks/", 1)[1]], payload)

    def _respond(self, hook: _ResponseUrl, payload: Json) -> None:
        original = self._messages.get(hook.original_ts or "")
        if payload.get("delete_original"):
            if original is None:
                raise SlackError("message_not_found")
            del self._messages[original.ts]
            return
        text, blocks = payload.get("text"), payload.get("blocks")
        if payload.get("replace_original") and original is not None:
            self._replace(original, text, blocks)  # a response replaces the message entirely
            return
        thread_ts = payload.get("thread_ts")
        if payload.get("response_type") == "in_channel":
            posted = self._add(hook.channel, text, blocks, user=BOT_USER_ID, bot_id=BOT_ID, thread_ts=thread_ts)
        else:
            posted = self._add(hook.channel, text, blocks, user=BOT_USER_ID, bot_id=BOT_ID, ephemeral_to=hook.user)
        if hook.original_ts is None:
            hook.original_ts = posted.ts

    # --- Socket Mode ---------------------------------------------------------------------------------

    def connect_socket(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[Json]:
        """Register a Socket Mode connection served in `loop`; envelopes for it arrive on the returned queue."""
        queue: asyncio.Queue[Json] = asyncio.Queue()
        with self._lock:
            self._sockets.append(_SocketLink(loop, queue))
        return queue

    def disconnect_socket(self, queue: asyncio.Queue[Json]) -> None:
        with self._lock:
            self._sockets = [s for s in self._sockets if s.queue is not queue]

    def socket_connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def push_envelope(self, envelope_type: str, payload: Json) -> str:
        """Queue an envelope on the newest connection (Slack picks one of the open ones); returns its id."""
        with self._lock:
            if not self._sockets:
                raise RuntimeError("no Socket Mode client is connected")
            link = self._sockets[-1]
            envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
        }
        link.loop.call_soon_threadsafe(link.queue.put_nowait, envelope)
        return envelope_id

    def record_ack(self, message: Json) -> None:
        with self._lock:
            envelope_id = str(message.get("envelope_id"))
            self._acks[envelope_id] = SocketAck(envelope_id, message.get("payload"))

    def socket_ack(self, envelope_id: str) -> SocketAck | None:
        with self._lock:
            return self._acks.get(envelope_id)
