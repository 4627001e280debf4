"""The last on-call seen per team and the shared on-call answer, on SQLite and Postgres: the compare-and-set lets
one replica handle a change, and watchers on one database spend one VictorOps read per interval."""

from __future__ import annotations

import asyncio

from bot.core.feed import Feed
from bot.core.oncall import OnCallWatch, Seen, SharedOnCall
from bot.store.db import Database
from bot.store.oncall import OnCallSeen
from bot.store.snapshots import Snapshots
from tests.feed_memory import MemoryFeedStore
from tests.memory import MemoryVictorOps
from tests.oncall_memory import FixedIncidents, FixedPeople, RecordingGroups, RecordingHandoffs, team_oncall

OPS = "team-OpsOpsOpsOpsOpsO"


async def test_the_compare_and_set_decides_once(database: Database) -> None:
    replicas = [OnCallSeen(database) for _ in range(4)]
    first = await asyncio.gather(*(r.claim(OPS, None, '["heidi"]', 10.0, None) for r in replicas))
    assert sorted(first) == [False, False, False, True]
    moved = await asyncio.gather(*(r.claim(OPS, '["heidi"]', '["ivan"]', 20.0, 20.0) for r in replicas))
    assert sorted(moved) == [False, False, False, True]
    assert not await replicas[0].claim(OPS, '["ivan"]', '["heidi"]', 15.0, 15.0)  # an older answer never wins
    assert (await replicas[1].all())[OPS] == Seen('["ivan"]', 20.0, '["heidi"]', 20.0)  # pending, with its "was"


async def test_a_claim_is_given_back_only_while_the_row_holds_what_this_replica_wrote(database: Database) -> None:
    mine, other = OnCallSeen(database), OnCallSeen(database)
    assert await mine.claim(OPS, None, '["heidi"]', 10.0, None)
    assert await mine.claim(OPS, '["heidi"]', '["ivan"]', 20.0, 21.0)
    took = Seen('["ivan"]', 20.0, '["heidi"]', 21.0)
    await mine.give_back(OPS, took, Seen('["heidi"]', 20.0))  # the post failed: redo it
    assert (await other.all())[OPS] == Seen('["heidi"]', 20.0)
    assert await other.claim(OPS, '["heidi"]', '["ivan"]', 20.0, 22.0)  # the next read, on any replica, redoes it
    await mine.give_back(OPS, took, Seen('["heidi"]', 20.0))  # too late: claimed again meanwhile
    assert (await other.all())[OPS].pending_at == 22.0
    await other.done(OPS, Seen('["ivan"]', 20.0, '["heidi"]', 22.0))
    assert (await mine.all())[OPS] == Seen('["ivan"]', 20.0)
    assert await mine.claim("S0OPS", None, "{}", 10.0, 10.0)
    await mine.give_back("S0OPS", Seen("{}", 10.0, None, 10.0), None)  # a first sight given back leaves no row
    assert "S0OPS" not in await other.all()


async def test_a_stale_pending_claim_is_taken_over_by_one_replica(database: Database) -> None:
    replicas = [OnCallSeen(database) for _ in range(4)]
    assert await replicas[0].claim(OPS, None, '["heidi"]', 10.0, None)
    assert await replicas[0].claim(OPS, '["heidi"]', '["ivan"]', 20.0, 20.0)  # ... and that replica dies
    held = (await replicas[1].all())[OPS]
    won = await asyncio.gather(*(r.retake(OPS, held, 400.0) for r in replicas[1:]))
    assert sorted(won) == [False, False, True]
    assert not await replicas[0].retake(OPS, held, 401.0)  # the row moved on: what was read is gone
    assert (await replicas[0].all())[OPS] == Seen('["ivan"]', 20.0, '["heidi"]', 400.0)


async def together(database: Database, replicas: list[OnCallWatch]) -> None:
    """Every replica reads: at once on Postgres (its advisory lock orders them); one after another on SQLite,
    which serves one process, and so one watch."""
    if database.url.get_backend_name() == "postgresql":
        await asyncio.gather(*(r.check() for r in replicas))
    else:
        for replica in replicas:
            await replica.check()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def watchers(database: Database, vo: MemoryVictorOps, clock: Clock, count: int) -> tuple[
    list[OnCallWatch], RecordingHandoffs, RecordingGroups
]:  # fmt: skip
    feeds = MemoryFeedStore(Feed("C0OPS", teams=("Ops",), handoff=True))
    slack, groups = RecordingHandoffs(), RecordingGroups()
    people = FixedPeople({"ivan": "U0IVAN", "heidi": "U0HEIDI"})

    def replica() -> OnCallWatch:
        shared = SharedOnCall(vo.oncall_now, Snapshots(database), wall_clock=clock)
        return OnCallWatch(
            shared, OnCallSeen(database), feeds, FixedIncidents(), people, slack, groups,
            oncall_groups={OPS: "S0OPS"}, interval=60.0,
        )  # fmt: skip

    return [replica() for _ in range(count)], slack, groups


async def test_two_replicas_seeing_one_change_post_one_handoff_and_update_the_group_once(database: Database) -> None:
    clock, vo = Clock(), MemoryVictorOps()
    vo.oncall = [team_oncall("Ops", OPS, "heidi")]
    replicas, slack, groups = watchers(database, vo, clock, 2)
    await together(database, replicas)
    assert groups.calls == [("S0OPS", ("U0HEIDI",))]  # first sight: in step, no post
    vo.oncall = [team_oncall("Ops", OPS, "ivan")]
    clock.now += 60.0
    await together(database, replicas)
    assert [(channel, h.on, h.was) for channel, h in slack.posted] == [("C0OPS", ("ivan",), ("heidi",))]
    assert groups.calls[1:] == [("S0OPS", ("U0IVAN",))]
    assert vo.calls.count(("oncall",)) == 2  # one read per interval for both


async def test_watchers_on_one_database_read_once_per_interval(database: Database) -> None:
    clock, vo = Clock(), MemoryVictorOps()
    vo.oncall = [team_oncall("Ops", OPS, "heidi")]
    replicas, _, _ = watchers(database, vo, clock, 3)
    for _ in range(5):
        await together(database, replicas)
        clock.now += 60.0
    assert vo.calls.count(("oncall",)) == 5
