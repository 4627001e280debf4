"""Buttons on incident cards: ack at once, act, then redraw the card in place with who did what."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import Verb
from bot.services import Services
from bot.slack.blocks import ActionId, CardRef
from bot.slack.errors import explain, not_linked
from bot.slack.listeners.cards import open_reroute_modal, redraw_card
from bot.slack.modals import ModalMeta
from bot.slack.surface import Surface


class Buttons:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def on_ack(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await self.act("ack", body, action, client)

    async def on_resolve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await self.act("resolve", body, action, client)

    async def act(self, verb: Verb, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        ref = CardRef.decode(action.get("value") or "{}")
        surface = Surface.of_click(body, ref.l)
        user = body["user"]
        try:
            actor = await self.services.actor(user["id"], user.get("username") or user.get("name") or user["id"])
            if actor is None:
                await surface.tell(not_linked(user["id"]))
                return
            outcome = (await self.services.actions.act(verb, actor, [ref.n]))[0]
            await redraw_card(self.services, client, surface, ref.n, outcome.incident, outcome.note)
        except Exception as exc:
            await surface.tell(explain(exc))

    async def on_reroute(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        ref = CardRef.decode(action.get("value") or "{}")
        surface = Surface.of_click(body, ref.l)
        try:
            if await self.services.actor(body["user"]["id"], body["user"]["id"]) is None:
                await surface.tell(not_linked(body["user"]["id"]))
                return
            meta = ModalMeta(
                numbers=[ref.n],
                channel=surface.channel,
                response_url=surface.response_url,
                message_ts=surface.message_ts,
                listing=ref.l,
            )
            await open_reroute_modal(self.services, client, body["trigger_id"], meta)
        except Exception as exc:
            await surface.tell(explain(exc))


def register(app: AsyncApp, services: Services) -> None:
    buttons = Buttons(services)
    app.action(ActionId.ACK)(buttons.on_ack)
    app.action(ActionId.RESOLVE)(buttons.on_resolve)
    app.action(ActionId.REROUTE)(buttons.on_reroute)
