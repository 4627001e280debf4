"""The whole bot over real sockets for tests: `bot.sim.stack` with the test workspace's users mapped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.sim.stack import OFF, LocalStack, buttons, local_stack, settings_for, texts

# Slack users of the fake workspace, mapped to the simulator's VictorOps users (config as code).
USERS = {"U0ALICE": "alice", "U0BOB": "bob.martinez", "U0CAROL": "cchen", "U0DAVE": "dave", "U0ADMIN1": "heidi"}
UNLINKED = "U0ERIN"
CHANNEL = "C0OPS"
Bot = LocalStack

__all__ = ["CHANNEL", "OFF", "UNLINKED", "USERS", "Bot", "buttons", "running_bot", "settings_for", "texts"]


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    users: Mapping[str, str] = USERS,
    admins: Sequence[str] = ("U0ADMIN1",),
    config: Mapping[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[LocalStack]:
    """`local_stack` with the test users mapped, U0ADMIN1 an admin, email matching off unless asked, and a
    short batch window so tests do not wait for one."""
    yaml_keys = {"users": dict(users), "admins": list(admins), "email_matching": False, **(config or {})}
    options = {"VOBOT_BATCH_WINDOW": "0.1", **options}
    async with local_stack(tmp_path, config=yaml_keys, **options) as stack:
        yield stack
