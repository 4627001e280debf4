"""Acknowledge, resolve, reroute and create, as a Slack user linked to a VictorOps user.

Before spending a call, each action is checked against the shared incident view: an unknown number is
refused and an incident already in the wanted state is answered without a call. The rest goes into the
durable queue (see `bot.core.dispatch`), which sends it within VictorOps' budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from time import monotonic
from typing import Any, Protocol

from bot.core.audit import Auditor
from bot.core.errors import Lost, TooLong, failure_of
from bot.core.incidents import IncidentView
from bot.core.outcomes import Already, Did, NotOpen, Outcome, Queued, Verb, outcomes_of, summary
from bot.core.queue import QueuedAction
from bot.core.text import MAX_DETAILS, MAX_NOTE, MAX_SUMMARY
from bot.victorops.limits import Clock, Gate
from bot.victorops.models import (
    ActionResult,
    CreatedIncident,
    CreateIncidentRequest,
    Incident,
    Phase,
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


@dataclass(frozen=True)
class Actor:
    slack_user_id: str
    slack_name: str
    vo_username: str


BATCHABLE = (Verb.ACK, Verb.RESOLVE)  # one person's clicks within the batch window share one call
WANTED = {Verb.ACK: Phase.ACKED, Verb.RESOLVE: Phase.RESOLVED}
RECORDED = {Verb.ACK: "Acknowledged", Verb.RESOLVE: "Resolved"}
FROM_SLACK = "from Slack by @"  # in the message VictorOps records: the live feed tells Slack's actions apart


def vo_message(verb: Verb, actor: Actor, note: str | None) -> str:
    """The message VictorOps records: where the action came from and who clicked."""
    text = f"{RECORDED[verb]} {FROM_SLACK}{actor.slack_name}"
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
    if verb == Verb.RESOLVE:
        update["entity_state"] = "OK"
    return incident.model_copy(update=update)


def done(verb: Verb, actor: Actor, number: str, incident: Incident | None) -> Outcome:
    """This actor's ack or resolve landed."""
    return Outcome(number, Did(verb, actor.slack_user_id), incident)


class Queue(Protocol):
    """The durable action queue (bot.store.queue.ActionQueue)."""

    async def enqueue(
        self,
        *,
        verb: Verb,
        mine: bool = False,
        vo_username: str,
        slack_user_id: str,
        slack_name: str,
        incidents: Sequence[str],
        payload: dict[str, Any],
        reply: dict[str, Any],
        dedupe_key: str | None,
    ) -> tuple[QueuedAction, bool]: ...
    async def get(self, action_id: int) -> QueuedAction | None: ...
    async def hand_off(self, action_id: int) -> bool: ...
    async def claim_telling(self, action_id: int) -> bool: ...
    async def ahead_of(self, action_id: int) -> list[QueuedAction]: ...


class Completions:
    """Tells askers on this replica that their queued action finished, so they need not poll the database."""

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Future[None]] = {}

    def watch(self, action_id: int) -> asyncio.Future[None]:
        if action_id not in self._waiting:
            self._waiting[action_id] = asyncio.get_running_loop().create_future()
        return self._waiting[action_id]

    def forget(self, action_id: int) -> None:
        self._waiting.pop(action_id, None)

    def finished(self, action_id: int) -> None:
        if (future := self._waiting.pop(action_id, None)) and not future.done():
            future.set_result(None)


