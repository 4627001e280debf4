"""The edge's pure checks, the shared memory of requests taken, and log lines that cannot be forged."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.core.seen import SIGNATURE_WINDOW
from bot.logs import JsonFormatter, TextFormatter
from bot.sim.hostile import BUTTON, COMMAND, JSON_TYPE, SIGNED, UNSIGNED, Case, interaction, payload
from bot.sim.slack import TEAM_ID
from bot.slack.edge import MAX_BODY, Refusal, check_signature, check_size, parse, replay_key, signed_at
from bot.store.db import Database
from bot.store.replays import SeenRequestStore

FORM = "application/x-www-form-urlencoded"
NOW = 1_700_000_000


@pytest.mark.parametrize("case", SIGNED, ids=lambda c: c.name)
def test_malformed_bodies_are_refused_with_one_sentence(case: Case) -> None:
    with pytest.raises(Refusal) as refused:
        parse(case.body, case.content_type)
    assert refused.value.status == 400 and refused.value.sentence.endswith(".")


@pytest.mark.parametrize("case", UNSIGNED, ids=lambda c: c.name)
def test_headers_that_cannot_carry_a_signature_are_refused_before_the_body(case: Case) -> None:
    headers = {k: v.decode("latin-1") for k, v in case.request_headers("secret").items()}
    with pytest.raises(Refusal) as refused:
        check_signature(b"secret", signed_at(headers, time.time()), case.body, headers["x-slack-signature"])
    assert refused.value.status == 401


def test_what_slack_sends_passes_as_bolt_reads_it() -> None:
    command = parse(urlencode(COMMAND).encode(), FORM)
    assert (command.kind, command.team_id, command.body) == ("command", TEAM_ID, COMMAND)
    click = parse(payload(interaction("block_actions", actions=[BUTTON], enterprise=None)), f"{FORM}; charset=utf-8")
    assert (click.kind, click.team_id, click.body["actions"]) == ("block_actions", TEAM_ID, [BUTTON])
    view = {
        "id": "V1",
        "type": "modal",
        "callback_id": "vo_create",
        "state": {"values": {"summary": {"summary": {"value": "x"}}}},
    }
    submitted = parse(payload(interaction("view_submission", view=view, response_urls=[])), FORM)
    assert submitted.kind == "view_submission" and submitted.event_id is None
    event = {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1", "event": {"type": "app_home_opened"}}
    assert parse(json.dumps(event).encode(), JSON_TYPE).event_id == "Ev1"
    challenge = parse(b'{"type": "url_verification", "challenge": "c", "token": "t"}', JSON_TYPE)
    assert challenge.team_id is None and challenge.body["challenge"] == "c"


def test_signatures_are_slacks_v0_on_the_raw_bytes() -> None:
    body = urlencode(COMMAND)
    expected = SignatureVerifier("secret").generate_signature(timestamp=str(NOW), body=body)
    assert expected is not None
    check_signature(b"secret", NOW, body.encode(), expected)
    with pytest.raises(Refusal):
        check_signature(b"secret", NOW + 1, body.encode(), expected)
    with pytest.raises(Refusal):
        check_signature(b"other", NOW, body.encode(), expected)


def test_the_five_minute_window() -> None:
    signature = {"x-slack-signature": "v0=" + "a" * 64}
    assert signed_at({**signature, "x-slack-request-timestamp": str(NOW)}, NOW + SIGNATURE_WINDOW) == NOW
    assert signed_at({**signature, "x-slack-request-timestamp": str(NOW)}, NOW - SIGNATURE_WINDOW) == NOW
    for now in (NOW + SIGNATURE_WINDOW + 1, NOW - SIGNATURE_WINDOW - 1):
        with pytest.raises(Refusal):
            signed_at({**signature, "x-slack-request-timestamp": str(NOW)}, now)


@pytest.mark.parametrize("length", [str(MAX_BODY + 1), "9" * 5000, "-1", "12abc"])
def test_declared_sizes_over_the_cap_or_not_numbers_are_refused(length: str) -> None:
    with pytest.raises(Refusal) as refused:
        check_size({"content-length": length})
    assert refused.value.status == 413
    check_size({"content-length": str(MAX_BODY)})


def test_replays_are_remembered_by_signature_and_events_by_id() -> None:
    command = parse(urlencode(COMMAND).encode(), FORM)
    assert replay_key(command, "v0=" + "ab" * 32, NOW, NOW + 5) == ("sig:" + "ab" * 32, NOW + SIGNATURE_WINDOW + 60)
    event = {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev1", "event": {"type": "x"}}
    key, until = replay_key(parse(json.dumps(event).encode(), JSON_TYPE), "v0=" + "0" * 64, NOW, NOW)
    assert key == "event:Ev1" and until >= NOW + 3600


async def test_the_first_of_many_concurrent_takers_wins_and_expired_rows_go(database: Database) -> None:
    clock = [float(NOW)]
    replicas = [SeenRequestStore(database, clock=lambda: clock[0]) for _ in range(4)]
    won = await asyncio.gather(*(replicas[i % 4].first_time("sig:one", NOW + 360) for i in range(20)))
    assert won.count(True) == 1
    assert await replicas[0].first_time("sig:two", NOW + 360)
    clock[0] += 400  # both expired, and a minute has passed since the last purge
    assert await replicas[1].first_time("sig:three", NOW + 800)
    assert await replicas[2].first_time("sig:one", NOW + 800)  # purged: a signature this old is refused anyway


def record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.LogRecord("bot.test", logging.INFO, __file__, 1, message, args, sys.exc_info() if exc_info else None)


def test_a_logged_value_cannot_start_a_line_or_drive_the_terminal() -> None:
    value = "x\n2024-01-01 00:00:00,000 INFO    bot.web: admin logged in\r\x1b[2J\x85\u2028"
    line = TextFormatter().format(record("refused %s", value))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x85" not in line
    assert line.endswith(r"refused x\n2024-01-01 00:00:00,000 INFO    bot.web: admin logged in\r\x1b[2J\x85\u2028")


def test_a_traceback_stays_inside_its_record() -> None:
    try:
        raise ValueError("bad value\n2024-01-01 00:00:00,000 INFO    bot.web: forged")
    except ValueError:
        text = TextFormatter().format(record("failed", exc_info=True))
        as_json = JsonFormatter().format(record("failed", exc_info=True))
    first, *rest = text.split("\n")
    assert first.endswith("failed") and rest and all(line.startswith("  | ") for line in rest)
    assert "\n" not in as_json and "forged" in json.loads(as_json)["exception"]


def test_a_json_line_carries_no_raw_control_or_line_separator() -> None:
    value = "x\x1b[2J\x85\x9b31m\x7f\u2028\u2029y"
    line = JsonFormatter().format(record("refused %s", value))
    assert not any(c in line for c in "\x1b\x85\x9b\x7f\u2028\u2029\n"), repr(line)
    assert json.loads(line)["message"] == f"refused {value}" and "é" in JsonFormatter().format(record("é"))
