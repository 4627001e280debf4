"""Listings of incident cards, redrawing one card after an action, and the reroute modal: one `Cards`, built
once, shared by the listeners, the late-outcome notifier and the digest poster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.directory import Directory
from bot.core.identity import Identity
from bot.core.incidents import IncidentFilter, IncidentView, forward
from bot.core.outcomes import Outcome
from bot.core.routes import unknown_routes
from bot.slack.acting import Answers
from bot.slack.blocks import (
    NO_NAMES,
    Block,
    ListSpec,
    card,
    incident_list,
    listed_order,
    outcomes_message,
    replace_card,
    within_limit,
)
from bot.slack.contexts import Contexts, Kind
from bot.slack.modals import ModalMeta, ViewId, create_view, loading, message_view, reroute_view
from bot.slack.mrkdwn import escape
from bot.slack.names import Names
from bot.slack.sentences import said, said_all
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


class Cards:
    def __init__(
        self,
        incidents: IncidentView,
        directory: Directory,
        identity: Identity,
        contexts: Contexts,
        slack: AsyncWebClient,
        answers: Answers,
        command: str,
    ) -> None:
        self._answers = answers
        self._incidents = incidents
        self._directory = directory
        self._identity = identity
        self._contexts = contexts
        self._slack = slack
        self.command = command

    async def names(self, viewer: str | None = None) -> Names:
        """Names for a message `viewer` alone sees (None: a channel message), from the cached directory and the
        links: drawing a message costs no VictorOps call once the directory was fetched."""
        return Names(
            slack_ids=await self._identity.slack_users(),
            full_names=await self._directory.full_names(),
            policies=await self._directory.policy_names(),
            viewer=viewer,
        )

    async def listing(
        self,
        spec: ListSpec,
        names: Names = NO_NAMES,
        notes: dict[str, str] | None = None,
        keep: Sequence[Incident] = (),
    ) -> tuple[str, list[Block]]:
        """The listing as VictorOps has it now. A redraw (`spec.o`) keeps the cards it showed, matching or not
        (just acknowledged, resolved), and `keep` is how the acted-on incidents are now. No VictorOps call: a
        number the view does not have is left out, whoever wrote it into the button."""
        shown = await self.listed(spec, keep)
        return listing_message(spec, shown, self.command, notes, self._incidents.routes(), names)

    async def listed(self, spec: ListSpec, keep: Sequence[Incident] = ()) -> list[Incident]:
        """The incidents the listing holds now, in its order: those matching it, and the cards it showed."""
        current = {i.incident_number: i for i in await self._incidents.all()}
        for incident in keep:  # what an action just made of them, unless the view already holds newer
            if (merged := forward(current.get(incident.incident_number), incident)) is not None:
                current[incident.incident_number] = merged
        shown = {i.incident_number: i for i in listing_filter(spec).select(current.values())}
        shown |= {n: current[n] for n in spec.o if n in current}
        return listed_order(shown.values(), spec)

    async def redraw(self, surface: Surface, outcomes: Sequence[Outcome], actor: str) -> bool:
        """Show the incidents' new state and what `actor` (a Slack user) just did, in place, wherever their
        cards are: the other cards of the message stay where they were. True when that sent `actor` the outcome
        in a message (no card to redraw), so the caller sends nothing more; a bulk action's one summary
        (`said_all`) is the caller's to send."""
        names = await self.names(surface.place.viewer(actor))
        now = {o.number: o.incident for o in outcomes if o.incident is not None}
        listing = surface.place.listing
        if listing and len(outcomes) > 1:
            # A bulk action: the whole listing anew, every card as it is now; a note per card would not fit.
            if now:
                await surface.replace(self._slack, lambda: self.listing(listing, names, keep=list(now.values())))
            return False
        notes = {o.number: said(o, names) for o in outcomes}
        text = " ".join(notes.values())
        if not now:
            await surface.tell(text)
            return True
        if surface.message_blocks:

            def swap(blocks: Sequence[Block]) -> list[Block]:
                changed = list(blocks)
                for number, incident in now.items():
                    changed = replace_card(changed, number, card(incident, notes[number], listing, names))
                return within_limit(changed, now)

            await surface.splice(self._slack, text, swap)
            return False
        if listing:
            text, blocks = await self.listing(listing, names, notes, keep=list(now.values()))
        else:
            text, blocks = outcomes_message(outcomes, names)
        await surface.redraw(self._slack, text, blocks)
        return False

    async def redraw_summing(self, surface: Surface, outcomes: Sequence[Outcome], actor: str) -> str:
        """`redraw`, then the one summary still to tell `actor` (empty when the redraw told them already)."""
        if await self.redraw(surface, outcomes, actor):
            return ""
        return said_all(list(outcomes), await self.names(actor))

    async def open_reroute_modal(self, trigger_id: str, slack_user_id: str, meta: ModalMeta) -> None:
        await self.open_modal(
            trigger_id, "Reroute incident", ViewId.REROUTE, lambda: self._reroute_view(slack_user_id, meta)
        )

    async def modal_token(self, slack_user_id: str, window: ViewId, meta: ModalMeta) -> str:
        """Keep `meta` for `window` alone: a submission naming another window is refused (`Views.context`)."""
        return await self._contexts.save(Kind.MODAL, slack_user_id, meta.model_copy(update={"window": window}))

    async def open_modal(
        self, trigger_id: str, title: str, callback_id: ViewId, view: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """Open at once (the trigger lives 3 s), then fill it (pickers from the cached VictorOps lookups)."""
        opened = await self._slack.views_open(trigger_id=trigger_id, view=loading(title, callback_id))
        await self.fill_modal(opened["view"]["id"], title, callback_id, view)

    async def _reroute_view(self, slack_user_id: str, meta: ModalMeta) -> dict[str, Any]:
        found = await self._incidents.find(meta.numbers)
        return reroute_view(
            await self.modal_token(slack_user_id, ViewId.REROUTE, meta),
            [i for i in found.values() if i is not None],
            await self._directory.policies.get(),
            await self._directory.users.get(),
            await self._directory.oncall_by_team(),
        )

    async def open_create_modal(
        self,
        trigger_id: str,
        slack_user_id: str,
        meta: ModalMeta,
        default_targets: Sequence[str],
        summary: str = "",
        details: str = "",
    ) -> None:
        """The create modal, at once, then its pickers from the cached lookups; `summary` and `details` prefill it."""
        defaults = ", ".join(f"`{escape(t)}`" for t in default_targets) or "you"

        async def view() -> dict[str, Any]:
            return create_view(
                await self.modal_token(slack_user_id, ViewId.CREATE, meta),
                await self._directory.policies.get(),
                await self._directory.users.get(),
                await self._directory.oncall_by_team(),
                defaults,
                summary,
                details,
            )

        await self.open_modal(trigger_id, "Create incident", ViewId.CREATE, view)

    async def fill_modal(
        self, view_id: str, title: str, callback_id: ViewId, view: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """Replace a modal's "Loading…" with `view`, or with the sentence saying why it could not be made."""
        shown: dict[str, Any] = {}

        async def say(text: str, _: object) -> None:
            shown.update(message_view(title, text, callback_id))

        async with self._answers.answering(say):
            shown.update(await view())
        await self._slack.views_update(view_id=view_id, view=shown)
