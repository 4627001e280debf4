"""Slack's refusals as one class per family (after Grafana OnCall's `apps/slack/errors.py`), each with the
sentence a person can act on. What is done about them (a hold, one report) is `bot.core.refusals`'."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.refusals import EVERYWHERE, PostRefused


class SlackRefusal(PostRefused):
    errors: tuple[str, ...] = ()
    everywhere = False  # the token, not the channel, is refused

    def __init__(self, channel: str, code: str) -> None:
        self.code = code
        super().__init__(EVERYWHERE if self.everywhere else channel, self.say(channel))

    def say(self, channel: str) -> str:
        raise NotImplementedError


class ChannelNotFound(SlackRefusal):
    errors = ("channel_not_found",)

    def say(self, channel: str) -> str:
        return (
            f"Slack has no channel {where(channel)} any more (channel_not_found), so nothing was posted: "
            "point the digest at another channel."
        )


class ChannelArchived(SlackRefusal):
    errors = ("is_archived",)

    def say(self, channel: str) -> str:
        return (
            f"{where(channel)} is archived (is_archived), so nothing was posted: "
            "unarchive it, or point the digest at another channel."
        )


class NotInChannel(SlackRefusal):
    errors = ("not_in_channel",)

    def say(self, channel: str) -> str:
        return f"vobot is not in {where(channel)}, so nothing was posted: invite it with `/invite @vobot`, then retry."


class TokenRevoked(SlackRefusal):
    errors = ("invalid_auth", "account_inactive", "token_revoked", "not_authed")
    everywhere = True

    def say(self, channel: str) -> str:
        return (
            f"token revoked or invalid ({self.code}): Slack refuses every call from vobot; "
            "a Slack admin must reinstall the app and set the new SLACK_BOT_TOKEN."
        )


def where(channel: str) -> str:
    return f"<#{channel}>" if channel else "this channel"


FAMILIES: dict[str, type[SlackRefusal]] = {
    code: family for family in (ChannelNotFound, ChannelArchived, NotInChannel, TokenRevoked) for code in family.errors
}


def code_of(error: SlackApiError) -> str:
    return str(error.response.get("error", "unknown_error") if error.response is not None else "unknown_error")


def typed(error: SlackApiError, channel: str = "") -> SlackRefusal | None:
    """The family of Slack's refusal, or None for one that may pass if tried again."""
    family = FAMILIES.get(code_of(error))
    return family(channel, code_of(error)) if family else None


async def post_message(client: AsyncWebClient, channel: str, **message: Any) -> str:
    """chat.postMessage to a channel, its refusals typed; the message's ts."""
    try:
        answer = await client.chat_postMessage(channel=channel, **message)
    except SlackApiError as exc:
        refusal = typed(exc, channel)
        if refusal is None:
            raise
        raise refusal from exc
    return str(answer["ts"])
