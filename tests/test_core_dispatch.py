"""The dispatcher's rules on in-memory ports: what goes out together, when, and what a failure does to an action.
No sockets, no database, no real sleeping: the clock moves when a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime
from math import inf

import pytest

from bot.core.dispatch import IDLE, MAX_ATTEMPTS, Dispatcher, gave_up, plan
from bot.core.errors import failure_json
from bot.core.incidents import IncidentView
from bot.core.outcomes import Verb
from bot.core.queue import QueuedAction
from bot.core.sender import ActionSender
from bot.victorops import errors
from bot.victorops.models import Incident, Phase
from tests.fakes import FakeClock, queued
from tests.memory import NOW, MemoryAuditor, MemoryLease, MemoryQueue, MemoryVictorOps, gate

T0 = 1_000.0


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# -- plan: which pending actions go out as the next call, and when


def actions(*specs: tuple[str, str, float]) -> list[QueuedAction]:
    """(verb, VictorOps user, queued this long after T0) -> actions 1, 2, … in that order; "ack mine" is an ack of
    every incident paging the user."""
    return [
        queued(verb.split()[0], str(n), id=n, user=user, at=T0 + t, mine=verb.endswith(" mine"))
        for n, (verb, user, t) in enumerate(specs, 1)
    ]


ACK_A, ACK_B = ("ack", "alice"), ("ack", "bob")


@pytest.mark.parametrize(
    ("pending", "now", "window", "seen", "batch", "wait"),
    [
        pytest.param([], 0, 1.0, {}, [], inf, id="nothing queued"),
        pytest.param([(*ACK_A, 0)], 0, 1.0, {}, [], 1.0, id="an ack waits one window for more clicks"),
        pytest.param([(*ACK_A, 0)], 1.0, 1.0, {}, [1], 0.0, id="then goes"),
        pytest.param([(*ACK_A, 0), (*ACK_A, 0.6)], 1.0, 1.0, {}, [], 0.6, id="each click restarts the window"),
        pytest.param([(*ACK_A, 0), (*ACK_A, 0.6)], 1.6, 1.0, {}, [1, 2], 0.0, id="one person's clicks, one call"),
        pytest.param([(*ACK_A, 0), (*ACK_B, 0)], 1.0, 1.0, {}, [1], 0.0, id="grouped by VictorOps user"),
        pytest.param([(*ACK_A, 0), (*ACK_B, 0.5)], 0.5, 1.0, {}, [], 0.5, id="the soonest group sets the wait"),
        pytest.param(
            [(*ACK_A, 0), ("resolve", "alice", 0), (*ACK_A, 0.1)], 1.1, 1.0, {}, [1, 3], 0.0, id="acks, resolves apart"
        ),
        pytest.param(
            [(*ACK_A, 0), ("resolve", "alice", 0.1)], 1.05, 1.0, {}, [1], 0.0, id="the first group ready goes first"
        ),
        pytest.param(
            [(*ACK_A, t) for t in (0, 0.9, 1.8, 2.7)], 2.9, 1.0, {}, [], 0.1, id="clicks keep it waiting up to HOLD"
        ),
        pytest.param([(*ACK_A, t) for t in (0, 0.9, 1.8, 2.7)], 3.0, 1.0, {}, [1, 2, 3, 4], 0.0, id="but no longer"),
        pytest.param([(*ACK_A, 0)], 1.0, 1.0, {1: T0 + 0.8}, [], 0.8, id="seen late, it still gets its window"),
        pytest.param([(*ACK_A, 0), (*ACK_A, 0.2)], 1.9, 1.0, {2: T0 + 0.9}, [1, 2], 0.0, id="and joins its group late"),
        pytest.param([("reroute", "alice", 0)], 0, 1.0, {}, [1], 0.0, id="a reroute goes at once"),
        pytest.param([("create", "alice", 0), ("create", "alice", 0)], 0, 1.0, {}, [1], 0.0, id="creates one by one"),
        pytest.param([("ack mine", "alice", 0), (*ACK_A, 0)], 0, 1.0, {}, [1], 0.0, id="ack mine is not batched"),
        pytest.param([(*ACK_A, 0), (*ACK_A, 0)], 0, 0.0, {}, [1], 0.0, id="window 0: every action alone, at once"),
    ],
)
def test_plan(
    pending: list[tuple[str, str, float]],
    now: float,
    window: float,
    seen: dict[int, float],
    batch: list[int],
    wait: float,
) -> None:
    chosen, after = plan(actions(*pending), T0 + now, window, seen)
    assert [a.id for a in chosen] == batch and after == pytest.approx(wait)


# -- the dispatcher on in-memory ports


def incident(number: str, phase: Phase = Phase.UNACKED) -> Incident:
    return Incident(incident_number=number, current_phase=phase, start_time=NOW)


class Replica:
    """One replica's dispatcher over the shared in-memory ports; `told` is who it told about their action."""

    def __init__(
        self,
        vo: MemoryVictorOps,
        *,
        window: float = 0.0,
        leases: dict[str, tuple[str, float]] | None = None,
        clock: FakeClock | None = None,
        queue: MemoryQueue | None = None,
    ) -> None:
        self.clock = clock or FakeClock(T0)
        self.vo = vo
        self.queue = queue or MemoryQueue(self.clock)
        self.leases = {} if leases is None else leases
        self.audit = MemoryAuditor()
        self.told: list[int] = []
        view = IncidentView(vo, clock=self.clock, wall_clock=self.clock)
        self.dispatcher = Dispatcher(
            queue=self.queue,
            lease=MemoryLease(self.leases, "replica-a", clock=self.clock),
            sender=ActionSender(vo, view),
            gate=gate("6/minute", self.clock, self.clock.sleep),
            auditor=self.audit,
            on_done=self._tell,
            batch_window=window,
            clock=self.clock,
        )

    async def _tell(self, action: QueuedAction) -> None:
        self.told.append(action.id)

    async def click(self, verb: str, user: str, *numbers: str) -> QueuedAction:
        action, _ = await self.queue.enqueue(
            verb=Verb(verb),
            vo_username=user,
            slack_user_id=f"U0{user.upper()}",
            slack_name=user,
            incidents=numbers,
            payload={"note": None},
            reply={},
            dedupe_key=None,
        )
        return action

    async def row(self, action: QueuedAction) -> QueuedAction:
        current = await self.queue.get(action.id)
        assert current is not None
        return current


