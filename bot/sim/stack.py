"""The whole product on loopback: the VictorOps simulator, the Slack fake and the real bot (ASGI app and
dispatcher), wired together. Used by the tests, the benchmarks and the demo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import AppConfig, Settings
from bot.sim.server import ServerThread, serve
from bot.sim.slack import Message, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from bot.sim.victorops import CallRecord, SimConfig, SimState, build_app
from bot.victorops.limits import RateSpec
from bot.wiring import Vobot, build, build_bolt, build_web

OFF = RateSpec.parse("off")


@dataclass
class LocalStack:
    vo: SimState
    slack: SlackWorkspace
    driver: SlackDriver
    vobot: Vobot
    url: str

    def writes(self) -> list[CallRecord]:
        """VictorOps calls that change something."""
        return [c for c in self.vo.calls() if c.method != "GET"]

    def incident(self, number: str) -> dict[str, Any]:
        found = self.vo.incident(number)
        assert found is not None, number
        return found

    def open_numbers(self, phase: str | None = None) -> list[str]:
        return [
            str(i["incidentNumber"])
            for i in self.vo.incidents()
            if i["currentPhase"] != "RESOLVED" and phase in (None, i["currentPhase"])
        ]

    async def reply(self, user: str, previous: int = 0, within: float = 3.0) -> Message:
        """The next ephemeral message the user sees after `previous` ones."""
        return await wait_for(lambda: _nth(self.slack.ephemerals(user), previous), within)

    async def until(self, predicate: Callable[[], Any], within: float = 3.0) -> Any:
        return await wait_for(predicate, within)


def _nth(messages: Sequence[Message], index: int) -> Message | None:
    return messages[index] if len(messages) > index else None


def env_for(slack: SlackWorkspace, slack_url: str, vo_url: str, folder: Path, **env: str) -> dict[str, str]:
    """The environment that wires the bot to the two fakes (budgets off); `env` overrides any variable."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": f"{slack_url}/api/",
        "VICTOROPS_API_URL": vo_url,
        "VICTOROPS_API_ID": "demo",
        "VICTOROPS_API_KEY": "demo",
        "VICTOROPS_RATE_LIMIT": "off",
        "VICTOROPS_REPORTING_RATE_LIMIT": "off",
        "VICTOROPS_LOOKUP_RATE_LIMIT": "off",
        "VOBOT_DATABASE_URL": f"sqlite:///{folder}/vobot.db",
        **env,
    }


def settings_for(slack: SlackWorkspace, slack_url: str, vo_url: str, folder: Path, **env: str) -> Settings:
    # not read from this process's environment: these fakes are all it talks to
    return Settings.model_validate(env_for(slack, slack_url, vo_url, folder, **env))


@asynccontextmanager
async def local_stack(
    folder: Path,
    *,
    sim: SimConfig | None = None,
    state: SimState | None = None,
    slack: SlackWorkspace | None = None,
    config: Mapping[str, Any] | None = None,
    **env: str,
) -> AsyncIterator[LocalStack]:
    """The bot with its own servers; pass `state` and `slack` to run a second replica on the same fakes, and
    VOBOT_DATABASE_URL to share a database. `config` is the YAML file's keys."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    state = state or SimState(sim or SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    slack = slack or SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo_server, ServerThread(build_slack_api(slack)) as slack_server:
        # A second replica on the same workspace talks to the Slack its response URLs come from, as replicas do.
        slack.base_url = slack.base_url or slack_server.url
        settings = settings_for(slack, slack.base_url, vo_server.url, folder, **env)
        vobot = await build(settings, AppConfig.model_validate(config or {}))
        stop = asyncio.Event()
        dispatching = asyncio.create_task(vobot.core.dispatcher.run(stop))
        try:
            async with serve(build_web(vobot, build_bolt(vobot))) as url:
                driver = SlackDriver(slack, f"{url}/slack/events", slack.signing_secret)
                yield LocalStack(state, slack, driver, vobot, url)
        finally:
            stop.set()
            await dispatching
            await vobot.core.feed.drain()
            await vobot.aclose()


def texts(message: Message) -> str:
    """Every piece of text in a message's blocks, for assertions."""
    return f"{message.text}\n{block_texts(message.blocks)}"


def block_texts(blocks: list[Any]) -> str:
    """Every piece of text in blocks (a message's, a view's), for assertions."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def buttons(message: Message, number: str) -> list[str]:
    """The action_ids of the buttons on one incident's card."""
    for block in message.blocks:
        if block.get("block_id") == f"inc-{number}-actions":
            return [e["action_id"] for e in block["elements"]]
    return []
