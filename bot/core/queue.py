"""A queued action as the core sees it: the store builds it from its row, the dispatcher sends it, and the
Slack side reads `reply` (opaque here) to tell the person how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.outcomes import Verb


@dataclass(frozen=True)
class QueuedAction:
    id: int
    created_at: datetime
    verb: Verb
    vo_username: str
    slack_user_id: str
    slack_name: str
    incidents: tuple[str, ...]
    payload: dict[str, Any]
    reply: dict[str, Any]  # where to tell the outcome, as the asker's side wrote it
    status: str
    attempts: int
    not_before: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    handed_off: bool
    dedupe_key: str | None
    told: bool = False
    mine: bool = False  # every incident paging the user (byUser) rather than `incidents`
