"""What the core needs to keep an audit trail: every action taken from Slack, with its result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Auditor(Protocol):
    async def record(
        self,
        *,
        slack_user_id: str,
        vo_username: str | None,
        action: str,
        incidents: Sequence[str],
        result: str,
        detail: str | None = None,
    ) -> None: ...
