"""The fake Slack over loopback: slack_sdk and Bolt talk to it as they would to Slack, and the driver's
requests pass (or fail) Bolt's signature check as Slack's would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.sim.seed import build_seed
from bot.sim.server import ServerThread, serve
from bot.sim.slack import SlackUser, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from tests.fakes import FakeClock

Json = dict[str, Any]
TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
BUTTONS: list[Json] = [
    {"type": "section", "block_id": "card", "text": {"type": "mrkdwn", "text": "*#42* disk full"}},
    {
        "type": "actions",
        "block_id": "card-actions",
        "elements": [
            {"type": "button", "action_id": "ack", "value": "42", "text": {"type": "plain_text", "text": "Ack"}},
            {"type": "button", "action_id": "resolve", "value": "42", "text": {"type": "plain_text", "text": "Done"}},
        ],
    },
]


class AppSlot:
    """An ASGI app that forwards to whichever app is in the slot: one server for the module, a fresh fake
    workspace per test (stopping uvicorn takes ~0.2 s)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[tuple[str, AppSlot]]:
    slot = AppSlot()
    with ServerThread(slot) as server:
        yield server.url, slot


def fresh_workspace(slack_server: tuple[str, AppSlot], **options: Any) -> SlackWorkspace:
    url, slot = slack_server
    workspace = SlackWorkspace(base_url=url, **options)
    slot.app = build_slack_api(workspace)
    return workspace


@pytest.fixture
def workspace(slack_server: tuple[str, AppSlot]) -> SlackWorkspace:
    return fresh_workspace(slack_server)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def timed_workspace(slack_server: tuple[str, AppSlot], clock: FakeClock) -> SlackWorkspace:
    return fresh_workspace(slack_server, clock=clock)


def web_client(workspace: SlackWorkspace, token: str | None = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=f"{workspace.base_url}/api/")


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


# --- Web API ---------------------------------------------------------------------------------------


def test_seeded_people_match_the_victorops_seed_by_email() -> None:
    workspace = SlackWorkspace()
    victorops_emails = {u.email for u in build_seed(0, 0.0).directory.users}
    slack_emails = {u.email for u in workspace.users() if not u.is_bot}
    assert victorops_emails < slack_emails  # everyone links by email; one Slack admin has no VictorOps account
    assert [c.id for c in workspace.channels()] == ["C0OPS", "C0DB", "C0PAY", "C0PRIV"]


def test_form_bodies_and_token_argument(workspace: SlackWorkspace) -> None:
    """The sync WebClient posts forms; blocks then travel as JSON text, and a `token` argument is honoured."""
    client = WebClient(base_url=f"{workspace.base_url}/api/")
    form = {"token": TOKEN, "channel": "C0OPS", "blocks": json.dumps([_section("from a form")])}
    posted = client.api_call("chat.postMessage", data=form)
    [message] = workspace.messages("C0OPS")
    assert (message.ts, message.blocks[0]["text"]["text"]) == (posted["ts"], "from a form")
    assert client.users_info(token=TOKEN, user="U0GRACE")["user"]["tz"] == "Asia/Seoul"
    assert "token" not in workspace.calls("chat.postMessage")[0].params


async def test_auth_test_names_the_bot(workspace: SlackWorkspace) -> None:
    response = await web_client(workspace).auth_test()
    assert (response["team_id"], response["user_id"], response["bot_id"]) == ("T0VOBOT", "U0VOBOT", "B0VOBOT")
    assert [c.method for c in workspace.calls()] == ["auth.test"]


