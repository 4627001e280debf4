"""A reminder's buttons and `/vo snooze | unsnooze`.

Acknowledge and Resolve act like a card's (the queue, its budget; an unlinked person gets the link prompt, which
finishes the click); then the reminder is edited to say what happened and loses its buttons, rather than becoming
a card (the card above it is edited by the feed). Pausing reminders (Snooze 1h, Stop reminders, `/vo snooze`,
`/vo unsnooze`) takes a linked VictorOps user too: it silences paging reminders for everyone, so it is for the
people on the roster, and the thread says who did it. A button acts only on the incident whose card is the
thread's parent, whatever its value says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import IncidentActions
from bot.core.outcomes import Verb
from bot.core.reminders import SNOOZE_BUTTON, Paused, Reminders
from bot.slack import grammar as g
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import ActionId, sentence
from bot.slack.cards import Cards
from bot.slack.listeners.buttons import unreadable
from bot.slack.listeners.feed_commands import Reply
from bot.slack.place import Place
from bot.slack.reminders import ReminderRef, reminder_done
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import paused_line, paused_reply, said
from bot.slack.surface import Surface


class ReminderButtons:
    def __init__(
        self,
        *,
        command: str,
        reminders: Reminders,
        actions: IncidentActions,
        hooks: ResponseUrls,
        cards: Cards,
        answers: Answers,
        slack: AsyncWebClient,
    ) -> None:
        self.command = command
        self._reminders = reminders
        self._actions = actions
        self._hooks = hooks
        self._cards = cards
        self._answers = answers
        self._slack = slack

    async def on_ack(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self._act(body, action, context["acting"], Verb.ACK)

    async def on_resolve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self._act(body, action, context["acting"], Verb.RESOLVE)

    async def on_snooze(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self._pause(body, action, context["acting"], SNOOZE_BUTTON)

    async def on_stop(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self._pause(body, action, context["acting"], None)

    async def _number(self, body: dict[str, Any], action: dict[str, Any], surface: Surface) -> str:
        """The incident the clicked reminder is about: its value, checked against the card it was posted under."""
        ref = ReminderRef.decode(action.get("value"))
        message = body.get("message")
        thread_ts = message.get("thread_ts") if isinstance(message, dict) else None
        if ref is None or not await self._reminders.under_card(ref.n, surface.place.channel, thread_ts):
            raise unreadable(self.command, "done")
        return ref.n

    async def _act(self, body: dict[str, Any], action: dict[str, Any], acting: Acting, verb: Verb) -> None:
        surface = Surface.of_click(self._hooks, body)
        async with self._answers.answering(surface.tell):
            number = await self._number(body, action, surface)
            # Neither the link prompt's finish nor a late outcome redraws the reminder as a card: they answer
            # the clicker alone (no response URL, no message to edit), in this channel.
            elsewhere = Place(channel=surface.place.channel)
            actor = await acting.require(verb, [number], place=elsewhere)
            [outcome] = await self._actions.act(verb, actor, [number], reply=elsewhere.as_("reply").wire())
            note = said(outcome, await self._cards.names())
            if outcome.done:
                await self._edit(surface, note)
            else:
                await surface.tell(note)

    async def _pause(
        self, body: dict[str, Any], action: dict[str, Any], acting: Acting, length: timedelta | None
    ) -> None:
        surface = Surface.of_click(self._hooks, body)
        async with self._answers.answering(surface.tell):
            number = await self._number(body, action, surface)
            user = (await acting.require()).slack_user_id
            if length is None:
                paused = await self._reminders.stop(number, user)
            else:
                paused = await self._reminders.snooze(number, length, user)
            if refused(paused):
                await surface.tell(paused_reply(paused, self.command))
                return
            await self._edit(surface, paused_line(paused, await self._cards.names()))

    async def _edit(self, surface: Surface, note: str) -> None:
        """The clicked reminder as it was, with `note` and without its buttons."""
        blocks = reminder_done(list(surface.message_blocks), note)
        await surface.redraw(self._slack, note, blocks)

    # ---- /vo snooze, /vo unsnooze -------------------------------------------------------------------------

    async def answer(self, parsed: g.Snooze | g.Unsnooze, reply: Reply, acting: Acting) -> None:
        user = (await acting.require()).slack_user_id
        if isinstance(parsed, g.Snooze):
            paused = await self._reminders.snooze(parsed.number, parsed.length, user)
        else:
            paused = await self._reminders.unsnooze(parsed.number, user)
        text = paused_reply(paused, self.command)
        await reply(text, sentence(text))


def refused(paused: Paused) -> bool:
    return paused.unknown or paused.refused is not None


def register(app: AsyncApp, buttons: ReminderButtons, middleware: Sequence[Middleware]) -> None:
    for action_id, listener in (
        (ActionId.REMIND_ACK, buttons.on_ack),
        (ActionId.REMIND_RESOLVE, buttons.on_resolve),
        (ActionId.REMIND_SNOOZE, buttons.on_snooze),
        (ActionId.REMIND_STOP, buttons.on_stop),
    ):
        app.action(action_id, middleware=list(middleware))(listener)
