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
