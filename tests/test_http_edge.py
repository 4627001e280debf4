"""The HTTP edge over loopback: no 5xx for any body, 401 unsigned, 413 before reading, our workspace only,
replays and Events API retries once (two replicas sharing SQLite or Postgres), readiness asks Slack rarely,
no request body in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from bot.sim.hostile import JSON_TYPE, SIGNED, UNSIGNED, Case, sign
from bot.sim.slack import TEAM_ID
from bot.sim.stack import local_stack
from bot.slack.edge import MAX_BODY
from bot.store.queue import ActionQueue
from tests.harness import CHANNEL, USERS, Bot, running_bot
from tests.test_roundtrip import ALICE, listing, open_view

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


def events_url(bot: Bot) -> str:
    return f"{bot.url}/slack/events"


async def send(bot: Bot, case: Case) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            events_url(bot), content=case.body, headers=case.request_headers(bot.slack.signing_secret)
        )


async def test_hostile_corpus_gets_no_5xx_and_unsigned_ones_get_401(bot: Bot) -> None:
    wrong: dict[str, int] = {}
    for case in UNSIGNED:
        if (status := (await send(bot, case)).status_code) != 401:
            wrong[case.name] = status
    for case in SIGNED:
        response = await send(bot, case)
        if response.status_code != 400 or not response.text.endswith("."):  # one sentence saying why
            wrong[case.name] = response.status_code
    body = urlencode(bot.driver.command_payload("U0ALICE", CHANNEL, "create Signed wrong")).encode()
    async with httpx.AsyncClient() as http:
        for name, headers in [
            ("wrong secret", sign("wrong", body)),
            ("stale", sign(bot.slack.signing_secret, body, int(time.time()) - 400)),
        ]:
            if (
                status := (await http.post(events_url(bot), content=body, headers={**FORM, **headers})).status_code
            ) != 401:
                wrong[name] = status
    assert wrong == {}
    assert bot.writes() == [] and bot.slack.ephemerals() == []


async def test_request_bodies_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # before the bot is built: Bolt's loggers copy the root level then
    async with running_bot(tmp_path) as bot:
        for case in [*UNSIGNED, *SIGNED]:
            await send(bot, case)
    assert "forged" not in caplog.text and "not-json" not in caplog.text and "U0ALICE" not in caplog.text


async def exchange(url: str, head: str, body_parts: list[bytes], within: float = 3.0) -> tuple[str, int]:
    """Send a request head and some body bytes over a raw socket, never the rest, and read the status line:
    the answer must come while the client still holds most of the body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode())
        sent = 0
        for part in body_parts:
            writer.write(part)
            sent += len(part)
            await writer.drain()
        status = await asyncio.wait_for(reader.readline(), within)
        return status.decode().strip(), sent
    finally:
        writer.close()


def head(bot: Bot, framing: str, signed: bool = True) -> str:
    signature = sign(bot.slack.signing_secret, b"not the body") if signed else {}
    lines = ["POST /slack/events HTTP/1.1", "Host: bot", "Content-Type: application/x-www-form-urlencoded", framing]
    return "\r\n".join([*lines, *(f"{k}: {v}" for k, v in signature.items()), "", ""])


async def test_oversize_bodies_get_413_before_they_are_read(bot: Bot) -> None:
    ten_mb = 10 * 1024 * 1024
    status, _ = await exchange(bot.url, head(bot, f"Content-Length: {ten_mb}"), [])
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    # chunked: no length to refuse it by, so it is counted as it arrives; 2 of the 10 MB are ever sent
    chunk = b"%x\r\n%b\r\n" % (64 * 1024, b"a" * 64 * 1024)
    status, sent = await exchange(bot.url, head(bot, "Transfer-Encoding: chunked"), [chunk] * 32)
    assert status == "HTTP/1.1 413 Request Entity Too Large" and MAX_BODY < sent < ten_mb
    # unsigned: refused by its headers alone, before a byte of the body
    status, _ = await exchange(bot.url, head(bot, "Transfer-Encoding: chunked", signed=False), [])
    assert status == "HTTP/1.1 401 Unauthorized"


