"""The fake Slack over HTTP: Web API methods under /api/, response URLs under /hooks/, Socket Mode at /socket.

Answers follow Slack's conventions: HTTP 200 with `{"ok": false, "error": ...}` for API errors, an injected
fault's own status with `Retry-After`, plain-text `ok` from a response URL. slack_sdk sends chat.* and views.*
as JSON, users.* and conversations.* as GET query strings, chat.delete as a query string on a POST, and
moves a `token` argument into the `Authorization` header: all are accepted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.sim.slack import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Json,
    SlackError,
    SlackWorkspace,
)

Handler = Callable[[SlackWorkspace, Json], Json]


def _arg(params: Json, name: str) -> Any:
    if params.get(name) in (None, ""):
        raise SlackError("invalid_arguments")
    return params[name]


def _decoded(value: Any, error: str) -> Any:
    """Form bodies carry blocks and views as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(error) from None


def _blocks(params: Json) -> list[Json] | None:
    blocks = _decoded(params.get("blocks"), "invalid_blocks_format")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    return blocks


def _view(params: Json) -> Json:
    view = _decoded(_arg(params, "view"), "invalid_arguments")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments")
    return view


def _auth_test(ws: SlackWorkspace, params: Json) -> Json:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "vobot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _chat_post_message(ws: SlackWorkspace, params: Json) -> Json:
    message = ws.post_message(_arg(params, "channel"), params.get("text"), _blocks(params), params.get("thread_ts"))
    return {"channel": message.channel, "ts": message.ts, "message": message.to_api()}


def _chat_update(ws: SlackWorkspace, params: Json) -> Json:
    message = ws.update_message(_arg(params, "channel"), _arg(params, "ts"), params.get("text"), _blocks(params))
    return {"channel": message.channel, "ts": message.ts, "text": message.text, "message": message.to_api()}


def _chat_post_ephemeral(ws: SlackWorkspace, params: Json) -> Json:
    message = ws.post_ephemeral(_arg(params, "channel"), _arg(params, "user"), params.get("text"), _blocks(params))
    return {"message_ts": message.ts}


def _chat_delete(ws: SlackWorkspace, params: Json) -> Json:
    channel, ts = _arg(params, "channel"), _arg(params, "ts")
    ws.delete_message(channel, ts)
    return {"channel": channel, "ts": ts}


def _views_open(ws: SlackWorkspace, params: Json) -> Json:
    return {"view": ws.open_view(_arg(params, "trigger_id"), _view(params)).to_api()}


def _views_push(ws: SlackWorkspace, params: Json) -> Json:
    return {"view": ws.push_view(_arg(params, "trigger_id"), _view(params)).to_api()}


def _views_update(ws: SlackWorkspace, params: Json) -> Json:
    view = ws.update_view(_view(params), view_id=params.get("view_id"), external_id=params.get("external_id"))
    return {"view": view.to_api()}


def _views_publish(ws: SlackWorkspace, params: Json) -> Json:
    return {"view": ws.publish_home(_arg(params, "user_id"), _view(params), params.get("hash")).to_api()}


def _chat_get_permalink(ws: SlackWorkspace, params: Json) -> Json:
    channel = _arg(params, "channel")
    return {"channel": channel, "permalink": ws.permalink(channel, _arg(params, "message_ts"))}


def _users_info(ws: SlackWorkspace, params: Json) -> Json:
    return {"user": ws.user(_arg(params, "user")).to_api()}


def _users_list(ws: SlackWorkspace, params: Json) -> Json:
    try:
        limit = int(params.get("limit") or 0)  # none: the whole team at once, as Slack tries to
    except ValueError:
        raise SlackError("invalid_arguments") from None
    users, next_cursor = ws.user_page(params.get("cursor"), limit)
    return {"members": [u.to_api() for u in users], "response_metadata": {"next_cursor": next_cursor}}


def _users_lookup_by_email(ws: SlackWorkspace, params: Json) -> Json:
    return {"user": ws.user_by_email(_arg(params, "email")).to_api()}


