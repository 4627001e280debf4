"""Queued actions -> VictorOps calls. Acks (or resolves) of one user go in one call; what VictorOps confirms
is written back to the shared incident view, so cards show it without another call.

A write sent before whose answer was lost may have landed: it is read back first (`bot.core.readback`) and
only what did not happen is sent again. Only a write VictorOps surely did not apply (a rate limit, a
connection never made) is sent again without looking."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.core.actions import Actor, IncidentWriter, apply, done, vo_message
from bot.core.errors import RerouteNotFound, UnknownActor
from bot.core.feeds import Noticing, Rerouting
from bot.core.incidents import IncidentView
from bot.core.outcomes import Did, Outcome, Refused, Silent, Verb, stored
from bot.core.queue import QueuedAction
from bot.core.readback import rerouted, settled
from bot.victorops import errors
from bot.victorops.models import (
    ActionResult,
    CreateIncidentRequest,
    Incident,
    Reroute,
    RerouteRequest,
    RerouteStatus,
    Target,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def actor_of(action: QueuedAction) -> Actor:
    return Actor(action.slack_user_id, action.slack_name, action.vo_username)


@dataclass(frozen=True)
class Sent:
    """What one queued action came to: its outcomes, and for a create the new incident's number."""

    outcomes: list[Outcome]
    created: str | None = None

    def to_result(self) -> dict[str, Any]:
        return {"outcomes": [stored(o) for o in self.outcomes], "created": self.created}


