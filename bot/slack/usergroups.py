"""Slack user groups (the core's `UserGroups`): `usergroups.users.update`, its refusals as a core fact."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.oncall import GroupRefused
from bot.slack.sentences import group_refusal
from bot.slack.slack_errors import code_of


class SlackUserGroups:
    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack

    async def set_members(self, group: str, slack_users: Sequence[str]) -> None:
        try:
            await self._slack.usergroups_users_update(usergroup=group, users=",".join(slack_users))
        except SlackApiError as exc:
            raise GroupRefused(group_refusal(code_of(exc), group)) from exc
