"""What the request edge needs to act on each Slack request once: a shared memory of the requests it took."""

from __future__ import annotations

from typing import Protocol

# Slack refuses a signature whose timestamp is more than five minutes off; a signed request can only be
# replayed inside that window, so it need only be remembered that long (plus slack for clock skew).
SIGNATURE_WINDOW = 300
SKEW = 60
# Events API retries come after about 1 and 5 minutes with a new signature: remember the event id longer.
EVENT_WINDOW = 3600


class SeenRequests(Protocol):
    async def first_time(self, key: str, expires_at: int) -> bool:
        """Remember `key` until `expires_at` (Unix seconds); False when it was already remembered (a replay).

        Implementations decide in one atomic write, so of two replicas taking the same request one wins."""
        ...
