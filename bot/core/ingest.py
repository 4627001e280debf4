"""Changes learned from VictorOps' outgoing webhook: stored, folded into the shared view, handed to the feeds.

An event is stored (once: a redelivery has the same key) before VictorOps gets its 200, then merged into the
view phases forward and reconciled, then marked processed. Events a crash left unprocessed are processed at
start (`catch_up`), and those the feeds failed on a minute later (`retry`), so an accepted event is never lost
and a duplicate never acts twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.feed import Reconciler
from bot.core.incidents import IncidentView
from bot.victorops.models import Incident
from bot.victorops.webhook import event_key, flatten, parse

log = logging.getLogger(__name__)

# A webhook this recent means VictorOps calls us: polling slows down to reconcile what a lost one missed.
WEBHOOKS_ON_FOR = 600.0
# An event the feeds failed on (Slack away) is tried again this often, once this old: never one still in flight.
RETRY_EVERY = 60.0
RETRY_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class StoredEvent:
    id: int
    received_at: datetime
    body: dict[str, Any]  # the flat body as VictorOps sent it


class EventLog(Protocol):
    """The webhook deliveries, shared by every replica (bot.store.events)."""

    async def add(self, key: str, number: str, phase: str, body: Mapping[str, Any], at: datetime) -> int | None: ...
    async def processed(self, event_id: int, at: datetime) -> None: ...
    async def unprocessed(self) -> list[StoredEvent]: ...
    async def last_received(self) -> datetime | None: ...


@dataclass(frozen=True)
class Received:
    incident: Incident
    duplicate: bool  # the same body was delivered before: nothing more is done


class Ingest:
    def __init__(
        self, events: EventLog, view: IncidentView, reconciler: Reconciler, now: Callable[[], datetime]
    ) -> None:
        self._events = events
        self._view = view
        self._reconciler = reconciler
        self._now = now

    async def receive(self, body: Mapping[str, Any]) -> Received:
        """Store the event, then apply it. Raises NotAnIncident (nothing stored) for a body that is not one."""
        flat = flatten(body)
        incident = parse(flat)
        stored = await self._events.add(
            event_key(flat), incident.incident_number, incident.current_phase.value, flat, self._now()
        )
        if stored is None:
            return Received(incident, duplicate=True)
        try:
            if changed := await self._view.merge([incident]):
                await self._reconciler.reconcile(changed)
            await self._events.processed(stored, self._now())
        except Exception:  # stored: VictorOps gets its 200, and `retry` applies it again
            log.exception("webhook for incident %s stored, not applied yet", incident.incident_number)
        return Received(incident, duplicate=False)

    async def catch_up(self, received_before: datetime | None = None) -> int:
        """Apply the events stored but not processed (a crash or a failure between the 200 and the feed), those
        received before `received_before` if given; how many. The view may have taken one already: its incidents
        are handed over as the view holds them, and the feeds, which post once, take them again."""
        pending = [
            e for e in await self._events.unprocessed() if received_before is None or e.received_at < received_before
        ]
        for event in pending:
            incident = parse(event.body)
            await self._view.merge([incident])
            held = self._view.known([incident.incident_number])[incident.incident_number] or incident
            await self._reconciler.reconcile([held])
            await self._events.processed(event.id, self._now())
        return len(pending)

    async def retry(self, stop: asyncio.Event, every: float = RETRY_EVERY) -> None:
        """Until `stop`: every `every` seconds, apply again what the feeds failed on, without waiting for a restart
        (any replica may; the feeds post once)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if stop.is_set():
                return
            try:
                if done := await self.catch_up(received_before=self._now() - RETRY_AFTER):
                    log.info("applied %d stored webhook event(s) the feeds had failed on", done)
            except Exception:
                log.exception("stored webhook events could not be applied yet; trying again later")

    async def last_received(self) -> datetime | None:
        return await self._events.last_received()

    async def webhooks_on(self) -> bool:
        last = await self._events.last_received()
        return last is not None and (self._now() - last).total_seconds() < WEBHOOKS_ON_FOR
