"""The shared incident view when a webhook's merge and an action's own write land at the same moment: neither
takes an incident back a phase, here or in the snapshot other replicas read."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.core.incidents import IncidentView, newest
from bot.victorops.models import Incident, Phase, Transition
from tests.memory import MemorySnapshots


def incident(number: str, phase: Phase = Phase.UNACKED) -> Incident:
    at = datetime(2026, 12, 1, 9, list(Phase).index(phase), tzinfo=UTC)
    transitions = [Transition(name=phase.value, at=at, by="alice" if phase is not Phase.UNACKED else None)]
    return Incident(incident_number=number, current_phase=phase, transitions=transitions)


class Listed:
    async def list_incidents(self) -> list[Incident]:
        return [incident("1"), incident("2")]


class SlowSnapshots(MemorySnapshots):
    """A database read that lets other tasks run before it answers, as a real one does."""

    async def get(self, name: str) -> tuple[float, str] | None:
        found = await super().get(name)
        await asyncio.sleep(0.01)
        return found


async def test_an_ack_recorded_while_a_webhook_is_merged_is_kept() -> None:
    snapshots = SlowSnapshots()
    view = IncidentView(Listed(), snapshots=snapshots)
    await view.all()
    merging = asyncio.create_task(view.merge([incident("3")]))  # a webhook: a new incident
    await asyncio.sleep(0)  # the merge is reading the shared snapshot
    await view.put([incident("1", Phase.ACKED)])  # the sender records the ack VictorOps accepted
    assert [i.incident_number for i in await merging] == ["3"]
    assert {n: i and i.current_phase for n, i in view.known(["1", "3"]).items()} == {
        "1": Phase.ACKED,
        "3": Phase.UNACKED,
    }
    stored = await IncidentView(Listed(), snapshots=snapshots).latest()  # as another replica sees it
    assert {i.incident_number: i.current_phase for i in stored} == {
        "1": Phase.ACKED, "2": Phase.UNACKED, "3": Phase.UNACKED,
    }  # fmt: skip


async def test_a_write_older_than_the_view_does_not_take_an_incident_back() -> None:
    view = IncidentView(Listed(), snapshots=MemorySnapshots())
    await view.all()
    await view.merge([incident("1", Phase.RESOLVED)])  # resolved from the phone, heard by webhook
    await view.put([incident("1", Phase.ACKED)])  # then our own ack's answer is recorded
    held = view.known(["1"])["1"]
    assert held is not None and held.current_phase is Phase.RESOLVED


def test_newest_folds_each_report_onto_what_is_held() -> None:
    held = {"1": incident("1", Phase.ACKED), "2": incident("2")}
    reported = {"1": incident("1"), "2": incident("2", Phase.RESOLVED), "3": incident("3")}
    assert {n: i.current_phase for n, i in newest(held, reported).items()} == {
        "1": Phase.ACKED, "2": Phase.RESOLVED, "3": Phase.UNACKED,
    }  # fmt: skip


class Switchable:
    """VictorOps' list, whose answer the test changes, and which can be held while it is being answered."""

    def __init__(self) -> None:
        self.phase = Phase.UNACKED
        self.hold: asyncio.Event | None = None
        self.asked = asyncio.Event()

    async def list_incidents(self) -> list[Incident]:
        answer = [incident("1", self.phase), incident("2")]  # what VictorOps has when asked
        self.asked.set()
        if self.hold is not None:
            await self.hold.wait()
        return answer


async def test_a_change_stored_while_victorops_answers_is_kept_by_the_replica_that_asked() -> None:
    source, snapshots = Switchable(), MemorySnapshots()
    asking = IncidentView(source, snapshots=snapshots)
    other = IncidentView(source, snapshots=snapshots)
    await asking.all()
    source.hold = asyncio.Event()
    refreshing = asyncio.create_task(asking.current())
    await source.asked.wait()  # VictorOps was asked; its answer still has #1 unacknowledged
    await other.put([incident("1", Phase.ACKED)])  # another replica's ack lands meanwhile
    source.hold.set()
    await refreshing
    found = await asking.find(["1"], recheck=False)
    assert found["1"] is not None and found["1"].current_phase is Phase.ACKED


async def test_a_reader_never_gets_an_older_snapshot_without_the_items_a_newer_one_absorbed() -> None:
    clock = [1_000.0]
    source, snapshots, slow = Switchable(), MemorySnapshots(), SlowSnapshots()
    slow.rows = snapshots.rows  # one database; the reader's reads are the slow ones
    writer = IncidentView(source, snapshots=snapshots, wall_clock=lambda: clock[0])
    reader = IncidentView(source, snapshots=slow, wall_clock=lambda: clock[0])
    await writer.all()  # the snapshot: #1 unacknowledged
    await writer.put([incident("1", Phase.ACKED)])  # an item: #1 acknowledged
    reading = asyncio.create_task(reader.held(["1"]))
    await asyncio.sleep(0.005)  # the reader is inside a (slow) database read
    source.phase, clock[0] = Phase.ACKED, clock[0] + 60
    await writer.current()  # a newer answer is published and drops the item it has
    held = (await reading)["1"]
    assert held is not None and held.current_phase is Phase.ACKED
