"""`vobot run` in Socket Mode: connects to the (fake) Slack WebSocket, answers commands, serves health."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from bot.config import AppConfig
from bot.sim.server import ServerThread, free_port
from bot.sim.slack import SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.wiring import run_bot
from tests.harness import CHANNEL, OFF, USERS, settings_for, texts


async def test_socket_mode_round_trip(tmp_path: Path) -> None:
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    slack = SlackWorkspace()
    port = free_port()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        settings = settings_for(
            slack, slack_server.url, vo.url, tmp_path, SLACK_APP_TOKEN=slack.app_token, PORT=str(port)
        )
        task = asyncio.create_task(run_bot(settings, AppConfig(users=USERS), host="127.0.0.1"))
        try:
            driver = SlackDriver(slack, "unused: socket mode", "unused")
            number = next(str(i["incidentNumber"]) for i in state.incidents() if i["currentPhase"] == "UNACKED")
            payload = driver.command_payload("U0ALICE", CHANNEL, f"ack {number}")
            acked = await driver.send_socket_envelope("slash_commands", payload)
            assert acked.envelope_id
            await wait_for(lambda: state.incident(number)["currentPhase"] == "ACKED")  # type: ignore[index]
            reply = await wait_for(lambda: next(iter(slack.ephemerals("U0ALICE")), None))
            assert "Acknowledged by you." in texts(reply)  # her ephemeral reply
            # the App Home over Socket Mode: the same event, in an events_api envelope
            opened = await driver.send_socket_envelope("events_api", driver.home_opened_payload("U0ALICE"))
            assert opened.envelope_id
            home = await wait_for(lambda: slack.home("U0ALICE"))
            assert "You are *alice*" in str(home.body["blocks"])
            async with httpx.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{port}/healthz")
                events = await client.post(f"http://127.0.0.1:{port}/slack/events", content=b"x")
            assert health.status_code == 200 and events.status_code == 404  # Socket Mode serves health only
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
