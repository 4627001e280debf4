"""Reminders in Slack (the core's `ReminderPoster`): a reply in the feed card's thread that mentions the people
concerned, with Acknowledge (or Resolve), Snooze 1h and Stop reminders; and the thread line when someone pauses
them. Posted in the channel's turn with the feed's own messages (`FeedPoster.reply`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.reminders import Kind, Paused, Reminder
from bot.slack.blocks import ActionId, Block, IncidentNumber, clip, decode, resolve_confirm
from bot.slack.feed import FeedPoster
from bot.slack.names import Names
from bot.slack.sentences import paused_line, reminder_line


class ReminderRef(BaseModel):
    """What a reminder's button carries: only the incident (state and permission are checked again on click)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: IncidentNumber

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, value: object) -> ReminderRef | None:
        return decode(cls, value)


def reminder_blocks(reminder: Reminder, names: Names) -> tuple[str, list[Block]]:
    """The reminder's text and blocks: the sentence, then its three buttons."""
    text = reminder_line(reminder, names)
    value = ReminderRef(n=reminder.number).encode()
    act = (
        ButtonElement(text="Acknowledge", action_id=ActionId.REMIND_ACK, value=value, style="primary")
        if reminder.kind is Kind.UNACKED
        else ButtonElement(
            text="Resolve", action_id=ActionId.REMIND_RESOLVE, value=value, confirm=resolve_confirm(reminder.incident)
        )
    )
    buttons = [
        act,
        ButtonElement(text="Snooze 1h", action_id=ActionId.REMIND_SNOOZE, value=value),
        ButtonElement(
            text="Stop reminders", action_id=ActionId.REMIND_STOP, value=value, confirm=stop_confirm(reminder)
        ),
    ]
    blocks = [
        SectionBlock(block_id="reminder", text=MarkdownTextObject(text=clip(text, 3000))),
        ActionsBlock(block_id="reminder-actions", elements=buttons),
    ]
    return text, [b.to_dict() for b in blocks]


def stop_confirm(reminder: Reminder) -> ConfirmObject:
    """Stopping is for good and for every channel: asked first, like Resolve."""
    return ConfirmObject(
        title="Stop reminders?",
        text=PlainTextObject(
            text=f"No more reminders for #{reminder.number}, in any channel, until someone turns them back on."
        ),
        confirm="Stop reminders",
        deny="Cancel",
    )


def reminder_done(blocks: list[Block], note: str) -> list[Block]:
    """The reminder after a click: its sentence as it was, what the click did, and no buttons."""
    kept = [b for b in blocks if b.get("type") != "actions" and b.get("block_id") != "reminder-note"]
    note_block = ContextBlock(block_id="reminder-note", elements=[MarkdownTextObject(text=clip(note, 2000))])
    return [*kept, note_block.to_dict()]


class ReminderPoster:
    def __init__(self, feed: FeedPoster, names: Callable[[], Awaitable[Names]]) -> None:
        self._feed = feed
        self._names = names  # for a channel message: nobody is "you", linked people are mentioned (pinged)

    async def remind(self, reminder: Reminder) -> str:
        text, blocks = reminder_blocks(reminder, await self._names())
        return await self._feed.reply(reminder.channel, reminder.ts, "reminder", text, blocks)

    async def paused(self, channel: str, ts: str, paused: Paused) -> None:
        await self._feed.reply(channel, ts, "thread", paused_line(paused, await self._names()))
