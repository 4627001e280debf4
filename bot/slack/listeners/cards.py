"""Listings of incident cards, and redrawing one card after an action, shared by commands, buttons and modals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.incidents import IncidentFilter
from bot.core.outcomes import Outcome
from bot.core.routes import unknown_routes
from bot.core.text import escape
from bot.services import Services
from bot.slack.blocks import NO_NAMES, Block, ListSpec, card, incident_list, outcomes_message, replace_card
from bot.slack.contexts import Kind
from bot.slack.errors import explain
from bot.slack.modals import ModalMeta, ViewId, loading, message_view, reroute_view
from bot.slack.names import Names
from bot.slack.sentences import said
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


async def names_for(services: Services, viewer: str | None = None) -> Names:
    """Names for a message `viewer` alone sees (None: a channel message), from the cached directory and the
    links: drawing a message costs no VictorOps call once the directory was fetched."""
    directory = services.directory
    return Names(
        slack_ids=await services.identity.slack_users(),
        full_names=await directory.full_names(),
        policies=await directory.policy_names(),
        viewer=viewer,
    )


def seen_by(surface: Surface, slack_user_id: str, public: bool = False) -> str | None:
    """Who alone sees a message on this surface: the person acting, unless it is a channel message (or a
    `public` command's reply)."""
    return None if public or surface.message_ts else slack_user_id


async def render_listing(
    services: Services,
    spec: ListSpec,
    names: Names = NO_NAMES,
    notes: dict[str, str] | None = None,
    keep: Sequence[Incident] = (),
) -> tuple[str, list[Block]]:
    """The listing as VictorOps has it now. A redraw (`spec.o`) keeps the cards it showed, matching or not (just
    acknowledged, resolved), and `keep` is how the acted-on incidents are now. No VictorOps call: a number the
    view does not have is left out, whoever wrote it into the button."""
    current = {i.incident_number: i for i in await services.incidents.all()} | {i.incident_number: i for i in keep}
    shown = {i.incident_number: i for i in listing_filter(spec).select(current.values())}
    shown |= {n: current[n] for n in spec.o if n in current}
    return listing_message(
        spec, list(shown.values()), services.settings.command, notes, services.incidents.routes(), names
    )


def listing_message(
    spec: ListSpec,
    incidents: list[Incident],
    command: str,
    notes: dict[str, str] | None = None,
    known_routes: list[str] | None = None,
    names: Names = NO_NAMES,
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
        incidents, title=title, empty=empty, more_hint=more_hint, listing=spec, notes=notes, names=names
    )


async def redraw_card(
    services: Services, client: AsyncWebClient, surface: Surface, outcomes: Sequence[Outcome], actor: str
) -> None:
    """Show the incidents' new state and what `actor` (a Slack user) just did, in place, wherever their cards
    are: the other cards of the message stay where they were."""
    names = await names_for(services, seen_by(surface, actor))
    notes = {o.number: said(o, names) for o in outcomes}
    now = {o.number: o.incident for o in outcomes if o.incident is not None}
    if not now:
        await surface.tell(" ".join(notes.values()))
        return
    text = " ".join(notes.values())
    if surface.message_blocks:

        def swap(blocks: Sequence[Block]) -> list[Block]:
            changed = list(blocks)
            for number, incident in now.items():
                changed = replace_card(changed, number, card(incident, notes[number], surface.listing, names))
            return changed

        await surface.splice(client, text, swap)
        return
    if surface.listing:
        text, blocks = await render_listing(services, surface.listing, names, notes, keep=list(now.values()))
    else:
        text, blocks = outcomes_message(outcomes, names)
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
        view = message_view("Reroute incident", explain(exc, services.settings.command), ViewId.REROUTE)
    await client.views_update(view_id=view_id, view=view)