class IncidentActions:
    """The front door for actions from Slack: check against the shared view, queue, and wait a little.

    Nothing is sent from here: every write goes through the durable queue, which the dispatcher sends
    within the budget. When it lands within `wait` seconds the caller gets the outcome as if it had been
    sent directly; otherwise the action is handed off — the caller says "queued" and the dispatcher
    updates the card when it lands.
    """

    def __init__(
        self,
        queue: Queue,
        view: IncidentView,
        gate: Gate,
        auditor: Auditor,
        *,
        wake: Callable[[], None] = lambda: None,
        wait: float = 3.0,
        completions: Completions | None = None,
        budget_label: str | None = None,
        poll: float = 0.5,
        clock: Clock = monotonic,
    ) -> None:
        self._queue = queue
        self._view = view
        self._gate = gate
        self._audit = auditor
        self._wake = wake
        self.wait = wait
        self._poll = poll
        self._completions = completions or Completions()
        self._budget_label = budget_label or str(gate.spec)  # as configured: the gate's own is padded
        self._clock = clock

    async def act(
        self,
        verb: Verb,
        actor: Actor,
        numbers: Sequence[str],
        note: str | None = None,
        reply: dict[str, Any] | None = None,
    ) -> list[Outcome]:
        """Ack or resolve these incidents. Unknown ones, and ones already in that state, cost no call."""
        check_lengths(note=note)
        found = await self._view.find(numbers)
        outcomes: dict[str, Outcome] = {}
        pending: list[str] = []
        for number, incident in found.items():
            if incident is None:
                outcomes[number] = Outcome(number, NotOpen())
            elif already := already_done(incident, verb):
                outcomes[number] = Outcome(number, already, incident)
            else:
                pending.append(number)
        if pending:
            key = click_key(verb, actor, ",".join(sorted(pending)))
            sent = await self._submit(verb, actor, pending, {"note": note}, reply, key)
            outcomes.update({o.number: o for o in sent})
        else:
            await self._log(actor, verb, list(found), summary(list(outcomes.values())))
        return [outcomes[n] for n in found]

    async def act_on_mine(
        self, verb: Verb, actor: Actor, note: str | None = None, reply: dict[str, Any] | None = None
    ) -> list[Outcome]:
        """Ack or resolve every incident VictorOps says the actor was paged for (byUser)."""
        check_lengths(note=note)
        key = click_key(verb, actor, "mine")
        return await self._submit(verb, actor, [], {"note": note}, reply, key, mine=True)

    async def reroute(
        self, actor: Actor, numbers: Sequence[str], targets: Sequence[Target], reply: dict[str, Any] | None = None
    ) -> list[Outcome]:
        found = await self._view.find(numbers)
        outcomes = {
            n: Outcome(n, NotOpen(), i) for n, i in found.items() if i is None or i.current_phase is Phase.RESOLVED
        }
        pending = [n for n in found if n not in outcomes]
        if pending:
            payload = {"targets": [t.wire() for t in targets]}
            sent = await self._submit(Verb.REROUTE, actor, pending, payload, reply, None)
            outcomes.update({o.number: o for o in sent})
        return [outcomes[n] for n in found]

    async def create(
        self,
        actor: Actor,
        summary: str,
        details: str | None,
        targets: Sequence[Target],
        reply: dict[str, Any] | None = None,
    ) -> Outcome:
        """Create an incident; the outcome's number is empty while it is still queued."""
        check_lengths(summary=summary, details=details)
        payload = {"summary": summary, "details": details, "targets": [t.wire() for t in targets]}
        return (await self._submit(Verb.CREATE, actor, [], payload, reply, None))[0]

    async def _submit(
        self,
        verb: Verb,
        actor: Actor,
        numbers: Sequence[str],
        payload: dict[str, Any],
        reply: dict[str, Any] | None,
        dedupe_key: str | None,
        *,
        mine: bool = False,
    ) -> list[Outcome]:
        action, _ = await self._queue.enqueue(
            verb=verb,
            mine=mine,
            vo_username=actor.vo_username,
            slack_user_id=actor.slack_user_id,
            slack_name=actor.slack_name,
            incidents=numbers,
            payload=payload,
            reply=reply or {},
            dedupe_key=dedupe_key,  # a double click joins the action already queued
        )
        finished = self._completions.watch(action.id)
        try:
            return await self._wait(action, numbers, finished)
        finally:
            self._completions.forget(action.id)  # another replica may have sent it: nobody will pop it

    async def _wait(
        self, action: QueuedAction, numbers: Sequence[str], finished: asyncio.Future[None]
    ) -> list[Outcome]:
        self._wake()
        # When the budget is already spent, say "queued" at once rather than after a wait that cannot succeed.
        deadline = self._clock() + (0.0 if await self._eta(action) > self.wait else self.wait)
        while True:
            current = await self._queue.get(action.id)
            if current is not None and current.status in ("done", "failed"):
                await self._queue.claim_telling(action.id)  # the asker tells: nobody else must
            if current is None:
                raise Lost()
            if current.status == "failed":
                raise failure_of(current.result, current.error)
            if current.status == "done":
                found = await self._show([o.number for o in outcomes_of(current.result) if o.number])
                return [replace(o, incident=found.get(o.number)) for o in outcomes_of(current.result)]
            left = deadline - self._clock()
            if left <= 0 and await self._queue.hand_off(action.id):
                return await self._queued(action, numbers)
            # Woken at once when this replica sends it; another replica's send is noticed by looking again.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(finished), max(0.01, min(left, self._poll)))

    async def _show(self, numbers: list[str]) -> dict[str, Incident | None]:
        """Incidents to draw: as fresh as the view can be, else as last seen — the action is queued or done
        either way, so a failed read must not tell the user to try again."""
        if not numbers:
            return {}
        try:
            return await self._view.find(numbers, recheck=False)  # for drawing: what the view has is enough
        except Exception:
            return self._view.known(numbers)

    async def _eta(self, action: QueuedAction) -> float:
        """Roughly when the action will be sent: after the calls queued before it, as the budget allows."""
        spec = self._gate.spec
        remaining = await self._gate.remaining()
        if remaining is None:
            return 0.0
        mine = call_key(action)
        calls_ahead = len({call_key(a) for a in await self._queue.ahead_of(action.id)} - {mine})
        if calls_ahead < remaining:
            return 0.0
        return await self._gate.wait_time() + (calls_ahead - remaining) * spec.period / spec.count

    async def _queued(self, action: QueuedAction, numbers: Sequence[str]) -> list[Outcome]:
        why = Queued(await self._eta(action), self._budget_label)
        found = await self._show(list(numbers))
        return [Outcome(n, why, found.get(n)) for n in numbers] or [Outcome("", why)]

    async def _log(self, actor: Actor, action: str, numbers: Sequence[str], result: str) -> None:
        await self._audit.record(
            slack_user_id=actor.slack_user_id,
            vo_username=actor.vo_username,
            action=action,
            incidents=list(numbers),
            result=result,
            detail=None,
        )


