"""FeedSync through in-memory ports: each incident's card posted once per channel, each forward change one edit
and one thread line, the backlog left alone, a storm rolled up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.core.actions import FROM_SLACK
from bot.core.feed import Feed
from bot.core.feeds import FeedSync, Moved, Rerouted, Rerouting, Rollup, moved
from bot.core.incidents import IncidentView
from bot.core.sender import ActionSender
from bot.victorops.models import Incident, Phase, Target, Transition
from tests.fakes import queued
from tests.feed_memory import MemoryCardStore, MemoryFeedStore, MemoryRollups, RecordingPoster, refused
from tests.memory import MemoryVictorOps

CREATED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # when the feeds were made
LATER = CREATED + timedelta(minutes=5, seconds=1)


def incident(
    number: str, phase: Phase = Phase.UNACKED, *, start: datetime = LATER, route: str = "db", message: str = ""
) -> Incident:
    transitions = [Transition(name="UNACKED", at=start)]
    if phase is not Phase.UNACKED:
        transitions.append(Transition(name=phase.value, at=start + timedelta(minutes=1), by="heidi", message=message))
    return Incident(
        incident_number=number, current_phase=phase, start_time=start, routing_key=route, transitions=transitions
    )


class Stack:
    def __init__(self, *feeds: Feed) -> None:
        self.now = LATER
        self.feeds = MemoryFeedStore(*(feeds or (Feed("C1"),)), now=CREATED)
        self.cards = MemoryCardStore()
        self.rollups = MemoryRollups()
        self.slack = RecordingPoster()
        self.sync = self.replica()

    def replica(self) -> FeedSync:
        """Another FeedSync over the same stores: a second replica, or this one after a restart."""
        return FeedSync(self.feeds, self.cards, self.rollups, self.slack, now=lambda: self.now, rollup_every=0.001)


async def test_a_new_incident_is_posted_once_whoever_sees_it() -> None:
    stack = Stack()
    await stack.sync.reconcile([incident("7")])
    await stack.sync.reconcile([incident("7")])  # the poll sees it too
    await stack.replica().reconcile([incident("7")])  # and another replica
    assert [(s.channel, s.what.incident_number) for s in stack.slack.of("post")] == [("C1", "7")]  # type: ignore[attr-defined]
    assert stack.cards.rows["7", "C1"].ts == stack.slack.of("post")[0].ts


async def test_the_backlog_is_not_posted() -> None:
    stack = Stack()
    old = incident("3", start=CREATED - timedelta(seconds=1))
    unknown_start = Incident(incident_number="4", current_phase=Phase.UNACKED)
    await stack.sync.reconcile([old, unknown_start, incident("5")])
    assert [s.what.incident_number for s in stack.slack.of("post")] == ["5"]  # type: ignore[attr-defined]


async def test_only_matching_feeds_get_the_card() -> None:
    stack = Stack(Feed("CDB", routes=("db",)), Feed("CWEB", routes=("web",)), Feed("CALL"))
    await stack.sync.reconcile([incident("8", route="db")])
    assert sorted(s.channel for s in stack.slack.of("post")) == ["CALL", "CDB"]


async def test_each_forward_change_edits_once_and_adds_one_thread_line() -> None:
    stack = Stack()
    await stack.sync.reconcile([incident("7")])
    acked = incident("7", Phase.ACKED)
    await stack.sync.reconcile([acked])
    await stack.replica().reconcile([acked])  # the same change seen again, elsewhere
    resolved = incident("7", Phase.RESOLVED, message=f"Resolved {FROM_SLACK}bob")
    await stack.sync.reconcile([resolved])
    ts = stack.slack.of("post")[0].ts
    assert [(s.ts, s.what.current_phase) for s in stack.slack.of("update")] == [  # type: ignore[attr-defined]
        (ts, Phase.ACKED),
        (ts, Phase.RESOLVED),
    ]
    assert [s.what for s in stack.slack.of("thread")] == [
        Moved(Phase.ACKED, "heidi", from_slack=False),
        Moved(Phase.RESOLVED, "heidi", from_slack=True),
    ]


async def test_a_late_older_event_changes_nothing() -> None:
    stack = Stack()
    await stack.sync.reconcile([incident("7")])
    await stack.sync.reconcile([incident("7", Phase.RESOLVED)])
    await stack.sync.reconcile([incident("7", Phase.ACKED)])  # delivered late
    await stack.sync.reconcile([incident("7")])
    assert [s.what.current_phase for s in stack.slack.of("update")] == [Phase.RESOLVED]  # type: ignore[attr-defined]
    assert len(stack.slack.of("thread")) == 1


async def test_a_failed_post_is_tried_again_later() -> None:
    stack = Stack()
    stack.slack.fail_next.append(RuntimeError("slack is down"))
    await stack.sync.reconcile([incident("7")])
    assert stack.slack.of("post") == [] and ("7", "C1") not in stack.cards.rows
    await stack.sync.reconcile([incident("7")])
    assert len(stack.slack.of("post")) == 1


async def test_a_refused_channel_is_held_and_the_others_still_get_cards() -> None:
    stack = Stack(Feed("C1"), Feed("C2"))
    stack.slack.fail_next.append(refused("C1"))  # C1 goes first (by channel)
    await stack.sync.reconcile([incident("7")])
    await stack.sync.reconcile([incident("8")])
    assert [(s.channel, s.what.incident_number) for s in stack.slack.of("post")] == [  # type: ignore[attr-defined]
        ("C2", "7"),
        ("C2", "8"),
    ]
    assert stack.sync.refusals.held("C1") is not None
    assert ("7", "C1") not in stack.cards.rows  # released: posted once the hold ends


async def test_a_reroute_from_slack_adds_its_line() -> None:
    stack = Stack()
    await stack.sync.reconcile([incident("7")])
    targets = (Target(type="EscalationPolicy", slug="ops"),)
    await stack.sync.rerouted(["7", "99"], "U1", targets)
    assert [s.what for s in stack.slack.of("thread")] == [Rerouted("U1", targets)]


async def test_a_storm_posts_the_limit_and_rolls_up_the_rest() -> None:
    stack = Stack(Feed("C1", routes=("db",), max_cards_per_minute=5))
    stack.now = CREATED.replace(minute=10)  # 40 incidents within 10 s of one minute
    for n in range(40):
        stack.now += timedelta(seconds=0.25)
        await stack.sync.reconcile([incident(str(200 + n), start=stack.now)])
    await stack.sync.drain()
    assert [s.what.incident_number for s in stack.slack.of("post")] == ["200", "201", "202", "203", "204"]  # type: ignore[attr-defined]
    rollups = stack.slack.of("rollup")
    assert len({s.ts for s in rollups}) == 1  # one message, edited as more arrived
    last = rollups[-1].what
    assert isinstance(last, Rollup) and last.numbers == tuple(str(n) for n in range(205, 240))
    assert stack.rollups.rows["C1", last.minute][1] == rollups[0].ts


async def test_a_rolled_up_incidents_claim_is_kept_from_going_stale() -> None:
    stack = Stack(Feed("C1", max_cards_per_minute=1))
    await stack.sync.reconcile([incident(str(n), start=stack.now) for n in (300, 301, 302)])
    await stack.sync.drain()
    assert stack.cards.rolled_up_claims == {("301", "C1"), ("302", "C1")}  # never taken over and posted as a card


async def test_the_feeds_are_read_once_per_burst() -> None:
    stack = Stack()
    for n in range(5):
        await stack.sync.reconcile([incident(str(n))])
    assert stack.feeds.reads == 1


class Noticed:
    """The live feed as the action sender sees it."""

    def __init__(self) -> None:
        self.incidents: list[Incident] = []
        self.rerouted: list[Rerouting] = []

    def noticed(self, incidents: Sequence[Incident] = (), rerouted: Rerouting | None = None) -> None:
        self.incidents.extend(incidents)
        if rerouted is not None:
            self.rerouted.append(rerouted)


async def test_the_sender_tells_the_feed_what_it_changed_from_slack() -> None:
    vo = MemoryVictorOps(incident("7"), incident("8"))
    feed = Noticed()
    sender = ActionSender(vo, IncidentView(vo), feed=feed)
    await sender.send([queued("ack", "7", user="heidi")])
    [acked] = feed.incidents
    assert acked.incident_number == "7" and moved(acked) == Moved(Phase.ACKED, "heidi", from_slack=True)
    targets = [{"type": "EscalationPolicy", "slug": "ops"}]
    await sender.send([queued("reroute", "8", payload={"targets": targets}, user="heidi")])
    assert feed.rerouted == [Rerouting(("8",), "U0HEIDI", (Target(type="EscalationPolicy", slug="ops"),))]
