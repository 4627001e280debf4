"""Modal submissions: check the input (errors shown in the modal), close it, act, then update the card or
answer in the conversation the modal came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.actions import Actor, IncidentActions
from bot.core.directory import Directory
from bot.core.errors import ActionError
from bot.core.identity import Identity
from bot.core.targets import TargetKind, resolve_targets
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import Block, outcomes_message
from bot.slack.cards import Cards
from bot.slack.contexts import Contexts, Kind
from bot.slack.modals import ModalMeta, ViewId, create_errors, message_view, picked_targets, text_value
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.slack.surface import Elsewhere, Surface
from bot.victorops.models import Target

OTHER_WINDOW = "This window does not match the one vobot opened, so nothing was done; close it and start again."


class Views:
    def __init__(
        self,
        *,
        actions: IncidentActions,
        directory: Directory,
        identity: Identity,
        contexts: Contexts,
        hooks: ResponseUrls,
        cards: Cards,
        answers: Answers,
        elsewhere: Elsewhere | None = None,
    ) -> None:
        self._actions = actions
        self._elsewhere = elsewhere  # answers to modals opened from a home, a shortcut
        self._directory = directory
        self._identity = identity
        self._contexts = contexts
        self._hooks = hooks
        self._cards = cards
        self._answers = answers

    async def context(
        self, ack: AsyncAck, acting: Acting, view: dict[str, Any], title: str, callback_id: ViewId, once: bool = False
    ) -> ModalMeta | None:
        """The context the view's token names, for the person who submitted and the window it was saved for (used
        up, when `once`); for anything else the modal is acked at once showing one sentence, and None returned.
        The sentence goes in the modal: a submission carries no response URL of its own, and the one in the
        context is not to be trusted before the token is."""

        async def say(text: str, _: Sequence[Block] | None) -> None:
            await ack(response_action="update", view=message_view(title, text, callback_id))

        token = view.get("private_metadata")
        async with self._answers.answering(say):
            meta = await self._contexts.load(Kind.MODAL, acting.slack_user_id, token, ModalMeta)
            if meta.window != callback_id:  # a submission's callback_id is the client's word, the saved window ours
                raise ActionError(OTHER_WINDOW)
            if once:
                await self._contexts.spend(Kind.MODAL, str(token))
            return meta
        return None

    async def targets(self, picked: list[tuple[TargetKind, str]]) -> list[Target]:
        """The picked targets as VictorOps has them now (a name gone since the modal opened is refused)."""
        return await resolve_targets(picked, self._identity, self._directory)

    async def on_reroute(self, ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext) -> None:
        picked, errors = picked_targets(view["state"]["values"])
        if not picked and not errors:
            errors = {"policy": "Pick a policy or at least one person."}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        acting: Acting = context["acting"]
        meta = await self.context(ack, acting, view, "Reroute incident", ViewId.REROUTE)
        if meta is None:
            return
        await ack()
        surface = Surface(self._hooks, meta.place, elsewhere=self._elsewhere)
        async with self._answers.answering(surface.tell):
            actor = await acting.require()
            if meta.place.message_ts or meta.place.listing:  # the card's note says how it went
                await self.reroute(actor, meta.numbers, picked, surface)
                return
            outcomes = await self._actions.reroute(
                actor, meta.numbers, await self.targets(picked), meta.place.as_("reply").wire()
            )
            text, blocks = outcomes_message(outcomes, await self._cards.names(actor.slack_user_id))
            await surface.tell(text, blocks)

    async def reroute(
        self, actor: Actor, numbers: Sequence[str], picked: list[tuple[TargetKind, str]], card: Surface
    ) -> str:
        """Reroute the incidents of `card` (a card, or a listing's several) and redraw them where they are;
        returns the summary still to tell the person (`Cards.redraw_summing`)."""
        targets = await self.targets(picked)
        outcomes = await self._actions.reroute(actor, numbers, targets, card.place.as_("card").wire())
        return await self._cards.redraw_summing(card, outcomes, actor.slack_user_id)

    async def on_create(self, ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext) -> None:
        values = view["state"]["values"]
        summary, details = text_value(values, "summary"), text_value(values, "details") or None
        picked, errors = picked_targets(values)
        errors |= create_errors(summary, details)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        acting: Acting = context["acting"]
        meta = await self.context(ack, acting, view, "Create incident", ViewId.CREATE)
        if meta is None:
            return
        await ack()
        surface = Surface(self._hooks, meta.place, elsewhere=self._elsewhere)
        # A thread is everyone's: only the new incident's card goes there; a failure or "queued" is told privately.
        private = surface
        if meta.place.thread_ts:
            private = Surface(self._hooks, Place(response_url=meta.place.response_url, channel=meta.place.channel))
        async with self._answers.answering(private.tell):
            actor = await acting.require()
            targets = await self.targets(picked)
            outcome = await self._actions.create(actor, summary, details, targets, meta.place.as_("reply").wire())
            told = surface if outcome.number else private
            names = await self._cards.names(told.place.viewer(actor.slack_user_id))
            text, blocks = outcomes_message([outcome], names)
            await told.tell(text, blocks)


def register(app: AsyncApp, views: Views, middleware: Sequence[Middleware]) -> None:
    app.view(ViewId.REROUTE, middleware=list(middleware))(views.on_reroute)
    app.view(ViewId.CREATE, middleware=list(middleware))(views.on_create)
