"""A shift handoff in a feed's channel (the core's `HandoffPoster`): who went on and off call for a team, as
Slack mentions where linked, and what is open for that team, the oldest few as cards with their buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.oncall import Handoff
from bot.slack.blocks import Block, card, check_message, phase_counts
from bot.slack.names import Names
from bot.slack.sentences import handoff_line, handoff_open, handoff_unknown
from bot.slack.slack_errors import post_message
from bot.victorops.models import Incident

OLDEST = 3  # cards shown; the rest are counted


def oldest_first(incident: Incident) -> datetime:
    return incident.start_time or datetime.max.replace(tzinfo=UTC)


def handoff_message(handoff: Handoff, names: Names, command: str) -> tuple[str, list[Block]]:
    """Pure: the fallback text and the blocks."""
    team = handoff.team.name or handoff.team.slug
    line = handoff_line(team, [names.user(u) for u in handoff.on], [names.user(u) for u in handoff.was])
    opened = handoff.open or ()
    shown = sorted(opened, key=oldest_first)[:OLDEST]
    summary = (
        handoff_open(team, handoff.team.slug, phase_counts(opened), len(shown), len(opened), command)
        if handoff.open is not None
        else handoff_unknown(team)
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=line)).to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text=summary)]).to_dict(),
    ]
    for incident in shown:
        blocks.extend(card(incident, names=names))
    return f"{line}. {summary}", blocks


class HandoffPoster:
    def __init__(self, slack: AsyncWebClient, command: str, names: Callable[[], Awaitable[Names]]) -> None:
        self._slack = slack
        self._command = command
        self._names = names  # a channel message: linked people are mentioned

    async def handoff(self, channel: str, handoff: Handoff) -> None:
        text, blocks = handoff_message(handoff, await self._names(), self._command)
        check_message(blocks, text)
        await post_message(self._slack, channel, text=text, blocks=blocks, unfurl_links=False)
