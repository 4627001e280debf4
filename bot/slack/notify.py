"""Telling people how their queued action ended, when it lands after they stopped waiting: the card is
redrawn in place, or the "queued" reply is replaced by the outcome. Runs on whichever replica sent it."""

from __future__ import annotations

from dataclasses import replace

from bot.core.actions import outcomes_of
from bot.services import Services
from bot.slack.blocks import outcomes_message, sentence
from bot.slack.listeners.cards import names_for, redraw_card, seen_by
from bot.slack.surface import Surface
from bot.store.queue import QueuedAction

WHAT = {
    "ack": "acknowledgement",
    "resolve": "resolution",
    "ack_mine": "acknowledgement",
    "resolve_mine": "resolution",
    "reroute": "reroute",
    "create": "new incident",
}


class Notifier:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, action: QueuedAction) -> None:
        surface = Surface.from_reply(self.services.hooks, action.reply)
        if action.status == "failed":
            text = f"Your queued {WHAT.get(action.verb, 'action')} was not sent: {action.error}"
            await surface.tell(text)
            return
        stored = outcomes_of(action.result)
        found = await self.services.incidents.find(o.number for o in stored if o.number)
        outcomes = [replace(o, incident=found.get(o.number)) for o in stored]
        if not outcomes:
            text = "VictorOps had no incidents paging you, so nothing changed."
            await surface.redraw(self.services.slack, text, sentence(text))
        elif action.reply.get("kind") == "card" and len(outcomes) == 1:
            await redraw_card(self.services, self.services.slack, surface, outcomes, action.slack_user_id)
        else:
            viewer = seen_by(surface, action.slack_user_id, bool(action.reply.get("public")))
            text, blocks = outcomes_message(outcomes, await names_for(self.services, viewer))
            await surface.redraw(self.services.slack, text, blocks)
