"""The live feed's sources through the core's ports: the phase-forward merge, the webhook's ingest, polling."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.incidents import IncidentView, forward
from bot.core.ingest import Ingest
from bot.core.outcomes import Verb
from bot.core.poller import BURST, SLOWER, Poller
from bot.victorops.limits import SharedBudget
from bot.victorops.models import Incident, Phase
from tests.fakes import FakeClock
from tests.memory import NOW, MemoryEvents, MemoryQueue, MemorySnapshots, MemoryVictorOps, RecordingReconciler, gate


def incident(number: str, phase: Phase = Phase.UNACKED, **fields: object) -> Incident:
    return Incident.model_validate({"incident_number": number, "current_phase": phase, **fields})


def body(number: str, phase: str, **extra: object) -> dict[str, object]:
    return {"STATE.INCIDENT_NAME": number, "INCIDENT.CURRENT_PHASE": phase, **extra}


def test_forward_never_moves_a_phase_back_and_keeps_what_the_event_does_not_say() -> None:
    held = incident("7", Phase.RESOLVED, entity_display_name="Disk", routing_key="db")
    assert forward(held, incident("7", Phase.ACKED)) is None
    assert forward(held, held) is None
    acked = forward(incident("7", entity_display_name="Disk"), incident("7", Phase.ACKED, alert_count=3))
    assert acked is not None and acked.current_phase is Phase.ACKED
    assert acked.entity_display_name == "Disk" and acked.alert_count == 3
    assert forward(None, held) == held


def view_over(vo: MemoryVictorOps, snapshots: MemorySnapshots | None = None) -> IncidentView:
    return IncidentView(vo, snapshots=snapshots, wall_clock=lambda: NOW.timestamp())


async def test_a_webhook_changes_the_view_for_every_replica_without_a_call() -> None:
    vo, snapshots = MemoryVictorOps(incident("7")), MemorySnapshots()
    first, second = view_over(vo, snapshots), view_over(vo, snapshots)
    await first.all()
    assert vo.calls == [("list",)]
    feeds = RecordingReconciler()
    ingest = Ingest(MemoryEvents(), second, feeds, lambda: NOW)
    await ingest.receive(body("7", "ACKED", **{"STATE.ACKED_BY": "heidi"}))
    await ingest.receive(body("8", "UNACKED"))  # paged seconds ago: added
    assert feeds.calls == [{"7": Phase.ACKED}, {"8": Phase.UNACKED}]
    assert {i.incident_number: i.current_phase for i in await second.all()} == {"7": Phase.ACKED, "8": Phase.UNACKED}
    other = view_over(vo, snapshots)  # a third replica reads the shared snapshot
    assert {i.incident_number for i in await other.all()} == {"7", "8"}
    assert vo.calls == [("list",)]


async def test_duplicates_and_late_events_change_nothing() -> None:
    events, feeds = MemoryEvents(), RecordingReconciler()
    ingest = Ingest(events, view_over(MemoryVictorOps()), feeds, lambda: NOW)
    resolved = body("9", "RESOLVED", **{"STATE.RESOLVED_BY": "bob"})
    assert not (await ingest.receive(resolved)).duplicate
    assert (await ingest.receive(resolved)).duplicate
    assert not (await ingest.receive(body("9", "ACKED", **{"STATE.ACKED_BY": "heidi"}))).duplicate  # older, late
    assert not (await ingest.receive(body("9", "UNACKED"))).duplicate
    assert feeds.calls == [{"9": Phase.RESOLVED}]
    assert len(events.rows) == 3 and len(events.done) == 3


async def test_events_stored_but_not_processed_are_processed_at_start() -> None:
    events, feeds = MemoryEvents(), RecordingReconciler()
    await events.add("k1", "5", "ACKED", body("5", "ACKED"), NOW)  # a crash came between the 200 and the feed
    ingest = Ingest(events, view_over(MemoryVictorOps(incident("5"))), feeds, lambda: NOW)
    assert await ingest.catch_up() == 1
    assert feeds.seen() == {"5": Phase.ACKED}
    assert await ingest.catch_up() == 0


async def test_webhooks_count_as_on_for_ten_minutes() -> None:
    events, now = MemoryEvents(), [NOW]
    ingest = Ingest(events, view_over(MemoryVictorOps()), RecordingReconciler(), lambda: now[0])
    assert not await ingest.webhooks_on()
    await ingest.receive(body("1", "UNACKED"))
    now[0] = NOW + timedelta(minutes=9)
    assert await ingest.webhooks_on()
    now[0] = NOW + timedelta(minutes=11)
    assert not await ingest.webhooks_on()


class Webhooks:
    def __init__(self) -> None:
        self.on = False

    async def __call__(self) -> bool:
        return self.on


@dataclass
class Rig:
    poller: Poller
    budget: SharedBudget
    queue: MemoryQueue
    feeds: RecordingReconciler
    hooks: Webhooks


@dataclass
class Metered:
    """The incident list through the budget, as the client reads it."""

    vo: MemoryVictorOps
    budget: SharedBudget

    async def list_incidents(self) -> list[Incident]:
        await self.budget.acquire()
        return await self.vo.list_incidents()


def rig(vo: MemoryVictorOps, clock: FakeClock, spec: str = "6/10s") -> Rig:
    budget, queue, feeds, hooks = gate(spec, clock, clock.sleep), MemoryQueue(clock), RecordingReconciler(), Webhooks()
    view = IncidentView(Metered(vo, budget), clock=clock, wall_clock=clock)
    poller = Poller(view, feeds, budget, queue, hooks, interval=2.0, clock=clock, sleep=clock.sleep)
    return Rig(poller, budget, queue, feeds, hooks)


async def test_a_poll_reconciles_every_listed_incident_and_sees_changes_made_elsewhere() -> None:
    clock = FakeClock()
    vo = MemoryVictorOps(incident("1"), incident("2", Phase.RESOLVED))
    it = rig(vo, clock, spec="off")
    assert await it.poller.poll() == "ok"
    vo.set_phase("1", Phase.ACKED, "heidi")  # from the phone
    vo.incidents["3"] = incident("3")
    clock.now += 2.0
    assert await it.poller.poll() == "ok"
    # the recently resolved too: a card whose incident was resolved from the phone learns it from the poll
    assert it.feeds.calls == [
        {"1": Phase.UNACKED, "2": Phase.RESOLVED},
        {"1": Phase.ACKED, "2": Phase.RESOLVED, "3": Phase.UNACKED},
    ]


async def test_clicks_first_a_poll_never_takes_the_room_queued_actions_need() -> None:
    clock = FakeClock()
    vo = MemoryVictorOps(incident("1"))
    it = rig(vo, clock, spec="8/10s")
    for _ in range(8 - BURST - 1):  # a poll now would take a call a burst or the queued action needs
        await it.budget.acquire()
    await it.queue.enqueue(
        verb=Verb.ACK, vo_username="alice", slack_user_id="U0ALICE", slack_name="alice", incidents=["1"],
        payload={}, reply={}, dedupe_key=None,
    )  # fmt: skip
    assert await it.poller.poll() == "skipped"
    assert vo.calls == [] and it.feeds.calls == []
    clock.now += 11  # the window emptied: a poll fits beside a burst and the queued action
    assert await it.poller.poll() == "ok"
    assert vo.calls == [("list",)]


async def test_in_a_small_window_a_poll_runs_only_when_nobody_else_used_it() -> None:
    clock = FakeClock()
    vo = MemoryVictorOps(incident("1"))
    it = rig(vo, clock, spec="6/10s")
    assert await it.poller.poll() == "ok"
    clock.now += 2.0
    assert await it.poller.poll() == "skipped"  # one call spent in the window: five left for a burst
    clock.now += 9.0
    assert await it.poller.poll() == "ok"
    assert vo.calls == [("list",), ("list",)]


async def test_with_webhooks_on_polls_are_rarer_and_run_stops_on_stop() -> None:
    clock = FakeClock()
    it = rig(MemoryVictorOps(incident("1")), clock, spec="off")
    assert await it.poller.delay() == 2.0
    it.hooks.on = True
    assert await it.poller.delay() == 2.0 * SLOWER
    stop = asyncio.Event()
    running = asyncio.create_task(it.poller.run(stop))
    for _ in range(1000):  # the fake clock's sleeps take no time: a few turns of the loop
        if len(clock.slept) >= 3:
            break
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(running, 1)
    assert clock.slept[:3] == [2.0, 10.0, 10.0]
    assert it.poller.facts().last_poll is not None


class Failing(RecordingReconciler):
    """Slack away for the first call."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    async def reconcile(self, incidents: Sequence[Incident]) -> None:
        if self.fail:
            self.fail = False
            raise RuntimeError("chat.postMessage failed")
        await super().reconcile(incidents)


