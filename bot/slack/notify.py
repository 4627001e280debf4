"""Telling people how their queued action ended, when it lands after they stopped waiting: the card is
redrawn in place, or the "queued" reply is replaced by the outcome. Runs on whichever replica sent it.

When Slack refuses that (the response URL was used five times, is older than 30 minutes, or the message is
gone), the outcome is posted anew: privately in the same channel, else as a direct message. What cannot be
delivered at all is logged, so nothing ends silently."""

from __future__ import annotations

import logging
from dataclasses import replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.errors import failure_of
from bot.core.incidents import IncidentView
from bot.core.outcomes import Outcome, Verb, outcomes_of
from bot.core.queue import QueuedAction
from bot.slack.blocks import Block, outcomes_message, sentence
from bot.slack.cards import Cards
from bot.slack.errors import explain
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import said_all
from bot.slack.surface import Elsewhere, Surface

log = logging.getLogger(__name__)

WHAT = {
    Verb.ACK: "acknowledgement",
    Verb.RESOLVE: "resolution",
    Verb.REROUTE: "reroute",
    Verb.CREATE: "new incident",
}


class Notifier:
    def __init__(
        self,
        incidents: IncidentView,
        cards: Cards,
        hooks: ResponseUrls,
        slack: AsyncWebClient,
        elsewhere: Elsewhere | None = None,
    ) -> None:
        self._elsewhere = elsewhere  # outcomes for a home, a thread, a direct message
        self._incidents = incidents
        self._cards = cards
        self._hooks = hooks
        self._slack = slack

    async def __call__(self, action: QueuedAction) -> None:
        place = Place.model_validate(action.reply)
        surface = Surface(self._hooks, place, strict=True, elsewhere=self._elsewhere)
        outcomes: list[Outcome] = []
        if action.status == "failed":
            why = explain(failure_of(action.result, action.error), self._cards.command)
            text = f"Your queued {WHAT[action.verb]} was not sent: {why}"
            blocks = sentence(text)
        else:
            stored = outcomes_of(action.result)
            found = await self._incidents.find(o.number for o in stored if o.number)
            outcomes = [replace(o, incident=found.get(o.number)) for o in stored]
            text = "VictorOps had no incidents paging you, so nothing changed."
            text, blocks = (
                outcomes_message(outcomes, await self._cards.names(place.viewer(action.slack_user_id)))
                if outcomes
                else (text, sentence(text))
            )
        bulk = place.kind == "card" and place.listing is not None and len(outcomes) > 1
        if bulk:  # its listing is redrawn without notes, so the person is told the outcome in one message
            text = said_all(outcomes, await self._cards.names(action.slack_user_id))
            blocks = sentence(text)
        try:
            if action.status == "failed" and place.thread_ts:  # a thread is everyone's: told privately
                await self._post_anew(action, place.channel, text, blocks)
            elif action.status == "failed":
                await surface.tell(text)
            elif bulk:
                if summary := await self._cards.redraw_summing(surface, outcomes, action.slack_user_id):
                    await surface.tell(summary)  # unless the redraw told them already (nothing left to redraw)
            elif place.kind == "card" and (len(outcomes) == 1 or place.listing):
                await self._cards.redraw(surface, outcomes, action.slack_user_id)
            else:
                await surface.redraw(self._slack, text, blocks)
        except Exception as exc:  # refused, expired, or the message is gone: the outcome must still arrive
            log.warning("could not update the reply to queued action %d (%s); posting it anew", action.id, reason(exc))
            await self._post_anew(action, place.channel, text, blocks)

    async def _post_anew(self, action: QueuedAction, channel: str | None, text: str, blocks: list[Block]) -> None:
        client, user = self._slack, action.slack_user_id
        if channel:
            try:
                await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
                return
            except SlackApiError as exc:
                log.warning("could not post queued action %d's outcome in its channel (%s)", action.id, reason(exc))
        try:
            # a user id as the channel: the bot's direct message with them (chat:write, no extra scope)
            await client.chat_postMessage(channel=user, text=text, blocks=blocks)
        except Exception as exc:
            log.error(
                "could not tell %s how queued action %d (%s %s) ended: %s",
                user,
                action.id,
                action.verb,
                " ".join(action.incidents) or "-",
                reason(exc),
            )


def reason(error: Exception) -> str:
    """What may be logged of a failed delivery: Slack's error code, never a URL or token."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "slack error"))
    return type(error).__name__
