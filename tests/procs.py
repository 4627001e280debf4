"""`vobot run` as real processes (for crash and replica tests), wired to fakes served by the test process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from bot.sim.server import free_port
from bot.sim.slack import SlackWorkspace
from bot.sim.stack import env_for
from tests.harness import USERS


def bot_env(slack: SlackWorkspace, slack_url: str, vo_url: str, folder: Path, **env: str) -> dict[str, str]:
    """The environment of a `vobot run` process on the fakes, with the test users mapped in a YAML file."""
    config = folder / "vobot.yaml"
    config.write_text(yaml.safe_dump({"users": USERS, "email_matching": False}))
    path = os.environ.get("PATH", "/usr/bin:/bin")
    defaults = {"PATH": path, "VOBOT_CONFIG": str(config), "VOBOT_LOG_LEVEL": "INFO"}
    return env_for(slack, slack_url, vo_url, folder, **{**defaults, **env})


class BotProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> BotProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
                [sys.executable, "-m", "bot", "run"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert self.process.poll() is None, self.log.read_text()
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"vobot did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, exactly like a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
