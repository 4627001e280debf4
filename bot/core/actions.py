"""Acknowledge, resolve, reroute and create, as a Slack user linked to a VictorOps user.

Before spending a call, each action is checked against the shared incident view: an unknown number is
refused and an incident already in the wanted state is answered without a call. Several incidents go in
one call (`incidentNames` takes a list). What VictorOps confirms is written back to the view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from bot.core.audit import Auditor
from bot.core.incidents import IncidentView
from bot.victorops import errors
from bot.victorops.models import (
    ActionResult,
    CreatedIncident,
    CreateIncidentRequest,
    Incident,
    Phase,
    Reroute,
    RerouteRequest,
    RerouteStatus,
    Target,
    Transition,
)


class IncidentWriter(Protocol):
    async def ack(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]: ...
    async def resolve(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]: ...
    async def ack_by_user(self, user: str, message: str | None = None) -> list[ActionResult]: ...
    async def resolve_by_user(self, user: str, message: str | None = None) -> list[ActionResult]: ...
    async def reroute(self, request: RerouteRequest) -> list[RerouteStatus]: ...
    async def create_incident(self, request: CreateIncidentRequest) -> CreatedIncident: ...


class ActionError(Exception):
    """An action that cannot be done; the message is one sentence for the user."""


@dataclass(frozen=True)
class Actor:
    slack_user_id: str
    slack_name: str
    vo_username: str


@dataclass(frozen=True)
class Outcome:
    number: str
    done: bool  # VictorOps has the incident in the wanted state (now or already)
    note: str  # one sentence for the card or the reply
    incident: Incident | None = None


Verb = Literal["ack", "resolve"]
WANTED = {"ack": Phase.ACKED, "resolve": Phase.RESOLVED}
PAST = {"ack": "acknowledged", "resolve": "resolved"}


def vo_message(verb: Verb, actor: Actor, note: str | None) -> str:
    """The message VictorOps records: where the action came from and who clicked."""
    text = f"{PAST[verb].capitalize()} from Slack by @{actor.slack_name}"
    return f"{text}: {note}" if note else text


def apply(incident: Incident, verb: Verb, actor: Actor, message: str, now: datetime) -> Incident:
    """The incident as VictorOps has it after an accepted ack or resolve (see the API reference §3)."""
    phase = WANTED[verb]
    transition = Transition(name=phase.value, at=now, by=actor.vo_username, message=message, manually=True)
    update: dict[str, object] = {
        "current_phase": phase,
        "paged_users": [],
        "transitions": [*incident.transitions, transition],
    }
    if verb == "resolve":
        update["entity_state"] = "OK"
    return incident.model_copy(update=update)


def summary(outcomes: Sequence[Outcome]) -> str:
    done = sum(1 for o in outcomes if o.done)
    return "ok" if done == len(outcomes) else "partial" if done else "refused"


class IncidentActions:
    """Every method records what it did, or why it failed, in the audit log."""

    def __init__(
        self,
        writer: IncidentWriter,
        view: IncidentView,
        auditor: Auditor,
        default_targets: Sequence[Target] = (),
    ) -> None:
        self._vo = writer
        self._view = view
        self._audit = auditor
        self._default_targets = list(default_targets)

    @asynccontextmanager
    async def _audited(self, actor: Actor, action: str, numbers: Sequence[str]) -> AsyncIterator[list[Outcome]]:
        """Yields a list for the outcomes; records them, or the error, when the block ends."""
        outcomes: list[Outcome] = []
        try:
            yield outcomes
        except Exception as exc:
            await self._log(actor, action, numbers, "failed", str(exc))
            raise
        failed = "; ".join(o.note for o in outcomes if not o.done) or None
        numbers = [o.number for o in outcomes] or list(numbers)
        await self._log(actor, action, numbers, summary(outcomes) if outcomes else "nothing", failed)

    async def _log(self, actor: Actor, action: str, numbers: Sequence[str], result: str, detail: str | None) -> None:
        await self._audit.record(
            slack_user_id=actor.slack_user_id,
            vo_username=actor.vo_username,
            action=action,
            incidents=list(numbers),
            result=result,
            detail=detail,
        )

    async def act(self, verb: Verb, actor: Actor, numbers: Sequence[str], note: str | None = None) -> list[Outcome]:
        """Ack or resolve these incidents; one call for all that need it."""
        async with self._audited(actor, verb, numbers) as recorded:
            recorded.extend(await self._act(verb, actor, numbers, note))
        return recorded

    async def _act(self, verb: Verb, actor: Actor, numbers: Sequence[str], note: str | None) -> list[Outcome]:
        found = await self._view.find(numbers)
        outcomes: dict[str, Outcome] = {}
        pending: list[str] = []
        for number, incident in found.items():
            if incident is None:
                outcomes[number] = Outcome(number, False, not_open(number))
            elif already := already_done(incident, verb):
                outcomes[number] = Outcome(number, True, already, incident)
            else:
                pending.append(number)
        if pending:
            message = vo_message(verb, actor, note)
            results = await self._send(verb, actor, pending, message)
            outcomes.update(self._record(verb, actor, message, results, found))
        return [outcomes[n] for n in found]

    async def act_on_mine(self, verb: Verb, actor: Actor, note: str | None = None) -> list[Outcome]:
        """Ack or resolve every incident VictorOps says the actor was paged for (byUser)."""
        async with self._audited(actor, f"{verb} mine", []) as recorded:
            recorded.extend(await self._act_on_mine(verb, actor, note))
        return recorded

    async def _act_on_mine(self, verb: Verb, actor: Actor, note: str | None) -> list[Outcome]:
        message = vo_message(verb, actor, note)
        send = self._vo.ack_by_user if verb == "ack" else self._vo.resolve_by_user
        try:
            results = await send(actor.vo_username, message)
        except errors.NotFound:
            raise unknown_user(actor) from None
        known = await self._view.find(r.incident_number for r in results)
        return list(self._record(verb, actor, message, results, known).values())

    async def _send(self, verb: Verb, actor: Actor, numbers: list[str], message: str) -> list[ActionResult]:
        send = self._vo.ack if verb == "ack" else self._vo.resolve
        try:
            return await send(actor.vo_username, numbers, message)
        except errors.NotFound:
            raise unknown_user(actor) from None

    def _record(
        self,
        verb: Verb,
        actor: Actor,
        message: str,
        results: list[ActionResult],
        known: dict[str, Incident | None],
    ) -> dict[str, Outcome]:
        now = datetime.now(UTC).replace(microsecond=0)
        outcomes: dict[str, Outcome] = {}
        changed: list[Incident] = []
        for result in results:
            number, incident = result.incident_number, known.get(result.incident_number)
            if result.cmd_accepted:
                new = apply(incident, verb, actor, message, now) if incident else None
                if new:
                    changed.append(new)
                outcomes[number] = Outcome(number, True, f"{PAST[verb].capitalize()} by <@{actor.slack_user_id}>.", new)
            else:
                reason = result.message or "no reason given"
                outcomes[number] = Outcome(number, False, f"VictorOps did not {verb} #{number}: {reason}.", incident)
        self._view.put(changed)
        if any(known.get(n) is None for n in outcomes):
            self._view.invalidate()  # VictorOps knows incidents we had not seen yet
        return outcomes

    async def reroute(self, actor: Actor, numbers: Sequence[str], targets: Sequence[Target]) -> list[Outcome]:
        async with self._audited(actor, "reroute", numbers) as recorded:
            recorded.extend(await self._reroute(actor, numbers, targets))
        return recorded

    async def _reroute(self, actor: Actor, numbers: Sequence[str], targets: Sequence[Target]) -> list[Outcome]:
        found = await self._view.find(numbers)
        outcomes: dict[str, Outcome] = {}
        pending = []
        for number, incident in found.items():
            if incident is None or incident.current_phase is Phase.RESOLVED:
                outcomes[number] = Outcome(number, False, not_open(number), incident)
            else:
                pending.append(number)
        if pending:
            request = RerouteRequest(
                user_name=actor.vo_username,
                reroutes=[Reroute(incident_number=n, targets=list(targets)) for n in pending],
            )
            try:
                statuses = await self._vo.reroute(request)
            except errors.NotFound:
                raise unknown_user(actor) from None
            self._view.invalidate()  # who is paged now is VictorOps' to say: read it back
            fresh = await self._view.find(pending)
            where = ", ".join(describe(t) for t in targets)
            for status in statuses:
                n = status.incident_number
                if status.success:
                    note = f"Rerouted to {where} by <@{actor.slack_user_id}>."
                else:
                    reason = status.message or "; ".join(t.message for t in status.target_status if t.message)
                    note = f"VictorOps did not reroute #{n}: {reason or 'no reason given'}."
                outcomes[n] = Outcome(n, status.success, note, fresh.get(n))
        return [outcomes.get(n, Outcome(n, False, f"VictorOps said nothing about #{n}.")) for n in found]

    async def create(
        self, actor: Actor, summary: str, details: str | None, targets: Sequence[Target]
    ) -> tuple[str, Incident | None]:
        """Create an incident; returns its number and, when VictorOps lists it already, the incident."""
        async with self._audited(actor, "create", []) as recorded:
            number, incident = await self._create(actor, summary, details, targets)
            recorded.append(Outcome(number, True, "created", incident))
        return number, incident

    async def _create(
        self, actor: Actor, summary: str, details: str | None, targets: Sequence[Target]
    ) -> tuple[str, Incident | None]:
        chosen = list(targets) or self._default_targets or [Target(type="User", slug=actor.vo_username)]
        request = CreateIncidentRequest(
            summary=summary, details=details or summary, user_name=actor.vo_username, targets=chosen
        )
        try:
            created = await self._vo.create_incident(request)
        except errors.NotFound:
            raise unknown_user(actor) from None
        number = created.incident_number or ""
        self._view.invalidate()
        return number, (await self._view.find([number]))[number]


def already_done(incident: Incident, verb: Verb) -> str | None:
    """Why no call is needed: the incident is already acknowledged (or resolved) — or None."""
    phase = incident.current_phase
    if phase is Phase.RESOLVED or (verb == "ack" and phase is Phase.ACKED):
        transition = incident.last_transition(phase)
        by = f" by {transition.by}" if transition and transition.by else ""
        return f"#{incident.incident_number} was already {PAST['resolve' if phase is Phase.RESOLVED else 'ack']}{by}."
    return None


def not_open(number: str) -> str:
    return f"#{number} is not an open incident in VictorOps: it may be resolved already, or the number is wrong."


def describe(target: Target) -> str:
    return f"policy `{target.slug}`" if target.type == "EscalationPolicy" else f"user `{target.slug}`"


def unknown_user(actor: Actor) -> ActionError:
    return ActionError(
        f"VictorOps has no user `{actor.vo_username}`, which is who you are linked to; "
        "ask an admin to correct your link."
    )
