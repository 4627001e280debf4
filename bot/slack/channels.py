"""Whether vobot can post in a channel, asked of Slack before a feed is made there (the core's `Channels`)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.feed_admin import Access
from bot.slack.slack_errors import code_of


class ChannelAccess:
    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack

    async def access(self, channel: str) -> Access:
        try:
            info = (await self._slack.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            if code_of(exc) == "channel_not_found":  # also a private channel vobot was never invited to
                return Access.NOT_FOUND
            raise
        if info.get("is_archived"):
            return Access.ARCHIVED
        # A public channel takes posts without an invitation (the manifest's chat:write.public); a private one not.
        if info.get("is_private") and not info.get("is_member"):
            return Access.NOT_IN_CHANNEL
        return Access.OK