async def test_a_replica_without_the_lease_sends_nothing_until_it_expires() -> None:
    replica = Replica(MemoryVictorOps(incident("1")), leases={"dispatcher": ("replica-b", T0 + 10)})
    action = await replica.click("ack", "alice", "1")
    assert await replica.dispatcher.step() == IDLE
    assert (replica.dispatcher.leader, replica.vo.writes(), (await replica.row(action)).status) == (
        False,
        [],
        "pending",
    )
    replica.clock.now = T0 + 10.5  # replica-b stopped renewing
    assert await replica.dispatcher.step() == 0.0
    assert replica.dispatcher.leader and replica.vo.writes() == [("ack", "alice", "1")]


async def test_one_persons_clicks_go_out_as_one_call() -> None:
    replica = Replica(MemoryVictorOps(*(incident(n) for n in "123")), window=1.0)
    first = await replica.click("ack", "alice", "1")
    replica.clock.now += 0.5
    second = await replica.click("ack", "alice", "2")
    bobs = await replica.click("ack", "bob", "3")
    assert await replica.dispatcher.step() == pytest.approx(1.0) and replica.vo.writes() == []
    replica.clock.now += 1.0
    assert await replica.dispatcher.step() == 0.0
    assert await replica.dispatcher.step() == 0.0
    assert replica.vo.writes() == [("ack", "alice", "1", "2"), ("ack", "bob", "3")]
    assert [(await replica.row(a)).status for a in (first, second, bobs)] == ["done"] * 3
    assert {replica.vo.phase(n) for n in "123"} == {Phase.ACKED}
    assert await replica.dispatcher.step() == inf and len(replica.vo.writes()) == 2  # nothing left to send


@pytest.mark.parametrize(
    ("fault", "heals"),
    [
        (errors.RateLimited(), True),
        (errors.Unavailable("timed out"), True),
        (errors.Unavailable("connection refused", sent=False), True),
        (errors.ServerError(502), True),
        (errors.InvalidResponse("/api-public/v1/incidents/ack"), True),
        (RuntimeError("a bug, or the database"), True),
        (errors.BadRequest("incidentNames is empty"), False),
        (errors.AuthError(401), False),
        (errors.Forbidden(), False),
        (errors.NotFound(), False),  # on an ack: the VictorOps user does not exist
    ],
)
async def test_which_failures_are_tried_again(fault: Exception, heals: bool) -> None:
    replica = Replica(MemoryVictorOps(incident("1")))
    replica.vo.faults = [fault]
    action = await replica.click("ack", "alice", "1")
    await replica.dispatcher.step()
    after = await replica.row(action)
    if heals:
        assert (after.status, after.attempts, after.error) == ("pending", 1, str(fault))
        assert after.not_before is not None and after.not_before > at(T0)
    else:
        assert (after.status, after.attempts) == ("failed", 1)
        # what the asker is told, as facts: VictorOps' own sentence, or who it does not know
        expected = {"kind": "UnknownActor", "vo_username": "alice"} if isinstance(fault, errors.NotFound) else None
        assert after.result is not None
        assert after.result["failed"] == (expected or {"kind": "VictorOpsRefused", "text": str(fault)})
        assert replica.audit.records[-1].result == "failed"
    assert len(replica.vo.writes()) == 1


