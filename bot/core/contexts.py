"""Context one request leaves for a later one (where to answer, which card to redraw), kept server-side.

A value the bot sends to a client and gets back (a button's value, a modal's private_metadata) can be
changed on the way; a row the bot wrote cannot. So the client carries only an opaque token naming the row,
and the row says whom it was made for and until when it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

Refusal = Literal["unknown", "someone_else", "expired", "spent"]

SPENT = "spent"  # the kind of a single-use context once used: kept, so a replay is told so


@dataclass(frozen=True)
class Saved:
    token: str
    kind: str  # what the token was made for (a modal, a link prompt): one is not accepted as the other
    slack_user_id: str  # the only person who may use it
    body: dict[str, Any]
    expires_at: datetime

    def refusal(self, kind: str, slack_user_id: str, now: datetime) -> Refusal | None:
        """Why this context may not be used by `slack_user_id` for `kind` now, or None when it may."""
        if kind != self.kind and self.kind != SPENT:
            return "unknown"
        if slack_user_id != self.slack_user_id:
            return "someone_else"
        if self.kind == SPENT:
            return "spent"
        if now >= self.expires_at:
            return "expired"
        return None


class ContextStore(Protocol):
    async def put(self, saved: Saved) -> None: ...
    async def get(self, token: str) -> Saved | None: ...
    async def spend(self, token: str, kind: str) -> bool:
        """Mark a single-use context of `kind` used (its kind becomes SPENT); True for the one caller that did."""
        ...