async def test_readiness_asks_slack_rarely_even_when_slack_refuses_the_token(bot: Bot) -> None:
    async with httpx.AsyncClient(base_url=bot.url) as http:
        before = len(bot.slack.calls("auth.test"))
        probes = await asyncio.gather(*(http.get("/readyz") for _ in range(100)))
        assert {p.status_code for p in probes} == {200}
        assert len(bot.slack.calls("auth.test")) - before <= 1
        bot.slack.bot_token = "xoxb-revoked"
        await asyncio.sleep(0)
        before = len(bot.slack.calls("auth.test"))
        probes = [await http.get("/readyz") for _ in range(100)]  # once the good answer expires: refusals
        probes += await asyncio.gather(*(http.get("/readyz") for _ in range(100)))
        refused = len(bot.slack.calls("auth.test")) - before
        assert refused <= 2, f"{refused} auth.test calls for 200 probes"


async def test_readiness_remembers_a_refusal_for_a_few_seconds(tmp_path: Path) -> None:
    async with (
        running_bot(tmp_path, SLACK_BOT_TOKEN="xoxb-revoked") as bot,
        httpx.AsyncClient(base_url=bot.url) as http,
    ):
        probes = await asyncio.gather(*(http.get("/readyz") for _ in range(100)))
        probes += [await http.get("/readyz") for _ in range(100)]
        assert {p.status_code for p in probes} == {503}
        assert [c.error for c in bot.slack.calls("auth.test")] == ["invalid_auth"]


async def test_requests_for_another_workspace_are_refused(bot: Bot) -> None:
    command = bot.driver.command_payload("U0ALICE", CHANNEL, "create Foreign incident") | {"team_id": "T0OTHER"}
    refused = await bot.driver.post(urlencode(command))
    assert refused.status == 403 and refused.body == "This request is for another Slack workspace."
    view = {"id": "V1", "type": "modal", "callback_id": "vo_create", "team_id": "T0OTHER", "state": {"values": {}}}
    submission = {"type": "view_submission", "user": {"id": "U0ALICE"}, "team": {"id": "T0OTHER"}, "view": view}
    assert (await bot.driver.post(urlencode({"payload": json.dumps(submission)}))).status == 403
    await asyncio.sleep(0.5)
    assert bot.writes() == [] and bot.slack.ephemerals() == []
    ours = await bot.driver.command("U0ALICE", CHANNEL, "help")
    assert ours.status == 200 and [c.error for c in bot.slack.calls("auth.test")][:1] == [None]


async def replay_to_both(urls: list[str], body: bytes, headers: dict[str, str]) -> list[httpx.Response]:
    """The same signed bytes, twice to each replica, two at once."""
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(urls[0], content=body, headers=headers)
        rest = await asyncio.gather(*(http.post(url, content=body, headers=headers) for url in [urls[1], *urls]))
        return [first, *rest]


async def settled(bot: Bot, title: str, at_least: float = 1.0) -> int:
    """How many incidents with this title VictorOps has, once a second one would have been sent."""
    await bot.until(lambda: any(i["entityDisplayName"] == title for i in bot.vo.incidents()), within=5)
    await asyncio.sleep(at_least)  # batch window 0.1 s: a second create would have gone out by now
    return sum(i["entityDisplayName"] == title for i in bot.vo.incidents())


async def test_replays_act_once_across_two_replicas(tmp_path: Path, database_url: str) -> None:
    yaml = {"users": USERS, "admins": ["U0ADMIN1"], "email_matching": False}
    async with running_bot(tmp_path / "a", VOBOT_DATABASE_URL=database_url) as bot, local_stack(
        tmp_path / "b", state=bot.vo, slack=bot.slack, config=yaml, VOBOT_DATABASE_URL=database_url,
        VOBOT_BATCH_WINDOW="0.1",
    ) as other:  # fmt: skip
        urls = [events_url(bot), events_url(other)]
        secret = bot.slack.signing_secret
        command = urlencode(bot.driver.command_payload("U0ALICE", CHANNEL, "create Replayed disk full")).encode()
        answers = await replay_to_both(urls, command, {**FORM, **sign(secret, command)})
        assert [a.status_code for a in answers] == [200] * 4
        assert [a.text for a in answers[1:]] == [""] * 3  # a replay: nothing to say, nothing done
        assert await settled(bot, "Replayed disk full") == 1

        await bot.driver.command("U0ALICE", CHANNEL, "create")
        view = await bot.until(lambda: next((v for v in bot.slack.views() if "summary" in str(v.body)), None))
        values = {"summary": {"summary": "Replayed queue stuck"}, "details": {"details": "since 3am"}}
        submission = urlencode({"payload": json.dumps(bot.driver.view_submission_payload("U0ALICE", view.id, values))})
        answers = await replay_to_both(urls, submission.encode(), {**FORM, **sign(secret, submission.encode())})
        assert [a.status_code for a in answers] == [200] * 4
        assert await settled(bot, "Replayed queue stuck") == 1
        creates = [a for a in await ActionQueue(bot.vobot.store.db).recent() if a.verb == "create"]
        assert len(creates) == 2


