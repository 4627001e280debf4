"""Listings of incident cards, and redrawing one card after an action, shared by commands, buttons and modals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.incidents import IncidentFilter
from bot.core.routes import unknown_routes
from bot.core.text import escape
from bot.services import Services
from bot.slack.blocks import Block, ListSpec, card, incident_list, replace_card
from bot.slack.contexts import Kind
from bot.slack.errors import explain
from bot.slack.modals import ModalMeta, ViewId, loading, message_view, reroute_view
from bot.slack.surface import Surface
from bot.victorops.models import Incident, Phase

SCOPES = {
    "open": frozenset({Phase.UNACKED, Phase.ACKED}),
    "mine": frozenset({Phase.UNACKED, Phase.ACKED}),
    "triggered": frozenset({Phase.UNACKED}),
    "acked": frozenset({Phase.ACKED}),
}
TITLES = {
    "open": "Open incidents",
    "mine": "Your open incidents",
    "triggered": "Triggered incidents",
    "acked": "Acknowledged incidents",
}


def listing_filter(spec: ListSpec) -> IncidentFilter:
    return IncidentFilter(
        phases=SCOPES.get(spec.s, SCOPES["open"]),
        routes=frozenset(spec.r),
        teams=frozenset(spec.t),
        involving=spec.u if spec.s == "mine" else None,
    )


async def render_listing(
    services: Services, spec: ListSpec, notes: dict[str, str] | None = None, keep: Incident | None = None
) -> tuple[str, list[Block]]:
    """The listing as VictorOps has it now; `keep` stays in it even when it no longer matches (just resolved)."""
    shown = listing_filter(spec).select(await services.incidents.all())
    if keep and all(i.incident_number != keep.incident_number for i in shown):
        shown.append(keep)
    return listing_message(spec, shown, services.now(), services.settings.command, notes, services.incidents.routes())


def listing_message(
    spec: ListSpec,
    incidents: list[Incident],
    now: datetime,
    command: str,
    notes: dict[str, str] | None = None,
    known_routes: list[str] | None = None,
) -> tuple[str, list[Block]]:
    """A listing or a digest: cards oldest first, triggered before acknowledged, as many as Slack allows.
    Empty because of a route VictorOps does not know (of `known_routes`), it says so rather than "all clear"."""
    filters = " ".join([*(f"route:{r}" for r in spec.r), *(f"team:{t}" for t in spec.t)])
    scope = {"triggered": " triggered", "acked": " acked"}.get(spec.s, "")
    if spec.d:
        title = f"Digest “{spec.d}”: open incidents"
        more_hint = f"See them all with `{command} list{scope}{' ' + escape(filters) if filters else ''}`."
    else:
        title = TITLES.get(spec.s, TITLES["open"]) + (f" ({filters})" if filters else "")
        more_hint = f"Narrow it with `{command} list triggered`, `route:<key>` or `team:<slug>`."
    empty = ":white_check_mark: Nothing open here. All clear."
    if known_routes is not None and (unknown := unknown_routes(spec.r, known_routes)):
        known = ", ".join(f"`{escape(r)}`" for r in known_routes) or "none"
        empty = f"No incidents on route {', '.join(f'`{escape(r)}`' for r in unknown)} (known routes: {known})."
    return incident_list(
        incidents,
        now,
        title=title,
        empty=empty,
        more_hint=more_hint,
        listing=spec,
        notes=notes,
    )


async def redraw_card(
    services: Services, client: AsyncWebClient, surface: Surface, number: str, incident: Incident | None, note: str
) -> None:
    """Show an incident's new state and what just happened, in place, wherever its card is."""
    if incident is None:
        await surface.tell(note)
        return
    new_card = card(incident, services.now(), note, surface.listing)
    if surface.message_blocks:
        await surface.splice(client, note, lambda blocks: replace_card(blocks, number, new_card))
        return
    if surface.listing:
        text, blocks = await render_listing(services, surface.listing, {number: note}, keep=incident)
    else:
        text, blocks = note, new_card
    await surface.redraw(client, text, blocks)


async def open_reroute_modal(
    services: Services, client: AsyncWebClient, trigger_id: str, slack_user_id: str, meta: ModalMeta
) -> None:
    """Open at once (the trigger lives 3 s), then fill the pickers from the cached VictorOps lookups."""
    opened = await client.views_open(trigger_id=trigger_id, view=loading("Reroute incident", ViewId.REROUTE))
    view_id = opened["view"]["id"]
    directory = services.directory
    try:
        found = await services.incidents.find(meta.numbers)
        view: dict[str, Any] = reroute_view(
            await services.contexts.save(Kind.MODAL, slack_user_id, meta),
            [i for i in found.values() if i is not None],
            await directory.policies.get(),
            await directory.users.get(),
            await directory.oncall_by_team(),
        )
    except Exception as exc:
        view = message_view("Reroute incident", explain(exc), ViewId.REROUTE)
    await client.views_update(view_id=view_id, view=view)