async def test_a_rate_limit_is_waited_out_for_as_long_as_victorops_said() -> None:
    replica = Replica(MemoryVictorOps(incident("1")))
    replica.vo.faults = [errors.RateLimited(retry_after=30)]
    action = await replica.click("ack", "alice", "1")
    await replica.dispatcher.step()
    assert (await replica.row(action)).not_before == at(T0 + 30)
    replica.clock.now = T0 + 29.9
    await replica.dispatcher.step()
    assert len(replica.vo.writes()) == 1
    replica.clock.now = T0 + 30
    await replica.dispatcher.step()
    done = await replica.row(action)
    assert (done.status, done.attempts, len(replica.vo.writes())) == ("done", 2, 2)
    assert replica.vo.phase("1") is Phase.ACKED


async def test_a_lost_connection_backs_off_then_gives_up_and_tells_the_asker_once() -> None:
    replica = Replica(MemoryVictorOps(incident("1")))
    fault = errors.Unavailable("connection refused", sent=False)
    replica.vo.faults = [fault] * (MAX_ATTEMPTS + 1)
    action = await replica.click("ack", "alice", "1")
    assert await replica.queue.hand_off(action.id)  # the asker stopped waiting: the dispatcher tells
    delays = []
    for _ in range(MAX_ATTEMPTS):
        await replica.dispatcher.step()
        later = await replica.row(action)
        assert later.status == "pending" and later.not_before is not None
        delays.append(later.not_before.timestamp() - replica.clock.now)
        replica.clock.now = later.not_before.timestamp()
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60]  # doubling, at most the budget's period
    assert replica.told == []
    await replica.dispatcher.step()
    failed = await replica.row(action)
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS + 1)
    assert failed.result == {"failed": failure_json(gave_up(failed, fault))}  # what the asker is told, as facts
    replica.clock.now += 60
    await replica.dispatcher.step()
    assert replica.told == [action.id] and len(replica.vo.writes()) == MAX_ATTEMPTS + 1


@pytest.mark.parametrize("landed", [True, False])
async def test_a_write_whose_answer_was_lost_is_read_back_before_it_is_sent_again(landed: bool) -> None:
    replica = Replica(MemoryVictorOps(incident("1")))
    replica.vo.faults = [errors.ServerError(502)]
    action = await replica.click("ack", "alice", "1")
    await replica.dispatcher.step()
    if landed:
        replica.vo.set_phase("1", Phase.ACKED, "alice")  # VictorOps applied it; only its answer was lost
    replica.clock.now += 2
    await replica.dispatcher.step()
    done = await replica.row(action)
    assert done.status == "done" and done.result is not None and [o["done"] for o in done.result["outcomes"]] == [True]
    assert replica.vo.writes() == [("ack", "alice", "1")] * (1 if landed else 2)


async def test_an_outcome_nobody_told_is_told_once_after_a_while() -> None:
    replica = Replica(MemoryVictorOps(incident("1"), incident("2")))
    orphan = await replica.click("ack", "alice", "1")  # its asker died while it was being sent
    waited = await replica.click("ack", "bob", "2")  # its asker reads the outcome and claims the telling
    await replica.dispatcher.step()
    await replica.dispatcher.step()
    assert await replica.queue.claim_telling(waited.id)
    replica.clock.now += 7
    await replica.dispatcher.step()
    assert replica.told == []  # the asker may still be looking
    replica.clock.now += 2
    await replica.dispatcher.step()
    await replica.dispatcher.step()
    assert replica.told == [orphan.id]


async def test_a_handed_off_action_is_told_when_it_lands_and_never_again() -> None:
    replica = Replica(MemoryVictorOps(incident("1")))
    action = await replica.click("ack", "alice", "1")
    assert await replica.queue.hand_off(action.id)
    await replica.dispatcher.step()
    assert replica.told == [action.id]
    replica.clock.now += 60
    await replica.dispatcher.step()
    assert replica.told == [action.id]


@pytest.mark.parametrize("landed", [True, False])
async def test_taking_the_lease_puts_what_a_dead_sender_left_back_and_sends_only_what_did_not_land(
    landed: bool,
) -> None:
    leases = {"dispatcher": ("replica-b", T0 - 1)}  # replica-b died while sending
    replica = Replica(MemoryVictorOps(incident("1")), leases=leases)
    action = await replica.click("ack", "alice", "1")
    assert [a.id for a in await replica.queue.mark_sending([action.id])] == [action.id]  # replica-b's claim
    if landed:
        replica.vo.set_phase("1", Phase.ACKED, "alice")
    assert await replica.dispatcher.take_lease()
    back = await replica.row(action)
    assert (back.status, back.error, back.attempts) == ("pending", "interrupted", 1)
    await replica.dispatcher.step()
    done = await replica.row(action)
    assert (done.status, done.attempts) == ("done", 2) and replica.vo.phase("1") is Phase.ACKED
    assert replica.vo.writes() == ([] if landed else [("ack", "alice", "1")])
