"""Hostile and careless requests to /slack/events, for the edge tests and benchmarks/bench_hostile.py.

Each case is raw bytes and headers as they would cross the wire: `signed` cases get a valid v0 signature
at send time (they test the envelope), the others none or a broken one (they must get 401).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from bot.sim.slack import TEAM_ID

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
USER = {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM_ID}
TEAM = {"id": TEAM_ID, "domain": "vobot"}
BUTTON = {"type": "button", "action_id": "vo_ack", "block_id": "inc-1-actions", "value": '{"n":"1"}'}


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": stamp, "x-slack-signature": f"v0={digest}"}


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    content_type: str = FORM
    signed: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # for the unsigned ones: what they claim

    def request_headers(self, secret: str) -> dict[str, bytes]:
        """Latin-1 on the wire, as HTTP/1.1 allows: a hostile header need not be ASCII."""
        signature = sign(secret, self.body) if self.signed else {}
        headers = {"content-type": self.content_type, **self.headers, **signature}
        return {name: value.encode("latin-1") for name, value in headers.items()}


def payload(value: object) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


def interaction(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, "user": USER, "team": TEAM, "api_app_id": "A0VOBOT", "trigger_id": "1.2.3", **fields}


COMMAND = {
    "command": "/vo",
    "text": "help",
    "user_id": "U0ALICE",
    "team_id": TEAM_ID,
    "channel_id": "C0OPS",
    "response_url": "http://127.0.0.1:1/hooks/x",
    "trigger_id": "1.2.3",
}
DEEP = b"payload=" + quote("[" * 100_000).encode()
NOW = str(int(time.time()))
BAD_SIG = {"x-slack-request-timestamp": NOW, "x-slack-signature": "v0=" + "0" * 64}

# Unsigned, or signed wrong: 401 whatever the body.
UNSIGNED = [
    Case("no signature headers", urlencode(COMMAND).encode()),
    Case("non-numeric timestamp", b"command=/vo", headers={**BAD_SIG, "x-slack-request-timestamp": "soon"}),
    Case("5,000-digit timestamp", b"command=/vo", headers={**BAD_SIG, "x-slack-request-timestamp": "9" * 5000}),
    Case("float timestamp", b"command=/vo", headers={**BAD_SIG, "x-slack-request-timestamp": f"{NOW}.5"}),
    Case("negative timestamp", b"command=/vo", headers={**BAD_SIG, "x-slack-request-timestamp": "-1"}),
    Case("short signature", b"command=/vo", headers={**BAD_SIG, "x-slack-signature": "v0=abc"}),
    Case("v1 signature", b"command=/vo", headers={**BAD_SIG, "x-slack-signature": "v1=" + "0" * 64}),
    Case("non-ASCII signature", b"command=/vo", headers={**BAD_SIG, "x-slack-signature": "v0=" + "\xe9" * 64}),
    Case("wrong signature", urlencode(COMMAND).encode(), headers=BAD_SIG),
    Case("non-UTF-8 body", b"\xff\xfe\xfd", headers=BAD_SIG),
    Case("lone brace", b"{", JSON_TYPE, headers=BAD_SIG),
    Case("JSON array", b"[1, 2, 3]", JSON_TYPE, headers=BAD_SIG),
    Case("payload not JSON", b"payload=not-json", headers=BAD_SIG),
    Case("payload nested 100k deep", DEEP, headers=BAD_SIG),
    Case("form labelled JSON", urlencode(COMMAND).encode(), JSON_TYPE, headers=BAD_SIG),
    Case("empty body", b"", headers=BAD_SIG),
    Case("newline in body", b"command=/vo&text=x\n2024-01-01 INFO forged: admin logged in", headers=BAD_SIG),
]

# Signed by Slack's secret but not a shape Slack sends: refused with one sentence, never a 5xx.
SIGNED = [
    Case("signed non-UTF-8 body", b"\xff\xfe\xfd", signed=True),
    Case("signed lone brace", b"{", JSON_TYPE, signed=True),
    Case("signed JSON array", b"[1, 2, 3]", JSON_TYPE, signed=True),
    Case("signed JSON string", b'"hello"', JSON_TYPE, signed=True),
    Case("signed payload not JSON", b"payload=not-json", signed=True),
    Case("signed payload nested 100k deep", DEEP, signed=True),
    Case("signed payload array", payload([1, 2]), signed=True),
    Case("signed form labelled JSON", urlencode(COMMAND).encode(), JSON_TYPE, signed=True),
    Case("signed JSON labelled form", json.dumps(interaction("block_actions")).encode(), signed=True),
    Case("signed text/plain", b"hello", "text/plain", signed=True),
    Case("signed empty body", b"", signed=True),
    Case("signed form, no command", b"text=help&user_id=U0ALICE", signed=True),
    Case("signed field without =", b"command", signed=True),
    Case("signed bad percent-encoding", b"command=%ff%fe", signed=True),
    Case("signed repeated field", urlencode(COMMAND).encode() + b"&user_id=U0ADMIN1", signed=True),
    Case(
        "signed command without user_id",
        urlencode({k: v for k, v in COMMAND.items() if k != "user_id"}).encode(),
        signed=True,
    ),
    Case(
        "signed command without team_id",
        urlencode({k: v for k, v in COMMAND.items() if k != "team_id"}).encode(),
        signed=True,
    ),
    Case("signed actions: []", payload(interaction("block_actions", actions=[])), signed=True),
    Case("signed no actions", payload(interaction("block_actions")), signed=True),
    Case("signed actions not a list", payload(interaction("block_actions", actions={"a": 1})), signed=True),
    Case("signed action not an object", payload(interaction("block_actions", actions=["vo_ack"])), signed=True),
    Case(
        "signed action without action_id", payload(interaction("block_actions", actions=[{"value": "x"}])), signed=True
    ),
    Case("signed no user", payload({**interaction("block_actions", actions=[BUTTON]), "user": None}), signed=True),
    Case(
        "signed user a string",
        payload({**interaction("block_actions", actions=[BUTTON]), "user": "U0ALICE"}),
        signed=True,
    ),
    Case(
        "signed user.id a number",
        payload({**interaction("block_actions", actions=[BUTTON]), "user": {"id": 7}}),
        signed=True,
    ),
    Case("signed team a list", payload(interaction("block_actions", actions=[BUTTON], team=[TEAM_ID])), signed=True),
    Case(
        "signed no workspace",
        payload({**interaction("block_actions", actions=[BUTTON]), "team": None, "user": {"id": "U0ALICE"}}),
        signed=True,
    ),
    Case("signed channel a number", payload(interaction("block_actions", actions=[BUTTON], channel=5)), signed=True),
    Case(
        "signed response_url a number",
        payload(interaction("block_actions", actions=[BUTTON], response_url=5)),
        signed=True,
    ),
    Case("signed type missing", payload({"user": USER, "team": TEAM}), signed=True),
    Case("signed view_submission without view", payload(interaction("view_submission")), signed=True),
    Case("signed view a string", payload(interaction("view_submission", view="v")), signed=True),
    Case(
        "signed view without state",
        payload(interaction("view_submission", view={"id": "V1", "type": "modal", "callback_id": "x"})),
        signed=True,
    ),
    Case(
        "signed view values a list",
        payload(
            interaction(
                "view_submission",
                view={"id": "V1", "type": "modal", "callback_id": "vo_create", "state": {"values": []}},
            )
        ),
        signed=True,
    ),
    Case(
        "signed view value not an object",
        payload(
            interaction(
                "view_submission",
                view={
                    "id": "V1",
                    "type": "modal",
                    "callback_id": "vo_create",
                    "state": {"values": {"summary": {"summary": "x"}}},
                },
            )
        ),
        signed=True,
    ),
    Case(
        "signed metadata a number",
        payload(
            interaction(
                "view_submission",
                view={
                    "id": "V1",
                    "type": "modal",
                    "callback_id": "vo_create",
                    "private_metadata": 5,
                    "state": {"values": {}},
                },
            )
        ),
        signed=True,
    ),
    Case(
        "signed view without type",
        payload(interaction("view_submission", view={"id": "V1", "callback_id": "x", "state": {"values": {}}})),
        signed=True,
    ),
    Case(
        "signed workflow step save without the step",
        payload(
            interaction(
                "view_submission",
                view={"id": "V1", "type": "workflow_step", "callback_id": "x", "state": {"values": {}}},
            )
        ),
        signed=True,
    ),
    Case(
        "signed workflow step edit without the step",
        payload(interaction("workflow_step_edit", callback_id="x")),
        signed=True,
    ),
    Case("signed event without type", json.dumps({"team_id": TEAM_ID}).encode(), JSON_TYPE, signed=True),
    Case(
        "signed event without event_id",
        json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event": {"type": "app_home_opened"}}).encode(),
        JSON_TYPE,
        signed=True,
    ),
    Case(
        "signed event not an object",
        json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1", "event": "x"}).encode(),
        JSON_TYPE,
        signed=True,
    ),
    Case(
        "signed authorizations not a list",
        json.dumps(
            {
                "type": "event_callback",
                "team_id": TEAM_ID,
                "event_id": "Ev1",
                "event": {"type": "x"},
                "authorizations": 3,
            }
        ).encode(),
        JSON_TYPE,
        signed=True,
    ),
    Case("signed url_verification without challenge", b'{"type": "url_verification"}', JSON_TYPE, signed=True),
]
