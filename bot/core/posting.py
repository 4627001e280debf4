"""Posts one person can make visible to a whole channel, limited so that nobody can flood it.

`digest now` is limited per channel, whoever asks (a second digest within the minute repeats the first);
replies to commands ending in `public` per person and channel. The windows are shared by every replica.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.actions import seconds
from bot.victorops.limits import RateSpec

DIGEST_NOW = RateSpec(1, 60.0)
PUBLIC_REPLIES = RateSpec(5, 60.0)


class Windows(Protocol):
    """Sliding windows kept where replicas share them (bot.store.post_limits.PostWindows)."""

    async def take(self, key: str, spec: RateSpec) -> float: ...
    async def give_back(self, key: str) -> None: ...


class PostLimits:
    def __init__(self, windows: Windows, command: str = "/vo") -> None:
        self._windows = windows
        self._command = command

    async def digest_now(self, channel: str) -> str | None:
        """None when a digest may be posted in `channel` now (and counts it), else the sentence saying why not."""
        wait = await self._windows.take(f"digest:{channel}", DIGEST_NOW)
        if not wait:
            return None
        return (
            f"A digest was posted here with `{self._command} digest now` less than a minute ago; it is just above, "
            f"or try again in {seconds(wait)}."
        )

    async def digest_not_posted(self, channel: str) -> None:
        """The digest taken for `channel` failed (e.g. the bot was not invited): the next try must not wait."""
        await self._windows.give_back(f"digest:{channel}")

    async def public_reply(self, slack_user_id: str, channel: str) -> str | None:
        """None when the person may post a reply in `channel` now (and counts it), else the sentence saying why not."""
        wait = await self._windows.take(f"public:{channel}:{slack_user_id}", PUBLIC_REPLIES)
        if not wait:
            return None
        return (
            f"You posted {PUBLIC_REPLIES.count} public replies here in the last minute, so this answer is only "
            f"for you; `public` works again in {seconds(wait)}."
        )