def click_key(verb: Verb, actor: Actor, what: str) -> str:
    """The key that makes a double click one action: of fixed length, whatever the number of incidents (a bulk
    action names a hundred), so it fits the queue's unique column."""
    return f"{verb}:" + hashlib.sha256(f"{actor.vo_username}\n{what}".encode()).hexdigest()


def call_key(action: QueuedAction) -> tuple[object, ...]:
    """Queued actions with the same key go out in one call (the dispatcher's batching)."""
    return (action.verb, action.vo_username) if batchable(action) else (action.id,)


def batchable(action: QueuedAction) -> bool:
    """Acks (or resolves) of numbers; "mine" is one byUser call of its own."""
    return action.verb in BATCHABLE and not action.mine


def check_lengths(*, summary: str | None = None, details: str | None = None, note: str | None = None) -> None:
    """The limits of `bot.core.text`, whatever path the text came by (commands and modals say so earlier)."""
    if summary and len(summary) > MAX_SUMMARY:
        raise TooLong("summary", len(summary), MAX_SUMMARY)
    if details and len(details) > MAX_DETAILS:
        raise TooLong("details", len(details), MAX_DETAILS)
    if note and len(note) > MAX_NOTE:
        raise TooLong("message", len(note), MAX_NOTE)


def already_done(incident: Incident, verb: Verb) -> Already | None:
    """Why no call is needed: the incident is already acknowledged (or resolved) — or None."""
    phase = incident.current_phase
    if phase is Phase.RESOLVED or (verb == Verb.ACK and phase is Phase.ACKED):
        transition = incident.last_transition(phase)
        return Already(phase, transition.by if transition and transition.by else None)
    return None
