"""IncidentActions on in-memory ports: what costs nothing, what is queued once, how long the asker waits, and
when the action is handed off to the dispatcher. The clock moves when a test moves it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.core.actions import Actor, Completions, IncidentActions
from bot.core.dispatch import Dispatcher
from bot.core.incidents import IncidentView
from bot.core.outcomes import Outcome
from bot.core.queue import QueuedAction
from bot.core.sender import ActionSender
from bot.victorops.models import Incident, Phase
from tests.fakes import FakeClock
from tests.memory import NOW, MemoryAuditor, MemoryLease, MemoryQueue, MemoryVictorOps, gate

T0 = 1_000.0
ALICE = Actor("U0ALICE", "alice", "alice")


def incident(number: str, phase: Phase = Phase.UNACKED) -> Incident:
    return Incident(incident_number=number, current_phase=phase, start_time=NOW)


class Watched(MemoryQueue):
    """Says when something was queued, and counts how often the asker looks at its action."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.enqueued = asyncio.Event()
        self.looks = 0

    async def enqueue(self, **row: Any) -> tuple[QueuedAction, bool]:
        try:
            return await super().enqueue(**row)
        finally:
            self.enqueued.set()

    async def get(self, action_id: int) -> QueuedAction | None:
        self.looks += 1
        return await super().get(action_id)


class Replica:
    """The asker's side (IncidentActions) and the dispatcher of one replica, sharing the completions."""

    def __init__(self, *incidents: Incident, wait: float = 3.0, poll: float = 0.01, budget: str = "6/minute") -> None:
        self.clock = FakeClock(T0)
        self.vo = MemoryVictorOps(*incidents)
        self.queue = Watched(self.clock)
        self.gate = gate(budget, self.clock, self.clock.sleep)
        self.audit = MemoryAuditor()
        view = IncidentView(self.vo, clock=self.clock, wall_clock=self.clock)
        completions = Completions()
        self.dispatcher = Dispatcher(
            queue=self.queue,
            lease=MemoryLease({}, "replica-a", clock=self.clock),
            sender=ActionSender(self.vo, view),
            gate=self.gate,
            auditor=self.audit,
            on_done=self._tell,
            completions=completions,
            batch_window=0.0,
            clock=self.clock,
        )
        self.told: list[int] = []  # actions the dispatcher told the asker about (handed off)
        self.woken = 0
        self.actions = IncidentActions(
            self.queue,
            view,
            self.gate,
            self.audit,
            wake=self._wake,
            wait=wait,
            completions=completions,
            poll=poll,
            clock=self.clock,
        )

    async def _tell(self, action: QueuedAction) -> None:
        self.told.append(action.id)

    def _wake(self) -> None:
        self.woken += 1

    def asking(self, verb: str, *numbers: str) -> asyncio.Task[list[Outcome]]:
        """A click, left waiting in the background."""
        return asyncio.create_task(self.act(verb, *numbers))

    async def act(self, verb: str, *numbers: str) -> list[Outcome]:
        """A click; one that would keep waiting (the fake clock does not move by itself) fails instead."""
        return await asyncio.wait_for(self.actions.act(verb, ALICE, numbers), 1)  # type: ignore[arg-type]

    async def queued_once(self) -> QueuedAction:
        await asyncio.wait_for(self.queue.enqueued.wait(), 1)
        [action] = self.queue.rows.values()
        return action


@pytest.mark.parametrize(
    ("verb", "phase", "done"),
    [
        ("ack", None, False),  # VictorOps does not list it
        ("ack", Phase.ACKED, True),  # already: nothing to send
        ("ack", Phase.RESOLVED, True),
        ("resolve", Phase.RESOLVED, True),
    ],
)
async def test_unknown_and_already_done_cost_no_call(verb: str, phase: Phase | None, done: bool) -> None:
    replica = Replica(*([incident("7", phase)] if phase else []))
    [outcome] = await replica.act(verb, "7")
    assert (outcome.number, outcome.done, outcome.queued) == ("7", done, False)
    assert replica.queue.rows == {} and replica.vo.writes() == [] and replica.woken == 0
    assert [(r.action, r.incidents) for r in replica.audit.records] == [(verb, ("7",))]


async def test_only_what_needs_a_call_is_queued() -> None:
    replica = Replica(incident("1", Phase.ACKED), incident("2"), incident("3"), wait=0)
    outcomes = await replica.act("ack", "1", "2", "404", "3")
    assert [(o.number, o.done, o.queued) for o in outcomes] == [
        ("1", True, False),
        ("2", False, True),
        ("404", False, False),
        ("3", False, True),
    ]
    [action] = replica.queue.rows.values()
    assert (action.verb, action.incidents, action.vo_username) == ("ack", ("2", "3"), "alice")


async def test_a_double_click_joins_the_action_already_queued() -> None:
    replica = Replica(incident("1"), wait=0)
    clicks = await asyncio.gather(*(replica.act("ack", "1") for _ in range(3)))
    assert [o.queued for [o] in clicks] == [True] * 3
    assert len(replica.queue.rows) == 1
    await replica.dispatcher.step()
    assert replica.vo.writes() == [("ack", "alice", "1")]


async def test_an_action_that_lands_within_the_wait_is_answered_with_its_outcome() -> None:
    replica = Replica(incident("1"))
    asking = replica.asking("ack", "1")
    action = await replica.queued_once()
    assert replica.woken == 1  # the dispatcher was told to look now
    await replica.dispatcher.step()
    [outcome] = await asking
    assert (outcome.number, outcome.done, outcome.queued) == ("1", True, False)
    assert outcome.incident is not None and outcome.incident.current_phase is Phase.ACKED  # drawn as it is now
    after = await replica.queue.get(action.id)
    assert after is not None and (after.status, after.handed_off, after.told) == ("done", False, True)


async def test_when_the_budget_is_spent_it_is_handed_off_at_once() -> None:
    replica = Replica(incident("1"), incident("2"), budget="2/minute")
    for _ in range(2):
        assert await replica.gate.acquire() == 0.0
    replica.clock.now += 10  # the window frees a call in 50 s: past the 3 s wait
    [outcome] = await replica.act("ack", "1")
    assert (outcome.done, outcome.queued) == (False, True)
    assert replica.clock.now == T0 + 10  # no time spent waiting for what cannot land
    [action] = replica.queue.rows.values()
    assert (action.status, action.handed_off) == ("pending", True)


async def test_a_wait_that_expires_hands_the_action_off() -> None:
    replica = Replica(incident("1"), wait=3.0)
    asking = replica.asking("ack", "1")
    action = await replica.queued_once()
    replica.clock.now += 2.9
    await asyncio.sleep(0.02)  # the asker looks again (every `poll`) and waits on
    assert not asking.done()
    replica.clock.now += 0.2
    [outcome] = await asking
    assert (outcome.done, outcome.queued) == (False, True)
    assert (await replica.queue.get(action.id)).handed_off  # type: ignore[union-attr]
    await replica.dispatcher.step()  # it lands later: the dispatcher tells the asker, not the asker itself
    after = await replica.queue.get(action.id)
    assert after is not None and (after.status, after.told) == ("done", True)
    assert replica.told == [action.id]


async def test_a_completion_on_this_replica_wakes_the_asker_without_polling() -> None:
    replica = Replica(incident("1"), wait=3600, poll=3600)  # polling would not notice within the test
    asking = replica.asking("ack", "1")
    await replica.queued_once()
    await asyncio.sleep(0)
    looks = replica.queue.looks
    await replica.dispatcher.step()
    [outcome] = await asking
    assert outcome.done and replica.queue.looks == looks + 1  # one look, when woken