async def test_an_event_the_feeds_failed_on_is_kept_and_handed_over_again_at_start() -> None:
    events, feeds = MemoryEvents(), Failing()
    view = view_over(MemoryVictorOps())
    ingest = Ingest(events, view, feeds, lambda: NOW)
    assert not (await ingest.receive(body("4", "ACKED", **{"STATE.ACKED_BY": "heidi"}))).duplicate  # still a 200
    assert feeds.calls == [] and len(await events.unprocessed()) == 1
    restarted = Ingest(events, view, feeds, lambda: NOW)  # the view kept the merge: reconciled all the same
    assert await restarted.catch_up() == 1
    assert feeds.seen() == {"4": Phase.ACKED} and await events.unprocessed() == []


async def test_an_event_the_feeds_failed_on_is_applied_again_without_a_restart() -> None:
    events, feeds, clock = MemoryEvents(), Failing(), [NOW]
    ingest = Ingest(events, view_over(MemoryVictorOps()), feeds, lambda: clock[0])
    await ingest.receive(body("5", "ACKED", **{"STATE.ACKED_BY": "heidi"}))
    assert feeds.calls == [] and len(await events.unprocessed()) == 1
    assert await ingest.catch_up(received_before=NOW) == 0  # still in flight, as far as anyone knows
    stop = asyncio.Event()
    retrying = asyncio.create_task(ingest.retry(stop, every=0.01))
    clock[0] = NOW + timedelta(minutes=1)
    for _ in range(200):  # a retry every 10 ms: within a second
        if feeds.seen() == {"5": Phase.ACKED}:
            break
        await asyncio.sleep(0.005)
    assert feeds.seen() == {"5": Phase.ACKED}
    stop.set()
    await asyncio.wait_for(retrying, 1)
    assert await events.unprocessed() == []