async def test_post_then_update_keeps_the_history(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    posted = await client.chat_postMessage(channel="C0OPS", text="#42 triggered", blocks=BUTTONS)
    updated = await client.chat_update(channel="C0OPS", ts=posted["ts"], text="#42 acked by alice")

    [message] = workspace.messages("C0OPS")
    assert message.ts == posted["ts"] == updated["ts"]
    assert (message.text, message.bot_id) == ("#42 acked by alice", "B0VOBOT")
    assert message.blocks == BUTTONS  # chat.update without blocks keeps them, as Slack does
    assert [v.text for v in message.history] == ["#42 triggered"]
    assert updated["message"]["edited"]["user"] == "U0VOBOT"
    assert workspace.calls("chat.update")[0].params == {
        "channel": "C0OPS",
        "ts": posted["ts"],
        "text": "#42 acked by alice",
    }


async def test_blocks_without_block_id_get_one(workspace: SlackWorkspace) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    posted = await web_client(workspace).chat_postMessage(channel="C0OPS", text="hi", blocks=blocks)
    [block] = posted["message"]["blocks"]
    assert len(block["block_id"]) == 5 and block["text"] == blocks[0]["text"]


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
async def test_bad_token_is_refused(workspace: SlackWorkspace, token: str | None, error: str) -> None:
    raised = await error_of(web_client(workspace, token).chat_postMessage(channel="C0OPS", text="hi"))
    assert raised.response["error"] == error
    assert workspace.messages("C0OPS") == []


@pytest.mark.parametrize(("channel", "error"), [("C0NOPE", "channel_not_found"), ("C0PRIV", "not_in_channel")])
async def test_post_needs_a_reachable_channel(workspace: SlackWorkspace, channel: str, error: str) -> None:
    raised = await error_of(web_client(workspace).chat_postMessage(channel=channel, text="hi"))
    assert raised.response["error"] == error


async def test_public_channel_without_membership_and_channel_names_work(workspace: SlackWorkspace) -> None:
    await web_client(workspace).chat_postMessage(channel="C0PAY", text="digest")
    await web_client(workspace).chat_postMessage(channel="#ops", text="by name")
    assert [m.text for m in workspace.messages("C0PAY")] == ["digest"]
    assert [m.text for m in workspace.messages("C0OPS")] == ["by name"]


def _section(text: str) -> Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(value: str) -> Json:
    return {"type": "actions", "elements": [{"type": "button", "action_id": "a", "value": value, "text": {}}]}


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("text", "blocks", "error"),
    [
        ("many", [_section("x")] * 51, "invalid_blocks"),
        ("long", [_section("x" * 3001)], "invalid_blocks"),
        ("value", [_button("v" * 2001)], "invalid_blocks"),
        ("", None, "no_text"),
    ],
)
async def test_message_limits(workspace: SlackWorkspace, text: str, blocks: list[Json] | None, error: str) -> None:
    raised = await error_of(web_client(workspace).chat_postMessage(channel="C0OPS", text=text, blocks=blocks))
    assert raised.response["error"] == error
    assert workspace.calls("chat.postMessage")[0].error == error


async def test_limits_themselves_are_allowed(workspace: SlackWorkspace) -> None:
    blocks = [_section("x" * 3000), _button("v" * 2000)] + [_section("y")] * 48
    await web_client(workspace).chat_postMessage(channel="C0OPS", text="full", blocks=blocks)
    assert len(workspace.messages("C0OPS")[0].blocks) == 50


