"""Bulk actions on a listing or a digest: "Acknowledge all triggered (N)" and "Select…" (a modal: incidents,
and acknowledge, resolve or reroute). Whatever the number of incidents, one queued action, so one VictorOps
call; then the listing is redrawn once, every card as it is now, and the person told the outcome in one
message.

The buttons carry the listing, never numbers to act on: "all triggered" is recomputed from the shared view when
clicked, and a submitted selection must be among the incidents the modal offered (kept server-side)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.directory import Directory
from bot.core.errors import ActionError
from bot.core.incidents import IncidentView
from bot.core.outcomes import Verb
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import ActionId, ListSpec
from bot.slack.cards import TITLES, Cards
from bot.slack.listeners.buttons import Buttons, unreadable
from bot.slack.listeners.views import Views
from bot.slack.modals import (
    BULK_TITLE,
    MAX_OPTIONS,
    ModalMeta,
    ViewId,
    bulk_errors,
    bulk_view,
    picked_targets,
    resolve_confirm_view,
)
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import triggered_since
from bot.slack.surface import Surface
from bot.victorops.models import Phase

NOTHING_TRIGGERED = "Nothing in this listing is triggered any more, so nothing was sent to VictorOps."
NOTHING_SENT = "Nothing was sent to VictorOps:"
NOTHING_OPEN = "Nothing in this listing is open any more, so there is nothing to act on."


class Bulk:
    def __init__(
        self,
        *,
        command: str,
        incidents: IncidentView,
        directory: Directory,
        hooks: ResponseUrls,
        cards: Cards,
        answers: Answers,
        buttons: Buttons,
        views: Views,
    ) -> None:
        self.command = command
        self._incidents = incidents
        self._directory = directory
        self._hooks = hooks
        self._cards = cards
        self._answers = answers
        self._buttons = buttons  # acting on numbers and redrawing where they are, as a card's click does
        self._views = views  # reading a submission's saved context

    async def on_click(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A listing's bulk button: the listing it carries, read strictly, then what the button does."""
        await ack()
        surface = Surface.of_click(self._hooks, body)
        async with self._answers.answering(surface.tell):
            spec = ListSpec.decode(action.get("value"))
            if spec is None:
                raise unreadable(self.command)
            if action.get("action_id") == ActionId.SELECT:
                await self._select(body["trigger_id"], surface.at(spec), spec, context["acting"])
            else:
                await self._ack_triggered(surface.at(spec), spec, context["acting"])

    async def _ack_triggered(self, surface: Surface, spec: ListSpec, acting: Acting) -> None:
        """Acknowledge every incident of the listing that is triggered now and was there when it was drawn (Slack
        asked to confirm first, counting those); the ones triggered since are named, not acknowledged."""
        triggered = [i for i in await self._cards.listed(spec) if i.current_phase is Phase.UNACKED]
        numbers = [i.incident_number for i in triggered if not spec.since(i)]
        late = [triggered_since(since)] if (since := [i.incident_number for i in triggered if spec.since(i)]) else []
        if not numbers:
            await surface.tell(" ".join([NOTHING_TRIGGERED if not late else NOTHING_SENT, *late]))
            return
        actor = await acting.require(Verb.ACK, numbers, place=surface.place)
        summary = (await self._buttons.act(actor, Verb.ACK, numbers, surface))[0]
        await self._tell(surface, " ".join([summary, *late]).strip())

    async def _select(self, trigger_id: str, surface: Surface, spec: ListSpec, acting: Acting) -> None:
        """Open the modal at once (the trigger lives 3 s), then fill it with the listing's open incidents. An
        unlinked person is asked to link first, before they pick and type anything a link prompt would lose."""
        user = (await acting.require(place=surface.place)).slack_user_id

        async def view() -> dict[str, Any]:
            listed = [i for i in await self._cards.listed(spec) if i.current_phase is not Phase.RESOLVED]
            if not listed:
                raise ActionError(NOTHING_OPEN)
            offered = tuple(i.incident_number for i in listed[:MAX_OPTIONS])
            meta = ModalMeta(offered=offered, place=surface.place)
            return bulk_view(
                await self._cards.modal_token(user, ViewId.BULK, meta),
                f"Digest “{spec.d}”" if spec.d else TITLES.get(spec.s, TITLES["open"]),
                listed,
                await self._directory.policies.get(),
                await self._directory.users.get(),
                await self._directory.oncall_by_team(),
                self.command,
            )

        await self._cards.open_modal(trigger_id, BULK_TITLE, ViewId.BULK, view)

    async def on_submit(self, ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext) -> None:
        """Check the choice (errors shown in the modal), then act; a resolve is confirmed first."""
        acting: Acting = context["acting"]
        meta = await self._views.context(ack, acting, view, BULK_TITLE, ViewId.BULK)
        if meta is None:
            return
        values = view["state"]["values"]
        numbers, verb, note, errors = bulk_errors(values, meta.offered)
        picked, target_errors = picked_targets(values) if verb is Verb.REROUTE else ([], {})
        errors |= target_errors
        if verb is Verb.REROUTE and not picked and not errors:
            errors["policy"] = "Pick a policy or people to reroute to."
        if errors or verb is None:
            await ack(response_action="errors", errors=errors)
            return
        if verb is Verb.RESOLVE:
            choice = ModalMeta(numbers=tuple(numbers), place=meta.place, note=note or None)  # not what was offered
            token = await self._cards.modal_token(acting.slack_user_id, ViewId.BULK_RESOLVE, choice)
            shown = [i for i in self._incidents.known(numbers).values() if i is not None]  # titles, for showing
            await ack(response_action="push", view=resolve_confirm_view(token, shown, numbers))
            return
        await ack()
        surface = Surface(self._hooks, meta.place)
        async with self._answers.answering(surface.tell):
            actor = await acting.require(verb, numbers, place=meta.place)
            if verb is Verb.REROUTE:
                await self._tell(surface, await self._views.reroute(actor, numbers, picked, surface))
            else:
                await self._tell(surface, (await self._buttons.act(actor, verb, numbers, surface, note or None))[0])

    async def on_confirm_resolve(self, ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext) -> None:
        acting: Acting = context["acting"]
        choice = await self._views.context(ack, acting, view, "Resolve incidents?", ViewId.BULK_RESOLVE, once=True)
        if choice is None:
            return
        await ack(response_action="clear")  # closes the selection under it too
        surface = Surface(self._hooks, choice.place)
        async with self._answers.answering(surface.tell):
            actor = await acting.require(Verb.RESOLVE, choice.numbers, place=choice.place)
            text, _ = await self._buttons.act(actor, Verb.RESOLVE, choice.numbers, surface, choice.note)
            await self._tell(surface, text)

    @staticmethod
    async def _tell(surface: Surface, summary: str) -> None:
        if summary:  # empty: the redraw told the person already
            await surface.tell(summary)


def register(app: AsyncApp, bulk: Bulk, middleware: Sequence[Middleware]) -> None:
    app.action(ActionId.ACK_TRIGGERED, middleware=list(middleware))(bulk.on_click)
    app.action(ActionId.SELECT, middleware=list(middleware))(bulk.on_click)
    app.view(ViewId.BULK, middleware=list(middleware))(bulk.on_submit)
    app.view(ViewId.BULK_RESOLVE, middleware=list(middleware))(bulk.on_confirm_resolve)