def _conversations_info(ws: SlackWorkspace, params: Json) -> Json:
    return {"channel": ws.channel(_arg(params, "channel")).to_api()}


def _usergroups_users_update(ws: SlackWorkspace, params: Json) -> Json:
    users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
    group = _arg(params, "usergroup")
    return {"usergroup": {"id": group, "users": list(ws.update_usergroup(group, users))}}


METHODS: dict[str, Handler] = {
    "auth.test": _auth_test,
    "chat.postMessage": _chat_post_message,
    "chat.update": _chat_update,
    "chat.postEphemeral": _chat_post_ephemeral,
    "chat.delete": _chat_delete,
    "views.open": _views_open,
    "views.push": _views_push,
    "views.update": _views_update,
    "users.info": _users_info,
    "users.list": _users_list,
    "users.lookupByEmail": _users_lookup_by_email,
    "conversations.info": _conversations_info,
    "usergroups.users.update": _usergroups_users_update,
    "views.publish": _views_publish,
    "chat.getPermalink": _chat_get_permalink,
}


async def _params(request: Request) -> Json:
    params: Json = dict(request.query_params)
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        params.update(json.loads(body) if body else {})
    else:
        params.update(parse_qsl(body.decode()))
    return params


def _token(request: Request, params: Json) -> str | None:
    """The token from `Authorization: Bearer ...`, else from the arguments (never kept in the call log)."""
    token = params.pop("token", None)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else token


def _authenticate(ws: SlackWorkspace, method: str, token: str | None) -> None:
    expected = ws.app_token if method == "apps.connections.open" else ws.bot_token
    if not token:
        raise SlackError("not_authed")
    if token != expected:
        raise SlackError("not_allowed_token_type" if token in (ws.app_token, ws.bot_token) else "invalid_auth")


def _answer(ws: SlackWorkspace, method: str, params: Json, token: str | None, socket_url: str) -> Json:
    _authenticate(ws, method, token)
    if method == "apps.connections.open":
        return {"url": socket_url}
    if method not in METHODS:
        raise SlackError("unknown_method")
    return METHODS[method](ws, params)


def _hello(connections: int) -> Json:
    return {
        "type": "hello",
        "num_connections": connections,
        "debug_info": {"host": "fake-applink", "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID},
    }


def build_slack_api(workspace: SlackWorkspace) -> Starlette:
    """The fake Slack as an ASGI app; serve it and set `workspace.base_url` to its URL."""

    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        token = _token(request, params)
        fault = workspace.take_fault(method)
        if fault is not None:
            workspace.record_call(method, params, fault.error)
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return JSONResponse({"ok": False, "error": fault.error}, fault.status, headers)
        try:
            body = {"ok": True, **_answer(workspace, method, params, token, f"ws://{request.url.netloc}/socket")}
        except SlackError as error:
            body = {"ok": False, "error": error.error}
        workspace.record_call(method, params, body.get("error"))
        # like Slack, every answer says which scopes the token has
        return JSONResponse(body, headers={"x-oauth-scopes": ",".join(workspace.scopes)})

    async def hook(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return PlainTextResponse("invalid_payload", 400)
        status, text = workspace.post_to_response_url(request.path_params["path"], payload)
        return PlainTextResponse(text, status, {"Retry-After": "1"} if status == 429 else None)

    async def send_envelopes(websocket: WebSocket, outbox: asyncio.Queue[Json]) -> None:
        while True:
            await websocket.send_json(await outbox.get())

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(_hello(workspace.socket_connections() + 1))
        outbox = workspace.connect_socket(asyncio.get_running_loop())
        sender = asyncio.create_task(send_envelopes(websocket, outbox))
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                if isinstance(message, dict) and "envelope_id" in message:
                    workspace.record_ack(message)
        except WebSocketDisconnect:
            pass  # the client closed the connection: nothing left to do
        finally:
            sender.cancel()
            workspace.disconnect_socket(outbox)

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            Route("/hooks/{path:path}", hook, methods=["POST"]),
            WebSocketRoute("/socket", socket),
        ]
    )