class ActionSender:
    def __init__(
        self,
        writer: IncidentWriter,
        view: IncidentView,
        default_targets: Sequence[Target] = (),
        feed: Noticing | None = None,
    ) -> None:
        self._vo = writer
        self._view = view
        self._default_targets = list(default_targets)
        self._feed = feed  # the live feed: a card's thread says what was done from Slack, by whom
        self._unsent: set[int] = set()  # actions whose last write VictorOps surely did not apply

    def may_have_landed(self, action: QueuedAction) -> bool:
        """Sent before, and not known to have been refused unapplied: perhaps VictorOps has it already. What
        another replica, or this one before a restart, saw is not known here: then it may have landed."""
        return action.attempts > 1 and action.id not in self._unsent

    async def _write(self, batch: Sequence[QueuedAction], call: Awaitable[T]) -> T:
        """Send one write, remembering whether its failure leaves the batch surely unapplied."""
        ids = {a.id for a in batch}
        self._unsent -= ids
        try:
            return await call
        except errors.VictorOpsError as exc:
            if not exc.may_have_landed:
                self._unsent |= ids
            raise

    async def send(self, batch: Sequence[QueuedAction]) -> dict[int, Sent]:
        """One VictorOps call for the batch (several actions only for acks or resolves of one user)."""
        first = batch[0]
        try:
            match first.verb:
                case Verb.ACK | Verb.RESOLVE if first.mine:
                    return {first.id: await self._mine(first.verb, first)}
                case Verb.ACK | Verb.RESOLVE:
                    return await self._ack_or_resolve(first.verb, batch)
                case Verb.REROUTE:
                    return {first.id: await self._reroute(first)}
                case Verb.CREATE:
                    return {first.id: await self._create(first)}
        except errors.NotFound:
            if first.verb == Verb.REROUTE:  # the missing one may be a target as well as the actor
                raise RerouteNotFound() from None
            raise UnknownActor(first.vo_username) from None
        raise ValueError(f"unknown queued verb {first.verb!r}")

    async def _ack_or_resolve(self, verb: Verb, batch: Sequence[QueuedAction]) -> dict[int, Sent]:
        actor = actor_of(batch[0])
        numbers = list(dict.fromkeys(n for action in batch for n in action.incidents))
        note = next((a.payload.get("note") for a in batch if a.payload.get("note")), None)
        message = vo_message(verb, actor, note)
        by_number: dict[str, Outcome] = {}
        if any(self.may_have_landed(a) for a in batch):
            seen = await self._view.current()
            by_number = {n: o for n in numbers if (o := settled(verb, actor, seen.get(n)))}
        if rest := [n for n in numbers if n not in by_number]:
            send = self._vo.ack if verb == Verb.ACK else self._vo.resolve
            asked = self._view.now()
            results = await self._write(batch, send(actor.vo_username, rest, message))
            by_number |= await self._record(verb, actor, message, results, await self._known(rest), asked)
        return {action.id: Sent([by_number.get(n, Outcome(n, Silent())) for n in action.incidents]) for action in batch}

    async def _mine(self, verb: Verb, action: QueuedAction) -> Sent:
        actor = actor_of(action)
        message = vo_message(verb, actor, action.payload.get("note"))
        send = self._vo.ack_by_user if verb == Verb.ACK else self._vo.resolve_by_user
        asked = self._view.now()
        results = await self._write([action], send(actor.vo_username, message))
        known = await self._known([r.incident_number for r in results])
        return Sent(list((await self._record(verb, actor, message, results, known, asked)).values()))

    async def _record(
        self,
        verb: Verb,
        actor: Actor,
        message: str,
        results: list[ActionResult],
        known: dict[str, Incident | None],
        asked: float,
    ) -> dict[str, Outcome]:
        now = datetime.now(UTC).replace(microsecond=0)
        outcomes: dict[str, Outcome] = {}
        changed: list[Incident] = []
        refused = [r for r in results if not r.cmd_accepted]
        # A refusal may be VictorOps saying it is done already, perhaps by this user: look before saying "did not".
        after = await self._read_back(asked) if refused else {}
        for result in results:
            number, incident = result.incident_number, known.get(result.incident_number)
            if result.cmd_accepted:
                new = apply(incident, verb, actor, message, now) if incident else None
                if new:
                    changed.append(new)
                outcomes[number] = done(verb, actor, number, new)
            elif found := settled(verb, actor, after.get(number)):
                outcomes[number] = found
            else:
                outcomes[number] = Outcome(number, Refused(verb, result.message or ""), incident)
        await self._remember(changed, stale=any(known.get(n) is None for n in outcomes))
        return outcomes

    # What follows a write VictorOps accepted must not fail the action (it would be sent again): the view is
    # only kept up to date as well as it can be.

    async def _known(self, numbers: list[str]) -> dict[str, Incident | None]:
        try:
            return await self._view.find(numbers, recheck=False)  # one VictorOps did not list is fetched later
        except Exception:
            log.warning("could not read incidents %s after a write; the view catches up later", numbers)
            return dict.fromkeys(numbers)

    async def _read_back(self, asked: float) -> dict[str, Incident]:
        try:
            return await self._view.current(asked)
        except Exception:
            log.warning("could not read the incidents back after a write VictorOps refused in part")
            return {}

    async def _remember(self, changed: list[Incident], *, stale: bool) -> None:
        if self._feed is not None and changed:
            self._feed.noticed(changed)
        try:
            await self._view.put(changed)
            if stale:
                await self._view.invalidate()  # VictorOps knows incidents we had not seen yet
        except Exception:
            log.warning("could not record %d changed incident(s); the view catches up later", len(changed))

    async def _reroute(self, action: QueuedAction) -> Sent:
        actor = actor_of(action)
        targets = [Target.model_validate(t) for t in action.payload["targets"]]
        landed: set[str] = set()
        if self.may_have_landed(action):  # sent twice, a reroute pages its targets twice
            seen = await self._view.current()
            landed = {n for n in action.incidents if rerouted(seen.get(n), targets)}
        statuses: dict[str, RerouteStatus] = {}
        if rest := [n for n in action.incidents if n not in landed]:
            request = RerouteRequest(
                user_name=actor.vo_username, reroutes=[Reroute(incident_number=n, targets=targets) for n in rest]
            )
            statuses = {s.incident_number: s for s in await self._write([action], self._vo.reroute(request))}
            await self._remember([], stale=True)  # who is paged now is VictorOps' to say: the next reader fetches it
        outcomes = []
        for n in action.incidents:
            status = statuses.get(n)
            if n in landed or (status is not None and status.success):
                outcomes.append(Outcome(n, Did(Verb.REROUTE, actor.slack_user_id, tuple(targets))))
            elif status is None:
                outcomes.append(Outcome(n, Silent()))
            else:
                reason = status.message or "; ".join(t.message for t in status.target_status if t.message)
                outcomes.append(Outcome(n, Refused(Verb.REROUTE, reason)))
        if self._feed is not None and (numbers := [o.number for o in outcomes if isinstance(o.why, Did)]):
            self._feed.noticed(rerouted=Rerouting(tuple(numbers), actor.slack_user_id, tuple(targets)))
        return Sent(outcomes)

    async def _create(self, action: QueuedAction) -> Sent:
        actor = actor_of(action)
        payload = action.payload
        if self.may_have_landed(action) and (number := await self._already_created(action)):
            # an earlier attempt may have reached VictorOps before we lost track: never create it twice
            return Sent([creation(number, actor)], created=number)
        targets = [Target.model_validate(t) for t in payload.get("targets", [])]
        chosen = targets or self._default_targets or [Target(type="User", slug=actor.vo_username)]
        request = CreateIncidentRequest(
            summary=payload["summary"],
            details=payload.get("details") or payload["summary"],
            user_name=actor.vo_username,
            targets=chosen,
        )
        created = await self._write([action], self._vo.create_incident(request))
        number = created.incident_number or ""
        await self._remember([], stale=True)
        return Sent([creation(number, actor)], created=number)

    async def _already_created(self, action: QueuedAction) -> str | None:
        """An incident this action created on an earlier attempt: same creator and summary, started since."""
        since = action.created_at - timedelta(seconds=5)
        for incident in (await self._view.current()).values():
            if (
                incident.monitor_name == f"vouser-{action.vo_username}"
                and incident.title == action.payload["summary"]
                and (incident.start_time is None or incident.start_time >= since)  # unknown: may be ours
            ):
                return incident.incident_number
        return None


def creation(number: str, actor: Actor) -> Outcome:
    return Outcome(number, Did(Verb.CREATE, actor.slack_user_id))
