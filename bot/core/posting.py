"""Posts one person can make visible to a whole channel, limited so that nobody can flood it.

`digest now` is limited per channel, whoever asks (a second digest within the minute repeats the first);
replies to commands ending in `public` per person and channel. The windows are shared by every replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.errors import ActionError
from bot.victorops.limits import RateSpec

DIGEST_NOW = RateSpec(1, 60.0)
PUBLIC_REPLIES = RateSpec(5, 60.0)


@dataclass(eq=False)
class TooSoon(ActionError):
    """A post its window refuses for now: `count` a minute are allowed, and there is room in `wait` seconds."""

    what: Literal["digest", "public"]
    count: int
    wait: float


class Windows(Protocol):
    """Sliding windows kept where replicas share them (bot.store.post_limits.PostWindows)."""

    async def take(self, key: str, spec: RateSpec) -> float: ...
    async def give_back(self, key: str) -> None: ...


class PostLimits:
    def __init__(self, windows: Windows) -> None:
        self._windows = windows

    async def digest_now(self, channel: str) -> TooSoon | None:
        """None when a digest may be posted in `channel` now (and counts it), else why not."""
        wait = await self._windows.take(f"digest:{channel}", DIGEST_NOW)
        return TooSoon("digest", DIGEST_NOW.count, wait) if wait else None

    async def digest_not_posted(self, channel: str) -> None:
        """The digest taken for `channel` failed (e.g. the bot was not invited): the next try must not wait."""
        await self._windows.give_back(f"digest:{channel}")

    async def public_reply(self, slack_user_id: str, channel: str) -> TooSoon | None:
        """None when the person may post a reply in `channel` now (and counts it), else why not."""
        wait = await self._windows.take(f"public:{channel}:{slack_user_id}", PUBLIC_REPLIES)
        return TooSoon("public", PUBLIC_REPLIES.count, wait) if wait else None
