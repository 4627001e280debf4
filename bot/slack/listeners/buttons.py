"""Buttons on incident cards: ack at once, act, then redraw the card in place with who did what.

An unlinked person gets a prompt instead, whose button links them and then finishes the click.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import Actor
from bot.core.errors import ActionError
from bot.core.outcomes import Verb
from bot.core.text import escape
from bot.services import Services
from bot.slack.blocks import NO_NAMES, ActionId, Block, CardRef, ListSpec, outcomes_message, sentence
from bot.slack.contexts import Kind
from bot.slack.errors import explain
from bot.slack.linking import Pending, link_prompt
from bot.slack.listeners.cards import names_for, open_reroute_modal, redraw_card, render_listing, seen_by
from bot.slack.modals import ModalMeta
from bot.slack.sentences import said
from bot.slack.surface import Surface

CardAction = Literal["ack", "resolve", "reroute"]


def slack_name(user: dict[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user["id"])


def clicker(body: dict[str, Any]) -> dict[str, Any]:
    """The Slack user in a signed click or submission; ActionError when Slack did not say who."""
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise ActionError("Slack did not say who clicked, so nothing was done; try again.")
    return user


class Buttons:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def on_ack(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await self.on_card(body, action, client, "ack")

    async def on_resolve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await self.on_card(body, action, client, "resolve")

    async def on_reroute(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await self.on_card(body, action, client, "reroute")

    async def on_card(
        self, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, what: CardAction
    ) -> None:
        surface = Surface.of_click(self.services.hooks, body)
        try:
            ref = CardRef.decode(action.get("value"))
            if ref is None:
                raise ActionError(
                    "vobot could not read this button, so nothing was sent to VictorOps; "
                    f"run `{self.services.settings.command} list` for fresh cards."
                )
            surface = replace(surface, listing=ref.l)
            user = clicker(body)
            actor = await self.services.actor(user["id"], slack_name(user))
            if actor is None:
                text, blocks = await link_prompt(
                    self.services.identity,
                    self.services.contexts,
                    user["id"],
                    self.services.settings.command,
                    what,
                    n=(ref.n,),
                    r=surface.response_url,
                    ch=surface.channel,
                    ts=surface.message_ts,
                    l=ref.l,
                )
                await surface.tell(text, blocks)
            elif what == "reroute":
                meta = meta_for(surface, [ref.n])
                await open_reroute_modal(self.services, client, body["trigger_id"], user["id"], meta)
            else:
                text, blocks = await self.act(actor, Verb(what), [ref.n], surface, client)
                if blocks:
                    await surface.tell(text, blocks)
        except Exception as exc:
            await surface.tell(explain(exc, self.services.settings.command))

    async def act(
        self, actor: Actor, verb: Verb, numbers: list[str], card: Surface, client: AsyncWebClient
    ) -> tuple[str, list[Block]]:
        """Act and redraw the card in place; without a card to redraw, returns the outcomes to show instead."""
        kind = "card" if card.response_url and len(numbers) == 1 else "reply"
        outcomes = await self.services.actions.act(verb, actor, numbers, reply=card.to_reply(kind))
        if kind == "card":
            await redraw_card(self.services, client, card, outcomes, actor.slack_user_id)
            return said(outcomes[0], NO_NAMES), []
        return outcomes_message(outcomes, await names_for(self.services, actor.slack_user_id))

    async def on_refresh(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Draw the listing anew: the incidents that match it now, in the usual order."""
        await ack()
        surface = Surface.of_click(self.services.hooks, body)
        try:
            spec = ListSpec.decode(action.get("value"))
            if spec is None:
                raise ActionError(f"vobot could not read this button; run `{self.services.settings.command} list`.")
            names = await names_for(self.services, seen_by(surface, clicker(body)["id"]))
            await surface.redraw(client, *await render_listing(self.services, spec.fresh(), names))
        except Exception as exc:
            await surface.tell(explain(exc, self.services.settings.command))

    async def on_link_and_retry(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Link the person as the prompt suggested, then finish what they had clicked or typed."""
        await ack()
        prompt = Surface.of_click(self.services.hooks, body)
        try:
            user = clicker(body)
            pending = await self.services.contexts.load(Kind.LINK, user["id"], action.get("value"), Pending)
            link = await self.services.identity.link_self(user["id"], pending.u)
            actor = Actor(user["id"], slack_name(user), link.vo_username)
            done = f"Linked you to VictorOps user `{escape(link.vo_username)}`."
            card = Surface(self.services.hooks, pending.r, channel=pending.ch, message_ts=pending.ts, listing=pending.l)
            if pending.f == "reroute":
                meta = meta_for(card, list(pending.n))
                await open_reroute_modal(self.services, client, body["trigger_id"], user["id"], meta)
                done += " Pick where to reroute in the window that opened."
            elif pending.f in ("ack", "resolve"):
                verb = Verb(pending.f)
                if pending.m:
                    outcomes = await self.services.actions.act_on_mine(verb, actor, reply=prompt.to_reply("reply"))
                    names = await names_for(self.services, user["id"])
                    text, blocks = outcomes_message(outcomes, names) if outcomes else ("", [])
                    text = text or f"VictorOps has no incidents paging you right now; nothing to {verb}."
                else:
                    text, blocks = await self.act(actor, verb, list(pending.n), card, client)
                await prompt.redraw(client, f"{done} {text}", [*sentence(f"{done} {text}"), *blocks])
                return
            await prompt.redraw(client, done, sentence(done))
        except Exception as exc:
            text = explain(exc, self.services.settings.command)
            await prompt.redraw(client, text, sentence(text))


def meta_for(card: Surface, numbers: list[str]) -> ModalMeta:
    return ModalMeta(
        numbers=numbers,
        channel=card.channel,
        response_url=card.response_url,
        message_ts=card.message_ts,
        listing=card.listing,
    )


def register(app: AsyncApp, services: Services) -> None:
    buttons = Buttons(services)
    app.action(ActionId.ACK)(buttons.on_ack)
    app.action(ActionId.RESOLVE)(buttons.on_resolve)
    app.action(ActionId.REROUTE)(buttons.on_reroute)
    app.action(ActionId.LINK_AND_RETRY)(buttons.on_link_and_retry)
    app.action(ActionId.REFRESH)(buttons.on_refresh)
