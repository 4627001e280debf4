"""Posts Slack will keep refusing until a person changes something (the channel is gone or archived, vobot is
not in it, the token is revoked): a scheduled digest there is not tried again for `HOLD`, and is reported once.
A person's `/vo digest now` is always tried, and ends the hold once it posts.

Held in this process only: each replica learns it from its own first refused post, which is one more call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOLD = timedelta(minutes=30)
EVERYWHERE = "*"  # the hold of a refused token: every channel


class PostRefused(Exception):
    """Raised by the Slack side; `channel` is EVERYWHERE for the token."""

    def __init__(self, channel: str, sentence: str) -> None:
        super().__init__(sentence)
        self.channel = channel
        self.sentence = sentence


@dataclass(frozen=True)
class Hold:
    refusal: PostRefused
    until: datetime


class Refusals:
    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC), hold: timedelta = HOLD) -> None:
        self._now = now
        self._hold = hold
        self._holds: dict[str, Hold] = {}

    def held(self, channel: str) -> Hold | None:
        """Why a post to `channel` is not to be tried now (the token's hold first), or None."""
        for key in (EVERYWHERE, channel):
            hold = self._holds.get(key)
            if hold is not None and self._now() < hold.until:
                return hold
        return None

    def hold(self, refusal: PostRefused) -> bool:
        """Hold the refused channel (or every one); True when it was not held already, so it is news to report."""
        new = self.held(refusal.channel) is None
        self._holds[refusal.channel] = Hold(refusal, self._now() + self._hold)
        return new

    def clear(self, channel: str) -> None:
        """A post went through (a person invited vobot, unarchived the channel, or reinstalled it)."""
        self._holds.pop(channel, None)
        self._holds.pop(EVERYWHERE, None)

    def current(self) -> list[Hold]:
        now = self._now()
        self._holds = {key: hold for key, hold in self._holds.items() if now < hold.until}
        return list(self._holds.values())
