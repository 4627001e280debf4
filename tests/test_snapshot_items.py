"""The shared incident view keeps a change's cost to the incidents it changed: a webhook's merge (or our own
write) stores those incidents as items of their own instead of rewriting the whole snapshot, every replica reads
them folded onto the snapshot, and the next answer of VictorOps drops the items it already has. In memory
(the core's port) and on SQLite and Postgres, where the statements and bytes one merge costs are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from bot.core.incidents import CLOCK_SKEW, SNAPSHOT, IncidentView
from bot.store.db import Database
from bot.store.snapshots import Snapshots
from bot.victorops.models import Incident, Phase, Transition
from tests.fakes import FakeClock
from tests.memory import MemorySnapshots

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def incident(number: int, phase: Phase = Phase.UNACKED) -> Incident:
    at = START + timedelta(minutes=list(Phase).index(phase))
    transitions = [Transition(name=phase.value, at=at, by=None if phase is Phase.UNACKED else "alice")]
    return Incident(incident_number=str(number), current_phase=phase, transitions=transitions, start_time=START)


class Listed:
    def __init__(self, count: int) -> None:
        self.incidents = [incident(n) for n in range(1, count + 1)]
        self.calls = 0

    async def list_incidents(self) -> list[Incident]:
        self.calls += 1
        return list(self.incidents)


async def test_a_merge_stores_its_incident_alone_and_every_replica_sees_it() -> None:
    snapshots, source, wall = MemorySnapshots(), Listed(3), FakeClock()
    one, two = (IncidentView(source, snapshots=snapshots, wall_clock=wall) for _ in range(2))
    await one.all()
    listed = snapshots.rows[SNAPSHOT]
    [merged] = await one.merge([incident(2, Phase.ACKED)])
    assert merged.current_phase is Phase.ACKED
    assert snapshots.rows[SNAPSHOT] == listed  # the snapshot itself is not rewritten
    assert set(await snapshots.items(SNAPSHOT)) == {"2"}
    assert {n: i and i.current_phase for n, i in (await two.held(["1", "2"])).items()} == {
        "1": Phase.UNACKED,
        "2": Phase.ACKED,
    }
    assert await two.merge([incident(2)]) == []  # a late webhook on the other replica: old news, nothing stored
    assert (await snapshots.items(SNAPSHOT))["2"] == merged.model_dump_json(by_alias=True)
    await two.put([incident(3, Phase.RESOLVED)])  # our own write, recorded the same way
    assert set(await snapshots.items(SNAPSHOT)) == {"2", "3"} and snapshots.rows[SNAPSHOT] == listed
    assert source.calls == 1


async def test_a_new_answer_drops_the_items_it_has_and_keeps_later_ones() -> None:
    snapshots, source, wall = MemorySnapshots(), Listed(2), FakeClock()
    view = IncidentView(source, snapshots=snapshots, wall_clock=wall)
    await view.all()
    await view.merge([incident(1, Phase.ACKED)])
    source.incidents[0] = incident(1, Phase.ACKED)  # VictorOps has the ack when asked next
    wall.now += CLOCK_SKEW + 1  # asked for well after the item was stored (replicas' clocks may differ a little)
    await view.current()  # a fresh answer, published for every replica
    assert await snapshots.items(SNAPSHOT) == {}
    await view.merge([incident(2, Phase.ACKED)])  # stored after that answer was asked for: kept
    wall.now += 1
    assert set(await snapshots.items(SNAPSHOT)) == {"2"}
    other = IncidentView(source, snapshots=snapshots, wall_clock=wall)
    assert {i.incident_number: i.current_phase for i in await other.latest()} == {"1": Phase.ACKED, "2": Phase.ACKED}


async def test_items_before_any_snapshot_are_shared_too() -> None:
    snapshots, wall = MemorySnapshots(), FakeClock()
    one, two = (IncidentView(Listed(0), snapshots=snapshots, wall_clock=wall) for _ in range(2))
    await one.merge([incident(9)])  # a webhook before anyone listed
    assert [i.incident_number for i in await two.latest()] == ["9"]


async def test_the_store_keeps_items_beside_the_snapshot(database: Database) -> None:
    store = Snapshots(database)
    await store.put(SNAPSHOT, 10.0, "[all]")
    await store.put_items(SNAPSHOT, 11.0, {"1": "one", "2": "two"})
    await store.put_items(SNAPSHOT, 13.0, {"2": "two again"})
    await store.put_items("incidents_other", 11.0, {"1": "elsewhere"})  # another snapshot's items are its own
    assert await store.get(SNAPSHOT) == (10.0, "[all]")
    assert await store.items(SNAPSHOT) == {"1": "one", "2": "two again"}
    assert await store.items(SNAPSHOT, ["2", "404"]) == {"2": "two again"}
    await store.drop_items(SNAPSHOT, 12.0)
    assert await store.items(SNAPSHOT) == {"2": "two again"}
    assert await store.items("incidents_other") == {"1": "elsewhere"}
    assert await store.get(SNAPSHOT) == (10.0, "[all]")


class Written:
    """Statements a database runs, and the bytes of their parameters (what a write sends)."""

    def __init__(self, db: Database) -> None:
        self.statements, self.bytes = 0, 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "snapshots" in statement:  # not a new connection's own set-up queries
            self.statements += 1
            self.bytes += len(repr(parameters))


async def merge_cost(db: Database, count: int, wall: FakeClock) -> tuple[int, int]:
    view = IncidentView(Listed(count), snapshots=Snapshots(db), wall_clock=wall)
    await view.invalidate()  # this view lists VictorOps itself: the snapshot holds its `count` incidents
    await view.all()
    written = Written(db)
    assert await view.merge([incident(1, Phase.ACKED)])
    return written.statements, written.bytes


async def test_a_merge_costs_the_same_with_2000_open_incidents_as_with_10(database: Database) -> None:
    wall = FakeClock()
    few = await merge_cost(database, 10, wall)
    wall.now += CLOCK_SKEW + 1  # the second listing is asked for after the first merge: it drops that merge's item
    many = await merge_cost(database, 2000, wall)
    assert many[0] == few[0] <= 2  # read this incident's item, write it
    assert many[1] == few[1] < 2000  # one incident's JSON, never the snapshot's ~2,000


async def test_an_item_a_little_older_than_an_answer_is_kept_for_a_replica_whose_clock_is_behind() -> None:
    snapshots, source, wall = MemorySnapshots(), Listed(2), FakeClock()
    view = IncidentView(source, snapshots=snapshots, wall_clock=wall)
    await view.all()
    await view.merge([incident(1, Phase.ACKED)])  # stamped by a clock that may be behind the next asker's
    wall.now += CLOCK_SKEW - 1
    await view.current()  # VictorOps' answer may not have the ack: the item stays, folded forward
    assert set(await snapshots.items(SNAPSHOT)) == {"1"}
