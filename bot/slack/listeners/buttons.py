"""Buttons on incident cards: ack at once, act, then redraw the card in place with who did what.

An unlinked person gets a prompt instead, whose button links them and then finishes the click.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import Actor, IncidentActions
from bot.core.errors import ActionError
from bot.core.identity import Identity
from bot.core.outcomes import Verb
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import ActionId, Block, CardRef, ListSpec, outcomes_message, sentence
from bot.slack.cards import Cards
from bot.slack.contexts import Contexts, Kind
from bot.slack.linking import Pending
from bot.slack.modals import ModalMeta
from bot.slack.place import PlaceKind
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import linked_you, nothing_paging
from bot.slack.surface import Elsewhere, Surface


class Buttons:
    def __init__(
        self,
        *,
        command: str,
        actions: IncidentActions,
        identity: Identity,
        contexts: Contexts,
        hooks: ResponseUrls,
        cards: Cards,
        answers: Answers,
        slack: AsyncWebClient,
        elsewhere: Elsewhere | None = None,
        default_targets: Sequence[str] = (),
    ) -> None:
        self.command = command
        self._default_targets = tuple(default_targets)  # named in the create modal a link may open
        self._elsewhere = elsewhere  # answers to a click on an App Home
        self._slack = slack
        self._actions = actions
        self._identity = identity
        self._contexts = contexts
        self._hooks = hooks
        self._cards = cards
        self._answers = answers

    async def on_ack(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.on_card(body, action, context["acting"], Verb.ACK)

    async def on_resolve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.on_card(body, action, context["acting"], Verb.RESOLVE)

    async def on_reroute(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        await self.on_card(body, action, context["acting"], Verb.REROUTE)

    async def on_card(self, body: dict[str, Any], action: dict[str, Any], acting: Acting, what: Verb) -> None:
        surface = Surface.of_click(self._hooks, body, self._elsewhere)
        async with self._answers.answering(surface.tell):
            ref = CardRef.decode(action.get("value"))
            if ref is None:
                raise unreadable(self.command)
            surface = surface.at(ref.l)
            actor = await acting.require(what, [ref.n], place=surface.place)
            if what is Verb.REROUTE:
                meta = ModalMeta(numbers=(ref.n,), place=surface.place)
                await self._cards.open_reroute_modal(body["trigger_id"], actor.slack_user_id, meta)
            else:
                text, blocks = await self.act(actor, what, [ref.n], surface)
                if blocks:
                    await surface.tell(text, blocks)

    async def act(
        self, actor: Actor, verb: Verb, numbers: Sequence[str], card: Surface, note: str | None = None
    ) -> tuple[str, list[Block]]:
        """Act and redraw the card in place (every card of its listing, for a bulk action), returning the
        summary to tell the person (empty when the redraw told them already); without a card to redraw, the
        outcomes to show instead."""
        in_place = len(numbers) == 1 or card.place.listing is not None
        kind: PlaceKind = "card" if card.place.response_url and in_place else "reply"
        outcomes = await self._actions.act(verb, actor, numbers, note, reply=card.place.as_(kind).wire())
        if kind == "card":
            return await self._cards.redraw_summing(card, outcomes, actor.slack_user_id), []
        return outcomes_message(outcomes, await self._cards.names(actor.slack_user_id))

    async def on_refresh(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Draw the listing anew: the incidents that match it now, in the usual order."""
        await ack()
        surface = Surface.of_click(self._hooks, body, self._elsewhere)
        async with self._answers.answering(surface.tell):
            spec = ListSpec.decode(action.get("value"))
            if spec is None:
                raise unreadable(self.command)
            acting: Acting = context["acting"]
            names = await self._cards.names(surface.place.viewer(acting.slack_user_id))
            await surface.redraw(self._slack, *await self._cards.listing(spec.fresh(), names))

    async def on_link_and_retry(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Link the person as the prompt suggested, then finish what they had clicked or typed."""
        await ack()
        prompt = Surface.of_click(self._hooks, body, self._elsewhere)

        async def say(text: str, blocks: Sequence[Block] | None) -> None:
            await prompt.redraw(self._slack, text, blocks or sentence(text))

        async with self._answers.answering(say):
            acting: Acting = context["acting"]
            user = acting.slack_user_id
            pending = await self._contexts.load(Kind.LINK, user, action.get("value"), Pending)
            link = await self._identity.link_self(user, pending.username)
            actor = acting.linked_as(link.vo_username)
            done = f"{linked_you(link.vo_username)}."
            card = Surface(self._hooks, pending.place, elsewhere=self._elsewhere)
            if pending.finish == Verb.REROUTE:
                meta = ModalMeta(numbers=pending.numbers, place=pending.place)
                await self._cards.open_reroute_modal(body["trigger_id"], user, meta)
                done += " Pick where to reroute in the window that opened."
            elif pending.finish == Verb.CREATE:
                meta = ModalMeta(place=pending.place)
                prefill = (pending.summary, pending.details)
                await self._cards.open_create_modal(body["trigger_id"], user, meta, self._default_targets, *prefill)
                done += " Create the incident in the window that opened."
            elif pending.finish in (Verb.ACK, Verb.RESOLVE):
                verb = Verb(pending.finish)
                if pending.mine:
                    reply = prompt.place.as_("reply").wire()
                    outcomes = await self._actions.act_on_mine(verb, actor, reply=reply)
                    names = await self._cards.names(user)
                    text, blocks = outcomes_message(outcomes, names) if outcomes else ("", [])
                    text = text or nothing_paging(verb)
                else:
                    text, blocks = await self.act(actor, verb, pending.numbers, card)
                said = f"{done} {text}".strip()
                await prompt.redraw(self._slack, said, [*sentence(said), *blocks])
                return
            await prompt.redraw(self._slack, done, sentence(done))


def unreadable(command: str, nothing: str = "sent to VictorOps") -> ActionError:
    """A button whose value this version does not write: changed on the way, or from an older version."""
    return ActionError(
        f"vobot could not read this button, so nothing was {nothing}; run `{command} list` for fresh cards."
    )


def register(app: AsyncApp, buttons: Buttons, middleware: Sequence[Middleware]) -> None:
    for action_id, listener in (
        (ActionId.ACK, buttons.on_ack),
        (ActionId.RESOLVE, buttons.on_resolve),
        (ActionId.REROUTE, buttons.on_reroute),
        (ActionId.LINK_AND_RETRY, buttons.on_link_and_retry),
        (ActionId.REFRESH, buttons.on_refresh),
    ):
        app.action(action_id, middleware=list(middleware))(listener)