def event(event_id: str) -> bytes:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "api_app_id": "A0VOBOT",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
        }
    ).encode()


async def test_an_events_api_retry_is_handled_once(bot: Bot) -> None:
    secret, url = bot.slack.signing_secret, events_url(bot)
    json_type = {"content-type": JSON_TYPE}
    first, second = event("Ev01"), event("Ev02")
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [await http.post(url, content=first, headers={**json_type, **sign(secret, first)})]
        for n in (1, 2, 3):  # Slack's retries: the same event, a new signature (a later timestamp), retry headers
            retry = {"x-slack-retry-num": str(n), "x-slack-retry-reason": "http_timeout"}
            signature = sign(secret, first, int(time.time()) + n)
            answers.append(await http.post(url, content=first, headers={**json_type, **signature, **retry}))
        answers.append(await http.post(url, content=second, headers={**json_type, **sign(secret, second)}))
        metrics = (await http.get(f"{bot.url}/metrics")).text
    # each new event reaches its listener (the App Home is published); the retries never reach it
    assert answers[0].status_code == answers[4].status_code == 200
    assert [(r.status_code, r.text) for r in answers[1:4]] == [(200, "")] * 3
    await bot.until(lambda: len(bot.slack.publishes("U0ALICE")) == 2)
    assert 'vobot_slack_requests_total{kind="event_callback",outcome="replay"} 3.0' in metrics
    assert 'vobot_slack_requests_total{kind="event_callback",outcome="ok"} 2.0' in metrics


async def test_a_client_leaving_mid_body_costs_one_log_line(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _, writer = await asyncio.open_connection("127.0.0.1", urlsplit(bot.url).port)
    writer.write(head(bot, "Content-Length: 1000").encode() + b"command=/vo")
    await writer.drain()
    writer.close()
    await bot.until(lambda: "The client left before sending the whole body." in caplog.text)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_without_its_database_the_edge_takes_nothing(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(key: str, expires_at: int) -> bool:
        raise ConnectionRefusedError(key)  # the fault injected: the database does not answer

    monkeypatch.setattr(bot.vobot.store.seen, "first_time", unreachable)
    refused = await bot.driver.command("U0ALICE", CHANNEL, "create Without a database")
    assert refused.status == 503 and refused.body == "vobot cannot reach its database right now; try again in a minute."
    await asyncio.sleep(0.5)
    assert bot.writes() == []


@pytest.mark.parametrize("part", ["container", "channel", "message", "response_urls", "authorizations"])
async def test_a_click_with_a_null_part_is_acked_at_once(bot: Bot, part: str) -> None:
    """Slack leaves out what does not apply; a null in its place is read as absent, not as a crash after the
    ack (which made Bolt drop the ack: Slack showed the click failed after 3 s)."""
    card = await listing(bot)
    number = bot.open_numbers("UNACKED")[0]
    payload = bot.driver.click_payload(ALICE, card, "incident.ack", block_id=f"inc-{number}-actions")
    payload[part] = None
    bot.driver.timeout = 10
    result = await bot.driver._interact(payload)
    assert result.status == 200 and result.elapsed < 3, result
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED" or None)


async def test_a_submission_with_null_response_urls_is_acked(bot: Bot) -> None:
    view_id = await open_view(bot, ALICE, "create", "summary")
    payload = bot.driver.view_submission_payload(ALICE, view_id, {"summary": {"summary": "db down"}})
    payload["response_urls"] = None
    result = await bot.driver._interact(payload)
    assert result.status == 200 and result.elapsed < 3, result
