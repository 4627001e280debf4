"""Operations: /vo status, readiness, metrics, JSON logs without secrets, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from bot.slack.blocks import ActionId
from tests.harness import CHANNEL, running_bot, texts
from tests.procs import BotProcess, bot_env
from tests.test_crash_and_replicas import fakes


async def test_status_from_slack(tmp_path: Path) -> None:
    config = {"digests": [{"name": "morning", "channel": CHANNEL, "schedule": "0 9 * * *"}]}
    async with running_bot(tmp_path, config=config) as bot:
        await bot.driver.command("U0ALICE", CHANNEL, "status")
        reply = texts(await bot.reply("U0ALICE"))
        assert ":large_green_circle: VictorOps answers." in reply
        assert "Budget: incidents unlimited left" in reply and "Queued actions waiting for VictorOps: 0." in reply
        assert "Digest *morning* in <#C0OPS>: not posted yet." in reply
        assert "On call but not linked to Slack: `frank`, `ivan.petrov`, `judy`" in reply


async def test_readiness_and_metrics(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot, httpx.AsyncClient(base_url=bot.url) as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        token, bot.slack.bot_token = bot.slack.bot_token, "xoxb-rotated"  # Slack no longer accepts ours
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["slack"].startswith("token revoked or invalid (invalid_auth)")
        bot.slack.bot_token = token
        for _ in range(50):  # the refusal is remembered for a few seconds, so probes do not hammer Slack
            if (ready := await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert ready.json() == {"database": "ok", "slack": "ok"}
        await bot.driver.command("U0ALICE", CHANNEL, "list public")
        listing = await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
        number = bot.open_numbers("UNACKED")[0]
        await bot.driver.click("U0BOB", listing, ActionId.ACK, block_id=f"inc-{number}-actions")
        await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")
        for _ in range(50):  # the dispatcher reports the queue's depth at its next look
            metrics = (await http.get("/metrics")).text
            if "vobot_queue_depth 0.0" in metrics:
                break
            await asyncio.sleep(0.1)
        assert 'vobot_slack_requests_total{kind="command",outcome="ok"} 1.0' in metrics
        assert 'vobot_slack_requests_total{kind="block_actions",outcome="ok"} 1.0' in metrics
        assert 'vobot_ack_seconds_count{kind="command"} 1.0' in metrics
        assert 'vobot_victorops_calls_total{endpoint="GET /api-public/v1/incidents",status="200"} 1.0' in metrics
        assert 'vobot_victorops_calls_total{endpoint="PATCH /api-public/v1/incidents/ack",status="200"} 1.0' in metrics
        assert "vobot_queue_depth 0.0" in metrics and "vobot_budget_wait_seconds" in metrics


@pytest.mark.slow  # a `vobot run` process
async def test_json_logs_never_carry_secrets_and_sigterm_keeps_the_queue(tmp_path: Path) -> None:
    with fakes("2/30s") as f:
        f.slack.signing_secret = "signing-sekrit-5150"
        env = bot_env(
            f.slack, f.slack_url, f.vo_url, tmp_path,
            VICTOROPS_RATE_LIMIT="2/30s", VOBOT_BATCH_WINDOW="0", VOBOT_LOG_FORMAT="json", VOBOT_LOG_LEVEL="DEBUG",
            SLACK_SIGNING_SECRET="signing-sekrit-5150",
        )  # fmt: skip
        f.vo.config.api_key = env["VICTOROPS_API_KEY"] = "vo-key-sekrit-2112"
        bot = await BotProcess(env, tmp_path / "bot.log").start()
        numbers = [n for n in (f.vo.trigger(f"Log test {i}", "logs") for i in range(3))]
        driver = f.driver(bot)
        for user, number in zip(["U0ALICE", "U0BOB", "U0CAROL"], numbers, strict=True):
            await driver.command(user, CHANNEL, f"ack {number}")
        await asyncio.sleep(1)
        assert bot.process is not None
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(15) == 0  # graceful: in-flight work finished, then a clean exit
        log = bot.log.read_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)  # one JSON object per line
    for secret in ("vo-key-sekrit-2112", "signing-sekrit-5150", f.slack.bot_token):
        assert secret not in log
    assert any(f.phase(n) == "UNACKED" for n in numbers)  # the budget held some back: still queued, not lost
