"""The on-call watch through its ports (in memory) with injected clocks: handoffs only on a change, to the feeds
that want them; user groups set to the linked people on call; one VictorOps read shared by every watcher; the run
loop's interval and coalesced nudges. The handoff message is drawn here too (pure)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.feed import Feed
from bot.core.oncall import STALE, GroupRefused, Handoff, OnCallWatch, Seen, SharedOnCall
from bot.slack.handoff import handoff_message
from bot.slack.names import Names
from bot.victorops.models import Incident, Named, PagedPolicy, Phase
from tests.feed_memory import MemoryFeedStore
from tests.memory import MemorySnapshots, MemoryVictorOps
from tests.oncall_memory import (
    FixedIncidents,
    FixedPeople,
    MemorySeen,
    RecordingGroups,
    RecordingHandoffs,
    team_oncall,
)

OPS, DB = "team-OpsOpsOpsOpsOpsO", "team-DbDbDbDbDbDbDbDb"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def ops_incident(number: str, phase: Phase = Phase.UNACKED, minutes: int = 0) -> Incident:
    paged = [PagedPolicy(policy=Named(name="Ops Primary", slug=OPS), team=Named(name="Ops", slug=OPS))]
    return Incident(
        incident_number=number,
        current_phase=phase,
        start_time=START + timedelta(minutes=minutes),
        entity_display_name=f"problem {number}",
        paged_policies=paged,
    )


async def until(done: Callable[[], bool]) -> None:
    for _ in range(1000):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Stack:
    def __init__(self, *feeds: Feed, groups: dict[str, str] | None = None, interval: float = 60.0) -> None:
        self.clock = Clock()
        self.vo = MemoryVictorOps()
        self.vo.oncall = [team_oncall("Ops", OPS, "heidi"), team_oncall("Database", DB, "dave")]
        self.snapshots = MemorySnapshots()
        self.seen = MemorySeen()
        self.feeds = MemoryFeedStore(*feeds)
        self.incidents = FixedIncidents(
            ops_incident("1", minutes=5), ops_incident("2", Phase.ACKED, minutes=1), ops_incident("3", minutes=9),
            ops_incident("4", minutes=3), ops_incident("5", Phase.RESOLVED),
        )  # fmt: skip
        self.people = FixedPeople({"ivan.petrov": "U0IVAN", "dave": "U0DAVE", "frank": "U0FRANK"})
        self.slack = RecordingHandoffs()
        self.groups = RecordingGroups()
        self.oncall_groups = groups or {}
        self.interval = interval
        self.watch = self.replica()

    def replica(self) -> OnCallWatch:
        """Another watch over the same database and VictorOps: a second replica."""
        shared = SharedOnCall(self.vo.oncall_now, self.snapshots, wall_clock=self.clock)
        return OnCallWatch(
            shared, self.seen, self.feeds, self.incidents, self.people, self.slack, self.groups,
            oncall_groups=self.oncall_groups, interval=self.interval,
        )  # fmt: skip

    def rotate(self, ops: tuple[str, ...], db: tuple[str, ...] = ("dave",)) -> None:
        self.vo.oncall = [team_oncall("Ops", OPS, *ops), team_oncall("Database", DB, *db)]
        self.clock.now += self.interval

    def reads(self) -> int:
        return self.vo.calls.count(("oncall",))


HANDOFF = Feed("C0OPS", teams=("ops",), handoff=True)  # the team by name, case aside


async def test_first_sight_posts_nothing_then_a_change_posts_one_handoff_naming_both() -> None:
    stack = Stack(HANDOFF, Feed("C0QUIET", teams=("Ops",)), Feed("C0DB", teams=(DB,), handoff=True))
    assert await stack.watch.check() == []
    assert stack.slack.posted == []
    stack.rotate(("ivan.petrov",))
    [handoff] = await stack.watch.check()
    assert (handoff.on, handoff.was) == (("ivan.petrov",), ("heidi",))
    assert [n.incident_number for n in handoff.open] == ["1", "2", "3", "4"]  # open only, and only Ops
    assert stack.slack.posted == [("C0OPS", handoff)]  # not the feed without handoff, not Database's
    assert await stack.watch.check() == []  # nothing new


async def test_the_same_people_coming_back_on_call_is_a_new_handoff_each_time() -> None:
    """A rotation repeats itself: a handoff this replica posted before says nothing about the next one."""
    stack = Stack(HANDOFF)
    other = stack.replica()
    await stack.watch.check()
    for on, watch in ((("ivan.petrov",), stack.watch), (("heidi",), other), (("ivan.petrov",), stack.watch)):
        stack.rotate(on)
        [handoff] = await watch.check()
        assert handoff.on == on
    assert [h.on for _, h in stack.slack.posted] == [("ivan.petrov",), ("heidi",), ("ivan.petrov",)]


async def test_a_replica_that_loses_the_compare_and_set_posts_nothing() -> None:
    stack = Stack(HANDOFF)
    other = stack.replica()
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    handled = await asyncio.gather(stack.watch.check(), other.check())
    assert sorted(len(h) for h in handled) == [0, 1]
    assert len(stack.slack.posted) == 1
    assert stack.reads() == 2  # one read per interval for both replicas


async def test_an_older_answer_never_takes_the_team_back() -> None:
    stack = Stack(HANDOFF)
    await stack.watch.check()
    seen = stack.seen.rows[OPS]
    assert not await stack.seen.claim(OPS, seen.users, '["someone"]', seen.asked_at - 1, None)
    assert not await stack.seen.claim(OPS, '["nobody"]', '["someone"]', seen.asked_at + 1, None)


def test_the_handoff_message_mentions_the_linked_names_the_others_and_shows_the_oldest_three() -> None:
    team = Named(name="Ops <core>", slug=OPS)
    opened = (ops_incident("1", minutes=5), ops_incident("2", Phase.ACKED, minutes=1), ops_incident("3", minutes=9),
              ops_incident("4", minutes=3))  # fmt: skip
    handoff = Handoff(team, ("ivan.petrov", "judy"), ("heidi",), opened)
    names = Names(slack_ids={"ivan.petrov": "U0IVAN"}, full_names={"heidi": "Heidi Schmidt", "judy": "Judy *A*"})
    text, blocks = handoff_message(handoff, names, "/vo")
    assert text.startswith("On call for *Ops &lt;core&gt;*: <@U0IVAN> and Judy *A* (was Heidi Schmidt)")
    assert f"3 triggered, 1 acknowledged (`/vo list team:{OPS}` shows all). The oldest 3:" in text
    shown = [b["block_id"] for b in blocks if b.get("block_id", "").endswith("-actions")]
    assert shown == ["inc-2-actions", "inc-4-actions", "inc-1-actions"]  # oldest first, with their buttons
    quiet, _ = handoff_message(Handoff(team, (), ("heidi",), ()), names, "/vo")
    assert quiet == "On call for *Ops &lt;core&gt;*: nobody (was Heidi Schmidt). Nothing open for *Ops &lt;core&gt;*."


async def test_groups_get_the_linked_people_only_and_the_unlinked_are_reported() -> None:
    stack = Stack(groups={OPS: "S0OPS", DB: "S0DB"})
    await stack.watch.check()  # first sight: groups in step; heidi is not linked
    assert stack.groups.calls == [("S0DB", ("U0DAVE",))]
    stack.rotate(("ivan.petrov", "heidi", "judy"))
    await stack.watch.check()
    assert stack.groups.members["S0OPS"] == ("U0IVAN",)
    reports = {r.group: r for r in await stack.watch.reports(stack.vo.oncall, {"ivan.petrov", "dave"})}
    assert reports["S0OPS"].unlinked == ("heidi", "judy") and reports["S0OPS"].problem is None
    assert reports["S0DB"].unlinked == () and reports["S0DB"].team == "Database"


async def test_an_empty_on_call_leaves_the_group_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    stack = Stack(groups={OPS: "S0OPS"})
    stack.vo.oncall = [team_oncall("Ops", OPS, "ivan.petrov")]
    await stack.watch.check()
    caplog.set_level(logging.WARNING)
    stack.rotate(())
    await stack.watch.check()
    stack.clock.now += stack.interval
    await stack.watch.check()
    assert stack.groups.calls == [("S0OPS", ("U0IVAN",))]  # never emptied (Slack refuses an empty group)
    assert [r.getMessage() for r in caplog.records] == [
        "user group S0OPS left as it is: nobody is on call for Ops"
    ]  # fmt: skip
    [report] = await stack.watch.reports(stack.vo.oncall, set())
    assert report.problem == "nobody_on_call"


async def test_a_refused_group_is_reported_and_tried_again_at_the_next_read() -> None:
    stack = Stack(groups={DB: "S0DB", "team-Unknown": "S0GONE"})
    stack.groups.refuse.append(GroupRefused("user groups need a paid Slack plan"))
    await stack.watch.check()
    reports = {r.group: r for r in await stack.watch.reports(stack.vo.oncall, {"dave"})}
    assert reports["S0DB"].problem == "refused" and reports["S0DB"].refusal == "user groups need a paid Slack plan"
    assert reports["S0GONE"].problem == "no_team"
    stack.clock.now += stack.interval
    await stack.watch.check()  # nothing changed in VictorOps, but the failed update is tried again
    assert stack.groups.members == {"S0DB": ("U0DAVE",)}
    [report] = [r for r in await stack.watch.reports(stack.vo.oncall, {"dave"}) if r.group == "S0DB"]
    assert report.problem is None


async def test_a_refused_channel_is_held_and_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    stack = Stack(HANDOFF)
    stack.slack.refuse["C0OPS"] = "vobot is not in #ops"
    await stack.watch.check()
    caplog.set_level(logging.WARNING)
    for ops in (("ivan.petrov",), ("judy",)):
        stack.rotate(ops)
        await stack.watch.check()
    assert stack.slack.posted == []
    assert [r.getMessage() for r in caplog.records] == ["handoff not posted to C0OPS: vobot is not in #ops"]


async def test_three_watchers_share_one_read_per_interval() -> None:
    stack = Stack()
    replicas = [stack.watch, stack.replica(), stack.replica()]
    for _ in range(10):  # ten intervals, each replica reading at its own moment in them
        for offset, replica in zip((0.0, 20.0, 40.0), replicas, strict=True):
            stack.clock.now += 20.0 if offset else 0.0
            await replica.check()
        stack.clock.now += 20.0
    assert stack.reads() == 10  # the first replica of each interval reads; the other two take its answer


async def test_the_run_loop_reads_every_interval_and_coalesces_nudges() -> None:
    stack = Stack(HANDOFF)
    slept: list[float] = []
    go = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await go.wait()
        go.clear()
        stack.clock.now += seconds

    watch = OnCallWatch(
        SharedOnCall(stack.vo.oncall_now, stack.snapshots, wall_clock=stack.clock), stack.seen, stack.feeds,
        stack.incidents, stack.people, stack.slack, stack.groups, oncall_groups={}, interval=60.0, sleep=sleep,
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(watch.run(stop))
    await asyncio.sleep(0)
    go.set()  # the interval passes: the first read
    await until(lambda: stack.reads() == 1)
    stack.clock.now += 1.0
    stack.vo.oncall = [team_oncall("Ops", OPS, "ivan.petrov")]
    watch.nudge()
    watch.nudge()  # a burst of webhooks
    await until(lambda: len(slept) == 3)
    assert slept == [60.0, 60.0, watch.gap - 1.0]  # nudged reads keep the gap after the last answer
    go.set()
    await until(lambda: bool(stack.slack.posted))
    assert stack.reads() == 2  # the two nudges read once, newer than the nudge though the last read is fresh
    stop.set()
    go.set()
    await running


async def test_a_new_link_brings_the_group_in_step_without_an_on_call_change() -> None:
    stack = Stack(groups={OPS: "S0OPS"})
    stack.vo.oncall = [team_oncall("Ops", OPS, "ivan.petrov", "heidi")]
    await stack.watch.check()
    assert stack.groups.members == {"S0OPS": ("U0IVAN",)}
    stack.people.links["heidi"] = "U0HEIDI"  # heidi links while on call
    stack.clock.now += stack.interval
    assert await stack.watch.check() == []
    assert stack.groups.members == {"S0OPS": ("U0IVAN", "U0HEIDI")}
    stack.clock.now += stack.interval
    await stack.replica().check()  # another replica, or a restart: nothing to do
    assert len(stack.groups.calls) == 2


async def test_a_group_added_to_the_file_later_is_set_at_the_next_read() -> None:
    stack = Stack()
    await stack.watch.check()  # teams seen, no groups yet
    stack.oncall_groups = {DB: "S0DB"}
    stack.clock.now += stack.interval
    await stack.replica().check()  # restarted with the new file
    assert stack.groups.members == {"S0DB": ("U0DAVE",)}


async def test_a_post_that_times_out_gives_the_claim_back_and_the_next_read_posts_it() -> None:
    stack = Stack(HANDOFF, Feed("C0OPS2", teams=(OPS,), handoff=True))
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    stack.slack.fail.add("C0OPS2")
    assert await stack.watch.check() == []
    assert stack.seen.rows[OPS].users == '["heidi"]'  # given back
    assert [c for c, _ in stack.slack.posted] == ["C0OPS"]
    stack.clock.now += stack.interval
    [handoff] = await stack.watch.check()
    assert handoff.was == ("heidi",)
    assert [c for c, _ in stack.slack.posted] == ["C0OPS", "C0OPS2"]  # not twice in the channel that got it
    assert stack.seen.rows[OPS] == Seen('["ivan.petrov"]', stack.clock.now)  # done: no longer pending


async def test_a_database_error_building_the_summary_gives_the_claim_back() -> None:
    stack = Stack(HANDOFF)
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    stack.incidents.fail = True
    assert await stack.watch.check() == []
    assert stack.seen.rows[OPS].users == '["heidi"]'
    stack.incidents.fail = False
    stack.clock.now += stack.interval
    other = stack.replica()  # any replica redoes it
    assert [h.was for h in await other.check()] == [("heidi",)]
    assert len(stack.slack.posted) == 1


async def test_a_group_update_that_times_out_is_reported_on_every_replica_and_redone() -> None:
    stack = Stack(groups={DB: "S0DB"})
    stack.groups.refuse.append(TimeoutError("no answer"))
    await stack.watch.check()
    [report] = await stack.replica().reports(stack.vo.oncall, {"dave"})  # a replica that never tried
    assert report.problem == "refused" and report.refusal == "Slack did not answer"
    stack.clock.now += stack.interval
    await stack.replica().check()
    assert stack.groups.members == {"S0DB": ("U0DAVE",)}
    [report] = await stack.watch.reports(stack.vo.oncall, {"dave"})
    assert report.problem is None


async def test_an_older_answer_held_by_a_replica_never_takes_the_team_back() -> None:
    stack = Stack(HANDOFF)
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    await stack.watch.check()
    late = Clock()
    late.now = stack.clock.now - 30.0  # a replica whose answer is older than the one recorded
    stack.vo.oncall = [team_oncall("Ops", OPS, "heidi"), team_oncall("Database", DB, "dave")]
    behind = OnCallWatch(
        SharedOnCall(stack.vo.oncall_now, None, wall_clock=late), stack.seen, stack.feeds, stack.incidents,
        stack.people, stack.slack, stack.groups, oncall_groups={}, interval=60.0,
    )  # fmt: skip
    assert await behind.check() == []
    assert stack.seen.rows[OPS].users == '["ivan.petrov"]'
    assert len(stack.slack.posted) == 1


async def test_a_storm_of_nudges_on_three_replicas_reads_once_per_gap() -> None:
    stack = Stack(HANDOFF, interval=0.0)
    replicas = [stack.watch, stack.replica(), stack.replica()]
    for _ in range(60):  # five minutes, every replica nudged every five seconds
        stack.clock.now += 5.0
        for replica in replicas:
            await replica.check(replica.nudged_after(stack.clock.now - 1.0), max_age=math.inf)
    assert stack.reads() == 5  # at 5, 65, 125, 185 and 245 s
    assert replicas[0].gap >= 60.0  # oncall/current is once a minute in the oldest spec


async def test_a_team_gone_from_the_answer_is_nobody_on_call_and_its_group_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = Stack(HANDOFF, groups={OPS: "S0OPS"})
    stack.vo.oncall = [team_oncall("Ops", OPS, "ivan.petrov"), team_oncall("Database", DB, "dave")]
    await stack.watch.check()
    caplog.set_level(logging.WARNING)
    stack.vo.oncall = [team_oncall("Database", DB, "dave")]  # VictorOps omits a team with nobody on call
    stack.clock.now += stack.interval
    [handoff] = await stack.watch.check()
    assert (handoff.on, handoff.was) == ((), ("ivan.petrov",))
    text, _ = handoff_message(handoff, Names(), "/vo")
    assert text.startswith("On call for *Ops*: nobody (was ivan.petrov)")
    assert stack.groups.calls == [("S0OPS", ("U0IVAN",))]  # left as it is
    assert "user group S0OPS left as it is: nobody is on call for Ops" in caplog.messages
    stack.clock.now += stack.interval
    assert await stack.replica().check() == []  # nobody still: nothing more
    [report] = await stack.watch.reports(stack.vo.oncall, set())
    assert report.problem == "nobody_on_call"


async def test_open_incidents_never_read_are_not_known_yet_rather_than_nothing_open() -> None:
    stack = Stack(HANDOFF)
    stack.incidents.incidents, stack.incidents.read = [], None
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    [handoff] = await stack.watch.check()
    assert handoff.open is None
    text, _ = handoff_message(handoff, Names(), "/vo")
    assert text.endswith("Open incidents for *Ops* not known yet.")


async def test_stop_ends_the_loop_during_a_nudge_s_wait() -> None:
    stack = Stack(HANDOFF)
    forever = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await forever.wait()

    watch = OnCallWatch(
        SharedOnCall(stack.vo.oncall_now, stack.snapshots, wall_clock=stack.clock), stack.seen, stack.feeds,
        stack.incidents, stack.people, stack.slack, stack.groups, oncall_groups={}, interval=60.0, sleep=sleep,
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(watch.run(stop))
    watch.nudge()
    for _ in range(10):
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(running, 1.0)
    assert stack.reads() == 0


def test_a_big_rotation_is_clipped_to_fit_a_section() -> None:
    on = tuple(f"user.number.{n:03}" for n in range(300))
    _, blocks = handoff_message(Handoff(Named(name="Ops", slug=OPS), on, on, ()), Names(), "/vo")
    line = blocks[0]["text"]["text"]
    assert len(line) <= 3000 and " more (was " in line and line.endswith(" more)")


async def test_nothing_watching_who_is_on_call_reads_nothing() -> None:
    stack = Stack(Feed("C0QUIET", teams=("Ops",)))
    watch = OnCallWatch(
        SharedOnCall(stack.vo.oncall_now, stack.snapshots, wall_clock=stack.clock), stack.seen, stack.feeds,
        stack.incidents, stack.people, stack.slack, stack.groups, oncall_groups={}, interval=60.0, watching=False,
    )  # fmt: skip
    watch.nudge()
    await asyncio.wait_for(watch.run(asyncio.Event()), 1.0)  # returns at once: no loop at all
    assert stack.reads() == 0


async def test_a_replica_that_crashed_between_claim_and_post_is_taken_over_once_when_stale() -> None:
    stack = Stack(HANDOFF, groups={OPS: "S0OPS"})
    await stack.watch.check()
    stack.rotate(("ivan.petrov",))
    stack.slack.fail.add("C0OPS")  # stands in for the crash: the claim is made, the post never lands...
    crashed = stack.replica()
    stack.seen.give_back = no_give_back  # type: ignore[method-assign]  # ...and nothing is given back
    await crashed.check()
    assert stack.seen.rows[OPS].pending_at == stack.clock.now and stack.seen.rows[OPS].was == '["heidi"]'
    stack.clock.now += stack.interval
    assert await stack.replica().check() == []  # pending, but not stale yet: its replica may still post
    stack.clock.now += STALE
    replicas = [stack.replica(), stack.replica()]
    handled = [await r.check() for r in replicas]
    assert [[h.was for h in found] for found in handled] == [[("heidi",)], []]  # once, and it says who was
    assert [c for c, _ in stack.slack.posted] == ["C0OPS"]
    assert stack.seen.rows[OPS].pending_at is None
    assert stack.groups.members == {"S0OPS": ("U0IVAN",)}


async def no_give_back(key: str, took: Seen, back: Seen | None) -> None:
    return None
