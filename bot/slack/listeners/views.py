"""Modal submissions: check the input (errors shown in the modal), close it, act, then update the card or
answer in the conversation the modal came from."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.targets import TargetKind, resolve_targets
from bot.services import Services
from bot.slack.blocks import Block, outcomes_message
from bot.slack.contexts import Kind
from bot.slack.errors import explain
from bot.slack.linking import link_prompt
from bot.slack.listeners.buttons import clicker
from bot.slack.listeners.cards import names_for, redraw_card
from bot.slack.modals import ModalMeta, ViewId, create_errors, message_view, picked_targets, text_value
from bot.slack.responses import ResponseUrls
from bot.slack.surface import Surface
from bot.victorops.models import Target


class Views:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def prompt(self, slack_user_id: str) -> tuple[str, list[Block]]:
        return await link_prompt(
            self.services.identity, self.services.contexts, slack_user_id, self.services.settings.command, "link"
        )

    async def context(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], title: str, callback_id: ViewId
    ) -> tuple[dict[str, Any], ModalMeta] | None:
        """Who submitted, and the context the view's token names; for anything else the modal is acked at once
        showing one sentence, and None returned. The sentence goes in the modal: a submission carries no
        response URL of its own, and the one in the context is not to be trusted before the token is."""
        try:
            user = clicker(body)
            meta = await self.services.contexts.load(Kind.MODAL, user["id"], view.get("private_metadata"), ModalMeta)
        except Exception as exc:
            await ack(
                response_action="update",
                view=message_view(title, explain(exc, self.services.settings.command), callback_id),
            )
            return None
        return user, meta

    async def targets(self, picked: list[tuple[TargetKind, str]]) -> list[Target]:
        """The picked targets as VictorOps has them now (a name gone since the modal opened is refused)."""
        return await resolve_targets(picked, self.services.identity, self.services.directory)

    async def on_reroute(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        picked, errors = picked_targets(view["state"]["values"])
        if not picked and not errors:
            errors = {"policy": "Pick a policy or at least one person."}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        found = await self.context(ack, body, view, "Reroute incident", ViewId.REROUTE)
        if found is None:
            return
        await ack()
        user, meta = found
        surface = surface_of(self.services.hooks, meta)
        try:
            actor = await self.services.actor(user["id"], user.get("username") or user["id"])
            if actor is None:
                await surface.tell(*await self.prompt(user["id"]))
                return
            from_card = bool(meta.message_ts or meta.listing)
            targets = await self.targets(picked)
            outcomes = await self.services.actions.reroute(
                actor, meta.numbers, targets, surface.to_reply("card" if from_card else "reply")
            )
            if from_card:
                await redraw_card(self.services, client, surface, outcomes, user["id"])
            else:
                text, blocks = outcomes_message(outcomes, await names_for(self.services, user["id"]))
                await surface.tell(text, blocks)
        except Exception as exc:
            await surface.tell(explain(exc, self.services.settings.command))

    async def on_create(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view["state"]["values"]
        summary, details = text_value(values, "summary"), text_value(values, "details") or None
        picked, errors = picked_targets(values)
        errors |= create_errors(summary, details)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        found = await self.context(ack, body, view, "Create incident", ViewId.CREATE)
        if found is None:
            return
        await ack()
        user, meta = found
        surface = surface_of(self.services.hooks, meta)
        try:
            actor = await self.services.actor(user["id"], user.get("username") or user["id"])
            if actor is None:
                await surface.tell(*await self.prompt(user["id"]))
                return
            targets = await self.targets(picked)
            outcome = await self.services.actions.create(actor, summary, details, targets, surface.to_reply("reply"))
            text, blocks = outcomes_message([outcome], await names_for(self.services, user["id"]))
            await surface.tell(text, blocks)
        except Exception as exc:
            await surface.tell(explain(exc, self.services.settings.command))


def surface_of(hooks: ResponseUrls, meta: ModalMeta) -> Surface:
    return Surface(hooks, meta.response_url, channel=meta.channel, message_ts=meta.message_ts, listing=meta.listing)


def register(app: AsyncApp, services: Services) -> None:
    views = Views(services)
    app.view(ViewId.REROUTE)(views.on_reroute)
    app.view(ViewId.CREATE)(views.on_create)