async def test_update_and_delete_need_the_message(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    assert (await error_of(client.chat_update(channel="C0OPS", ts="1.2", text="x"))).response["error"] == (
        "message_not_found"
    )
    posted = await client.chat_postMessage(channel="C0OPS", text="bye")
    await client.chat_delete(channel="C0OPS", ts=posted["ts"])
    assert workspace.messages("C0OPS") == []


async def test_post_ephemeral(workspace: SlackWorkspace) -> None:
    response = await web_client(workspace).chat_postEphemeral(channel="C0DB", user="U0DAVE", text="only you")
    [message] = workspace.ephemerals("U0DAVE")
    assert (message.ts, message.channel, message.text) == (response["message_ts"], "C0DB", "only you")
    assert workspace.ephemerals("U0ALICE") == [] and workspace.messages("C0DB") == []


async def test_trigger_id_is_single_use_and_lives_three_seconds(
    timed_workspace: SlackWorkspace, clock: FakeClock
) -> None:
    client, view = web_client(timed_workspace), {"type": "modal", "title": {"type": "plain_text", "text": "Reroute"}}
    trigger = timed_workspace.new_trigger_id("U0ALICE")
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert opened["view"]["id"] == timed_workspace.views()[0].id
    assert timed_workspace.views()[0].user == "U0ALICE"

    assert (await error_of(client.views_open(trigger_id=trigger, view=view))).response["error"] == (
        "exchanged_trigger_id"
    )
    late = timed_workspace.new_trigger_id()
    clock.now += 3.5
    assert (await error_of(client.views_open(trigger_id=late, view=view))).response["error"] == "expired_trigger_id"
    assert (await error_of(client.views_open(trigger_id="1.2.3", view=view))).response["error"] == (
        "invalid_trigger_id"
    )
    assert len(timed_workspace.views()) == 1


async def test_views_update_by_id_or_external_id_and_push(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    view = {"type": "modal", "external_id": "create-1", "title": {"type": "plain_text", "text": "Create"}}
    opened = await client.views_open(trigger_id=workspace.new_trigger_id("U0BOB"), view=view)
    titled = {**view, "title": {"type": "plain_text", "text": "Creating..."}}
    await client.views_update(external_id="create-1", view=titled)
    updated = await client.views_update(view_id=opened["view"]["id"], view={**titled, "private_metadata": "42"})
    pushed = await client.views_push(trigger_id=workspace.new_trigger_id("U0BOB"), view={"type": "modal"})

    assert updated["view"]["private_metadata"] == "42" and updated["view"]["hash"] != opened["view"]["hash"]
    assert pushed["view"]["previous_view_id"] == opened["view"]["id"] == pushed["view"]["root_view_id"]
    assert [v.body["title"]["text"] for v in workspace.views() if "title" in v.body] == ["Creating..."]
    raised = await error_of(client.views_update(view_id="V404", view=view))
    assert raised.response["error"] == "not_found"


async def test_views_publish_keeps_each_persons_home_and_checks_it(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    home = {"type": "home", "blocks": BUTTONS}
    first = await client.views_publish(user_id="U0BOB", view=home)
    again = await client.views_publish(
        user_id="U0BOB", view={**home, "blocks": BUTTONS[:1]}, hash=first["view"]["hash"]
    )
    assert again["view"]["id"] == first["view"]["id"] and again["view"]["type"] == "home"
    assert workspace.home("U0BOB").body["blocks"] == BUTTONS[:1]  # type: ignore[union-attr]
    assert [len(v["blocks"]) for v in workspace.publishes("U0BOB")] == [2, 1] and workspace.home("U0ALICE") is None
    for view, error in (
        ({"type": "modal", "blocks": BUTTONS}, "invalid_arguments"),
        ({"type": "home", "blocks": BUTTONS * 51}, "invalid_blocks"),
    ):
        assert (await error_of(client.views_publish(user_id="U0BOB", view=view))).response["error"] == error
    stale = client.views_publish(user_id="U0BOB", view=home, hash=first["view"]["hash"])
    assert (await error_of(stale)).response["error"] == "hash_conflict"
    assert (await error_of(client.views_publish(user_id="U0NOBODY", view=home))).response["error"] == "user_not_found"


async def test_chat_get_permalink(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    said = workspace.user_says("U0BOB", "C0OPS", "disk full")
    found = await client.chat_getPermalink(channel="C0OPS", message_ts=said.ts)
    assert found["permalink"] == f"https://vobot-demo.slack.com/archives/C0OPS/p{said.ts.replace('.', '')}"
    gone = client.chat_getPermalink(channel="C0DB", message_ts=said.ts)
    assert (await error_of(gone)).response["error"] == "message_not_found"


async def test_injected_rate_limit_reaches_the_client(workspace: SlackWorkspace) -> None:
    workspace.fail_next("chat.postMessage", retry_after=7)
    raised = await error_of(web_client(workspace).chat_postMessage(channel="C0OPS", text="hi"))
    assert raised.response.status_code == 429
    assert raised.response.headers["Retry-After"] == "7"
    assert raised.response["error"] == "ratelimited"
    await web_client(workspace).chat_postMessage(channel="C0OPS", text="hi")  # only the next call failed
    assert [c.error for c in workspace.calls("chat.postMessage")] == ["ratelimited", None]


async def test_retry_handler_honours_the_fault(workspace: SlackWorkspace) -> None:
    workspace.fail_next("users.info", retry_after=0)
    client = web_client(workspace)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    response = await client.users_info(user="U0ALICE")
    assert response["user"]["id"] == "U0ALICE"
    assert [c.error for c in workspace.calls("users.info")] == ["ratelimited", None]


async def test_users_info_and_lookup_by_email(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    alice = (await client.users_info(user="U0ALICE"))["user"]
    assert (alice["real_name"], alice["profile"]["email"], alice["is_bot"]) == (
        "Alice Nguyen",
        "alice.nguyen@example.com",
        False,
    )
    assert (await client.users_lookupByEmail(email="Dave.Okafor@example.com"))["user"]["id"] == "U0DAVE"
    assert (await error_of(client.users_info(user="U0NOPE"))).response["error"] == "user_not_found"
    raised = await error_of(client.users_lookupByEmail(email="nobody@example.com"))
    assert raised.response["error"] == "users_not_found"
    assert workspace.calls("users.info")[0].params == {"user": "U0ALICE"}  # the token is never logged


async def test_users_list_pages_with_a_cursor(workspace: SlackWorkspace) -> None:
    joined = workspace.add_user(SlackUser("U0NEW", "newbie", "New Person", "new@example.com", "UTC"))
    client = web_client(workspace)
    seen, cursor, pages = [], None, 0
    while True:
        page = await client.users_list(limit=5, cursor=cursor)
        seen += [member["id"] for member in page["members"]]
        pages, cursor = pages + 1, page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [user.id for user in workspace.users()] and seen[-1] == joined.id
    assert pages == -(-len(seen) // 5)
    everyone = await client.users_list()  # no limit: the whole team, as Slack tries to
    assert len(everyone["members"]) == len(seen) and everyone["response_metadata"]["next_cursor"] == ""
    assert (await error_of(client.users_list(cursor="bm90IGEgY3Vyc29y"))).response["error"] == "invalid_cursor"
    with pytest.raises(ValueError, match="already has a user U0NEW"):
        workspace.add_user(joined)


async def test_conversations_info_and_unknown_method(workspace: SlackWorkspace) -> None:
    client = web_client(workspace)
    channel = (await client.conversations_info(channel="C0PRIV"))["channel"]
    assert (channel["name"], channel["is_private"], channel["is_member"]) == ("incident-war-room", True, False)
    assert (await error_of(client.api_call("chat.nope"))).response["error"] == "unknown_method"


# --- response URLs ---------------------------------------------------------------------------------


async def test_response_url_replaces_then_deletes_the_original(workspace: SlackWorkspace) -> None:
    posted = await web_client(workspace).chat_postMessage(channel="C0OPS", text="#42", blocks=BUTTONS)
    url = workspace.new_response_url("actions", "C0OPS", "U0ALICE", message_ts=posted["ts"])
    hook = AsyncWebhookClient(url)

    replaced = await hook.send(text="#42 acked by alice", replace_original=True)
    assert (replaced.status_code, replaced.body) == (200, "ok")
    [message] = workspace.messages("C0OPS")
    assert (message.text, message.blocks, message.history[0].text) == ("#42 acked by alice", [], "#42")

    deleted = await hook.send_dict({"delete_original": True})
    assert deleted.status_code == 200
    assert workspace.messages("C0OPS") == []
    assert [p.payload for p in workspace.response_posts(url)][1] == {"delete_original": True}


async def test_response_url_posts_ephemeral_or_in_channel(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("commands", "C0DB", "U0ERIN")
    await AsyncWebhookClient(url).send(text="only erin")
    await AsyncWebhookClient(url).send(text="everyone", response_type="in_channel")
    assert [(m.text, m.channel) for m in workspace.ephemerals("U0ERIN")] == [("only erin", "C0DB")]
    assert [m.text for m in workspace.messages("C0DB")] == ["everyone"]


async def test_response_url_works_five_times(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("commands", "C0OPS", "U0BOB")
    statuses = [(await AsyncWebhookClient(url).send(text=f"reply {n}")).status_code for n in range(5)]
    sixth = await AsyncWebhookClient(url).send(text="one too many")
    assert statuses == [200] * 5
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert len(workspace.ephemerals("U0BOB")) == 5


async def test_response_url_expires_after_thirty_minutes(timed_workspace: SlackWorkspace, clock: FakeClock) -> None:
    url = timed_workspace.new_response_url("commands", "C0OPS", "U0BOB")
    clock.now += 30 * 60 + 1
    late = await AsyncWebhookClient(url).send(text="late")
    assert (late.status_code, late.body) == (404, "expired_url")


async def test_response_url_checks_blocks(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("commands", "C0OPS", "U0BOB")
    answer = await AsyncWebhookClient(url).send(text="many", blocks=[_section("x")] * 51)
    assert (answer.status_code, answer.body) == (400, "invalid_blocks")
    assert workspace.ephemerals() == []


# --- the driver against a recording bot ------------------------------------------------------------


class RecordingBot:
    """Stands in for the bot: keeps what "Slack" sent and answers with `answer` (JSON) or an empty 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answer: Json | None = None

    async def handle(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        return Response() if self.answer is None else JSONResponse(self.answer)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[-1][1].decode()).items()}

    def payload(self) -> Json:
        parsed: Json = json.loads(self.form()["payload"])
        return parsed


@pytest.fixture
async def recorder(workspace: SlackWorkspace) -> AsyncIterator[tuple[RecordingBot, SlackDriver]]:
    bot = RecordingBot()
    async with serve(Starlette(routes=[Route("/slack/events", bot.handle, methods=["POST"])])) as url:
        yield bot, SlackDriver(workspace, f"{url}/slack/events", SECRET)


async def test_command_form_is_signed_like_slack(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    result = await driver.command("U0ALICE", "C0OPS", "ack 42 : on it")
    headers, body = bot.requests[0]

    assert result.status == 200 and 0 < result.elapsed < 3
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    form = bot.form()
    assert {k: form[k] for k in ("team_id", "channel_id", "channel_name", "user_id", "user_name", "command")} == {
        "team_id": "T0VOBOT",
        "channel_id": "C0OPS",
        "channel_name": "ops",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/vo",
    }
    assert form["text"] == "ack 42 : on it" and form["is_enterprise_install"] == "false"
    assert form["response_url"].startswith(f"{driver.workspace.base_url}/hooks/commands/T0VOBOT/")
    assert {"token", "team_domain", "api_app_id", "trigger_id"} <= form.keys()


async def test_stale_timestamp_fails_verification(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    stale = SlackDriver(driver.workspace, driver.bot_url, SECRET, timestamp_offset=-310)
    await stale.command("U0ALICE", "C0OPS", "list")
    headers, body = bot.requests[0]
    assert not SignatureVerifier(SECRET).is_valid_request(body, headers)


async def test_command_ack_text_is_shown_to_the_user(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    bot.answer = {"text": "Usage: /vo list"}
    await driver.command("U0CAROL", "C0OPS", "help")
    assert [m.text for m in driver.workspace.ephemerals("U0CAROL")] == ["Usage: /vo list"]


async def test_click_payload_comes_from_the_message(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    message = driver.workspace.post_message("C0OPS", "#42", BUTTONS)
    await driver.click("U0BOB", message, "resolve")
    payload = bot.payload()

    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0OPS",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == BUTTONS and payload["user"]["id"] == "U0BOB"
    [action] = payload["actions"]
    assert {k: action[k] for k in ("type", "action_id", "block_id", "value")} == {
        "type": "button",
        "action_id": "resolve",
        "block_id": "card-actions",
        "value": "42",
    }
    assert action["text"]["text"] == "Done"
    with pytest.raises(LookupError, match="no button 'reroute'"):
        await driver.click("U0BOB", message, "reroute")


async def test_click_on_an_ephemeral_and_a_select(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    select = {
        "type": "static_select",
        "action_id": "phase",
        "options": [{"text": {"type": "plain_text", "text": p}, "value": p} for p in ("acked", "triggered")],
    }
    blocks = [*BUTTONS, {"type": "actions", "block_id": "filter", "elements": [select]}]
    message = driver.workspace.post_ephemeral("C0OPS", "U0BOB", "cards", blocks)

    await driver.click("U0BOB", message, "ack")
    assert bot.payload()["container"]["is_ephemeral"] is True and "message" not in bot.payload()
    await driver.select("U0BOB", message, "phase", "triggered")
    payload = bot.payload()
    assert payload["actions"][0]["selected_option"]["value"] == "triggered"
    assert payload["state"]["values"]["filter"]["phase"]["selected_option"]["value"] == "triggered"


def _input(block_id: str, element_type: str, **element: Any) -> Json:
    return {"type": "input", "block_id": block_id, "element": {"type": element_type, "action_id": "v", **element}}


async def test_view_submission_state_shapes(recorder: tuple[RecordingBot, SlackDriver]) -> None:
    bot, driver = recorder
    options = [{"text": {"type": "plain_text", "text": t}, "value": t} for t in ("db", "web")]
    view: Json = {
        "type": "modal",
        "callback_id": "create",
        "private_metadata": '{"channel": "C0OPS"}',
        "blocks": [
            _input("summary", "plain_text_input"),
            _input("route", "static_select", options=options),
            _input("teams", "multi_static_select", options=options),
            _input("who", "users_select"),
            {**_input("note", "plain_text_input"), "optional": True},
        ],
    }
    opened = driver.workspace.open_view(driver.workspace.new_trigger_id("U0ALICE"), view)
    values: dict[str, dict[str, Any]] = {
        "summary": {"v": "DB down"},
        "route": {"v": "db"},
        "teams": {"v": ["db", "web"]},
        "who": {"v": "U0DAVE"},
    }

    bot.answer = {"response_action": "errors", "errors": {"summary": "Too short"}}
    result = await driver.submit_view("U0ALICE", opened.id, values)
    sent = bot.payload()["view"]
    assert (sent["callback_id"], sent["private_metadata"], sent["id"]) == (
        "create",
        view["private_metadata"],
        opened.id,
    )
    assert sent["state"]["values"] == {
        "summary": {"v": {"type": "plain_text_input", "value": "DB down"}},
        "route": {"v": {"type": "static_select", "selected_option": options[0]}},
        "teams": {"v": {"type": "multi_static_select", "selected_options": options}},
        "who": {"v": {"type": "users_select", "selected_user": "U0DAVE"}},
        "note": {"v": {"type": "plain_text_input", "value": None}},
    }
    assert (result.response_action, result.errors) == ("errors", {"summary": "Too short"})
    assert driver.workspace.view(opened.id).errors == {"summary": "Too short"}  # still open, showing the error

    bot.answer = None
    await driver.submit_view("U0ALICE", opened.id, values)
    assert driver.workspace.views() == []  # a plain ack closes it
    reopened = driver.workspace.open_view(driver.workspace.new_trigger_id("U0ALICE"), view)
    with pytest.raises(ValueError, match="'summary' is required"):
        driver.view_submission_payload("U0ALICE", reopened.id, {})


# --- a real Bolt app -------------------------------------------------------------------------------


def bolt_app(workspace: SlackWorkspace) -> AsyncApp:
    app = AsyncApp(client=web_client(workspace), signing_secret=SECRET)

    @app.command("/vo")
    async def command(ack: AsyncAck, command: Json, respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        if command["text"] == "card":
            await client.chat_postMessage(channel=command["channel_id"], text="#42", blocks=BUTTONS)
        else:
            await respond(f"hello <@{command['user_id']}>")

    @app.action("ack")
    async def ack_button(ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        await ack()
        await respond(replace_original=True, text=f"#{body['actions'][0]['value']} acked by <@{body['user']['id']}>")

    return app


@pytest.fixture
async def bolt_driver(workspace: SlackWorkspace) -> AsyncIterator[SlackDriver]:
    handler = AsyncSlackRequestHandler(bolt_app(workspace))

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async with serve(Starlette(routes=[Route("/slack/events", events, methods=["POST"])])) as url:
        yield SlackDriver(workspace, f"{url}/slack/events", SECRET)


async def test_bolt_answers_a_command_through_the_response_url(bolt_driver: SlackDriver) -> None:
    workspace = bolt_driver.workspace
    result = await bolt_driver.command("U0ALICE", "C0OPS", "hi")
    assert (result.status, result.body) == (200, "")
    [reply] = await wait_for(lambda: workspace.ephemerals("U0ALICE"))
    assert (reply.text, reply.channel) == ("hello <@U0ALICE>", "C0OPS")
    assert [c.error for c in workspace.calls("auth.test")] == [None]  # Bolt authorizes on the first request


async def test_bolt_updates_the_card_a_click_came_from(bolt_driver: SlackDriver) -> None:
    workspace = bolt_driver.workspace
    await bolt_driver.command("U0ALICE", "C0OPS", "card")
    [card] = await wait_for(lambda: workspace.messages("C0OPS"))
    result = await bolt_driver.click("U0DAVE", card, "ack")
    assert result.status == 200
    [edited] = await wait_for(lambda: [m for m in workspace.messages("C0OPS") if m.history])
    assert (edited.ts, edited.text, edited.blocks) == (card.ts, "#42 acked by <@U0DAVE>", [])


@pytest.mark.parametrize(("secret", "offset"), [("wrong-secret", 0), (SECRET, -310), (SECRET, 310)])
async def test_bolt_rejects_bad_or_stale_signatures(bolt_driver: SlackDriver, secret: str, offset: int) -> None:
    bad = SlackDriver(bolt_driver.workspace, bolt_driver.bot_url, secret, timestamp_offset=offset)
    result = await bad.command("U0ALICE", "C0OPS", "hi")
    assert result.status == 401
    assert bolt_driver.workspace.ephemerals() == [] and bolt_driver.workspace.calls() == []


async def test_bolt_socket_mode_receives_and_acks(workspace: SlackWorkspace) -> None:
    app = AsyncApp(client=web_client(workspace), signing_secret=SECRET)

    @app.command("/vo")
    async def command(ack: AsyncAck, command: Json) -> None:
        await ack(f"got {command['text']}")

    handler = AsyncSocketModeHandler(app, app_token="xapp-test-token")
    async with asyncio.timeout(5):  # without a WebSocket library for uvicorn the client would retry forever
        await handler.connect_async()
    try:
        driver = SlackDriver(workspace, "unused: Socket Mode", SECRET)
        ack = await driver.send_socket_envelope("slash_commands", driver.command_payload("U0JUDY", "C0OPS", "list"))
    finally:
        await handler.close_async()

    assert ack.payload == {"text": "got list"}
    assert [m.text for m in workspace.ephemerals("U0JUDY")] == ["got list"]
    assert [c.error for c in workspace.calls("apps.connections.open")] == [None]
    await wait_for(lambda: workspace.socket_connections() == 0)
