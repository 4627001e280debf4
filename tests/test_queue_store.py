"""The action queue, the lease, the shared budget and the snapshots, on SQLite and Postgres.

Two replicas are two objects on one database here, and two real processes in the *_two_processes tests.
"""

import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.core.actions import Actor, click_key
from bot.core.outcomes import Verb
from bot.store.budget import SharedWindow
from bot.store.db import Database
from bot.store.lease import Lease
from bot.store.queue import ActionQueue
from bot.store.snapshots import Snapshots
from bot.store.tables import ApiCallRow, QueuedActionRow
from bot.victorops.limits import RateSpec, SlidingWindow
from tests.dbfixtures import fresh_postgres_schema

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_800_000_000.0


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def enqueue(queue: ActionQueue, key: str | None = None, verb: str = "ack", user: str = "alice") -> Any:
    return await queue.enqueue(
        verb=Verb(verb),
        vo_username=user,
        slack_user_id="U1",
        slack_name="Alice",
        incidents=["101", "102"],
        payload={"note": "on it"},
        reply={"kind": "card", "channel": "C1"},
        dedupe_key=key,
    )


async def count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


def max_in_any_window(times: list[float], period: float) -> int:
    """The most stamps in any half-open window [t, t + period): a call counts until t + period."""
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + period) for t in times), default=0)


# --- the action queue


async def test_enqueue_stores_the_action(database: Database) -> None:
    queue = ActionQueue(database, FakeClock())
    action, created = await enqueue(queue, "k1")
    assert created
    assert await queue.get(action.id) == action
    assert (action.verb, action.vo_username, action.slack_user_id, action.slack_name) == ("ack", "alice", "U1", "Alice")
    assert action.incidents == ("101", "102")
    assert action.payload == {"note": "on it"}
    assert action.reply == {"kind": "card", "channel": "C1"}
    assert (action.status, action.attempts, action.handed_off, action.dedupe_key) == ("pending", 0, False, "k1")
    assert action.created_at == at(T0)
    assert (action.not_before, action.sent_at, action.finished_at, action.result, action.error) == (None,) * 5
    assert await queue.get(action.id + 1) is None


async def test_same_dedupe_key_is_one_action_until_it_finishes(database: Database) -> None:
    queue = ActionQueue(database, FakeClock())
    first, _ = await enqueue(queue, "ack:alice:101")
    again, created = await enqueue(queue, "ack:alice:101")
    assert (again.id, created) == (first.id, False)
    await queue.mark_sending([first.id])
    while_sending, created = await enqueue(queue, "ack:alice:101")
    assert (while_sending.id, while_sending.status, created) == (first.id, "sending", False)
    other, created = await enqueue(queue, "ack:bob:101")
    assert created and other.id != first.id
    no_key = [await enqueue(queue, None) for _ in range(2)]
    assert all(created for _, created in no_key) and no_key[0][0].id != no_key[1][0].id

    done = await queue.complete(first.id, {"ok": True})
    assert done.dedupe_key is None
    after, created = await enqueue(queue, "ack:alice:101")
    assert created and after.id > first.id
    failed = await queue.fail(after.id, "no such user")
    assert failed.dedupe_key is None
    assert (await enqueue(queue, "ack:alice:101"))[1]


async def test_a_bulk_action_of_150_incidents_is_queued_once_on_every_database(database: Database) -> None:
    """The double-click key stays short however many incidents a bulk action names (Postgres checks lengths)."""
    queue = ActionQueue(database)
    numbers = [str(10000 + n) for n in range(150)]
    actor = Actor("U1", "Alice", "alice")
    key = click_key(Verb.ACK, actor, ",".join(numbers))
    first, _ = await queue.enqueue(
        verb=Verb.ACK, vo_username="alice", slack_user_id="U1", slack_name="Alice", incidents=numbers,
        payload={"note": None}, reply={}, dedupe_key=key,
    )  # fmt: skip
    again, made = await queue.enqueue(
        verb=Verb.ACK, vo_username="alice", slack_user_id="U1", slack_name="Alice", incidents=numbers,
        payload={"note": None}, reply={}, dedupe_key=click_key(Verb.ACK, actor, ",".join(numbers)),
    )  # fmt: skip
    assert (again.id, made, len(first.incidents)) == (first.id, False, 150)
    assert click_key(Verb.ACK, actor, ",".join(numbers[:-1])) != key


async def test_concurrent_enqueues_with_one_key_make_one_row(database: Database) -> None:
    queue = ActionQueue(database)
    results = await asyncio.gather(*(enqueue(queue, "double-click") for _ in range(20)))
    assert sum(created for _, created in results) == 1
    assert len({action.id for action, _ in results}) == 1
    assert await count(database, QueuedActionRow) == 1


async def test_status_transitions(database: Database) -> None:
    clock = FakeClock()
    queue = ActionQueue(database, clock)
    a, _ = await enqueue(queue, "a")
    b, _ = await enqueue(queue, "b")

    clock.t = T0 + 5
    await queue.mark_sending([a.id, b.id])
    sending = await queue.interrupted()
    assert [(x.id, x.status, x.attempts, x.sent_at) for x in sending] == [
        (a.id, "sending", 1, at(T0 + 5)),
        (b.id, "sending", 1, at(T0 + 5)),
    ]
    assert await queue.pending() == []
    assert await queue.depth() == 2

    await queue.retry_later([a.id, b.id], T0 + 60, "429")
    assert await queue.interrupted() == []
    assert await queue.pending() == []  # not before T0 + 60
    assert await queue.pending(now=T0 + 59.9) == []
    ready = await queue.pending(now=T0 + 60)
    assert [(x.id, x.status, x.not_before, x.error) for x in ready] == [
        (a.id, "pending", at(T0 + 60), "429"),
        (b.id, "pending", at(T0 + 60), "429"),
    ]
    clock.t = T0 + 61
    assert [x.id for x in await queue.pending()] == [a.id, b.id]

    await queue.mark_sending([a.id])
    clock.t = T0 + 62
    done = await queue.complete(a.id, {"outcomes": [{"number": "101", "done": True}]})
    assert (done.status, done.attempts, done.finished_at) == ("done", 2, at(T0 + 62))
    assert done.result == {"outcomes": [{"number": "101", "done": True}]}
    assert await queue.get(a.id) == done

    failed = await queue.fail(b.id, "unknown user")
    assert (failed.status, failed.error, failed.finished_at, failed.attempts) == (
        "failed",
        "unknown user",
        at(T0 + 62),
        1,
    )
    assert await queue.depth() == 0
    with pytest.raises(LookupError):
        await queue.complete(b.id + 100, {})


async def test_pending_order_depth_ahead_of_and_recent(database: Database) -> None:
    clock = FakeClock()
    queue = ActionQueue(database, clock)
    ids = [(await enqueue(queue, f"k{n}", user=f"u{n}"))[0].id for n in range(5)]
    await queue.mark_sending([ids[1]])
    await queue.retry_later([ids[1]], T0 + 10, None)
    await queue.mark_sending([ids[2]])
    await queue.complete(ids[3], {})

    assert [x.id for x in await queue.pending()] == [ids[0], ids[4]]
    assert [x.id for x in await queue.pending(now=T0 + 10)] == [ids[0], ids[1], ids[4]]
    assert [x.id for x in await queue.interrupted()] == [ids[2]]
    assert await queue.depth() == 4
    # unfinished ones before it, wherever they are in the pipeline: ids 0, 1, 2 (3 is done)
    assert [[x.id for x in await queue.ahead_of(i)] for i in ids] == [[], ids[:1], ids[:2], ids[:3], ids[:3]]
    assert [x.id for x in await queue.recent(3)] == [ids[4], ids[3], ids[2]]


async def test_hand_off_only_while_unfinished(database: Database) -> None:
    queue = ActionQueue(database)
    a, _ = await enqueue(queue, "a")
    b, _ = await enqueue(queue, "b")
    assert await queue.hand_off(a.id)
    await queue.mark_sending([a.id])
    assert (await queue.complete(a.id, {})).handed_off  # the dispatcher tells the asker
    await queue.complete(b.id, {})
    assert not await queue.hand_off(b.id)  # too late: the asker reads the outcome itself
    assert (await queue.get(b.id)).handed_off is False  # type: ignore[union-attr]
    assert not await queue.hand_off(b.id + 100)


async def test_telling_is_claimed_once_and_an_untold_outcome_is_found(database: Database) -> None:
    clock = [1000.0]
    queue = ActionQueue(database, clock=lambda: clock[0])
    a, _ = await enqueue(queue, "a")
    assert not await queue.claim_telling(a.id)  # nothing to tell while it is pending
    await queue.mark_sending([a.id])
    await queue.complete(a.id, {})  # the asker died before it landed: nobody claims it
    assert await queue.untold(1000.0) == []  # finished just now: the asker may still be looking
    assert [x.id for x in await queue.untold(1010.0)] == [a.id]
    results = await asyncio.gather(*(queue.claim_telling(a.id) for _ in range(5)))
    assert results.count(True) == 1  # one teller, however many try
    assert await queue.untold(1010.0) == []


# --- the lease


async def test_lease_one_holder_renewal_expiry_and_release(database: Database) -> None:
    clock = FakeClock()
    a = Lease(database, "dispatcher", "replica-a", ttl=10, clock=clock)
    b = Lease(database, "dispatcher", "replica-b", ttl=10, clock=clock)
    assert await a.holder() is None

    assert await a.acquire()
    assert not await b.acquire()
    assert await b.holder() == "replica-a"

    clock.t = T0 + 8
    assert await a.acquire()  # renewed until T0 + 18
    clock.t = T0 + 15
    assert not await b.acquire()
    assert await a.holder() == "replica-a"

    clock.t = T0 + 18.5  # a stopped renewing (died): b takes over
    assert await a.holder() is None
    assert await b.acquire()
    assert not await a.acquire()
    assert await a.holder() == "replica-b"

    await a.release()  # not a's to release
    assert await a.holder() == "replica-b"
    await b.release()
    assert await a.holder() is None
    assert await a.acquire()

    other = Lease(database, "digest", "replica-b", ttl=10, clock=clock)
    assert await other.acquire()  # leases by other names are separate


async def test_lease_first_take_has_one_winner(database: Database) -> None:
    leases = [Lease(database, "dispatcher", f"replica-{n}") for n in range(8)]
    won = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert sum(won) == 1
    assert await leases[0].holder() == f"replica-{won.index(True)}"


# --- the shared budget


async def test_two_windows_share_one_budget(database: Database) -> None:
    """Two replicas' windows, many interleaved reserves: each step grants what one window would, no more."""
    clock = FakeClock()
    spec = RateSpec(6, 60.0)
    windows = [SharedWindow(database, "incidents", spec, clock) for _ in range(2)]
    reference = SlidingWindow(spec, clock)
    rng = random.Random(7)
    granted: list[float] = []
    for _ in range(60):
        clock.t += rng.uniform(0, 12)
        tries = [windows[rng.randrange(2)] for _ in range(rng.randint(1, 4))]
        waits = await asyncio.gather(*(w.reserve() for w in tries))
        expected = [0.0 if reference.try_acquire() else reference.wait_time() for _ in tries]
        assert sorted(waits) == pytest.approx(sorted(expected))
        granted += [clock.t] * waits.count(0.0)
    assert max_in_any_window(granted, spec.period) == spec.count
    assert len(granted) > 3 * spec.count  # the budget was used, not just refused
    # rows out of the window are deleted as it slides
    assert await count(database, ApiCallRow) <= spec.count


async def test_wait_time_remaining_and_block_for(database: Database) -> None:
    clock = FakeClock()
    spec = RateSpec(3, 10.0)
    window = SharedWindow(database, "incidents", spec, clock)
    other = SharedWindow(database, "incidents", spec, clock)  # another replica
    assert (await window.remaining(), await window.wait_time()) == (3, 0.0)

    assert await window.reserve() == 0.0
    clock.t += 2
    assert await other.reserve() == 0.0
    assert await window.reserve() == 0.0
    assert (await other.remaining(), await other.wait_time()) == (0, pytest.approx(8.0))
    assert await other.reserve() == pytest.approx(8.0)
    clock.t = T0 + 10  # the first call leaves the window
    assert (await other.remaining(), await other.wait_time()) == (1, 0.0)

    # the server says wait 30 s: nobody sends until then, though the window is 10 s
    await window.block_for(30)
    assert (await other.remaining(), await other.wait_time()) == (0, pytest.approx(30.0))
    clock.t = T0 + 39.9
    assert await other.reserve() == pytest.approx(0.1)
    clock.t = T0 + 40
    assert await other.remaining() == 3
    assert await other.reserve() == 0.0

    # a short block does not free slots that real calls still hold
    clock.t = T0 + 41
    await window.reserve()
    await window.reserve()
    await window.block_for(1)
    assert await window.wait_time() == pytest.approx(9.0)  # the call at T0 + 40 leaves at T0 + 50

    assert await SharedWindow(database, "reporting", spec, clock).remaining() == 3  # families are separate


async def test_unlimited_window_writes_nothing(database: Database) -> None:
    window = SharedWindow(database, "incidents", RateSpec(0, 60.0))
    assert window.spec == RateSpec(0, 60.0)
    assert [await window.reserve() for _ in range(50)] == [0.0] * 50
    await window.block_for(30)
    assert (await window.wait_time(), await window.remaining()) == (0.0, None)
    assert await count(database, ApiCallRow) == 0


# --- two processes on one Postgres


async def run_replicas(kind: str, url: str, duration: float) -> list[Any]:
    """Start two store_worker processes, start them together once both are connected, return their results."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store_worker",
            kind,
            url,
            name,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for name in ("replica-a", "replica-b")
    ]
    try:
        async with asyncio.timeout(duration + 30):
            for proc in procs:
                assert proc.stdout is not None
                assert await proc.stdout.readline() == b"ready\n"
            start = time.time() + 0.2
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"{start} {duration}\n".encode())
                await proc.stdin.drain()
            outputs = [await proc.communicate() for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0]
    return [json.loads(out) for out, _ in outputs]


@pytest.mark.slow  # two processes
async def test_budget_shared_by_two_processes() -> None:
    with fresh_postgres_schema() as url:
        db = Database(url)
        await db.migrate()
        await db.dispose()
        a, b = await run_replicas("budget", url, 3.0)
    assert a and b  # both processes got calls
    # 5 per 2 s together: 5 at the start and 5 more two seconds later
    assert max_in_any_window(a + b, 2.0) == 5
    assert len(a + b) == 10


@pytest.mark.slow  # two processes
async def test_lease_shared_by_two_processes() -> None:
    with fresh_postgres_schema() as url:
        db = Database(url)
        await db.migrate()
        await db.dispose()
        a, b = await run_replicas("lease", url, 2.0)
    assert a and b  # the lease changed hands
    overlaps = [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]
    assert overlaps == []


# --- snapshots


async def test_snapshot_put_and_get(database: Database) -> None:
    snapshots = Snapshots(database)
    assert await snapshots.get("incidents") is None
    await snapshots.put("incidents", T0, '{"incidents": []}')
    await snapshots.put("oncall", T0 + 1, "[]")
    assert await snapshots.get("incidents") == (T0, '{"incidents": []}')
    await snapshots.put("incidents", T0 + 30.25, '{"incidents": [1]}')
    assert await snapshots.get("incidents") == (T0 + 30.25, '{"incidents": [1]}')
    assert await snapshots.get("oncall") == (T0 + 1, "[]")


async def hold(
    snapshots: Snapshots, name: str, seconds: float, log: list[tuple[str, str, float]], entered: asyncio.Event
) -> None:
    async with snapshots.refresh_lock(name):
        log.append(("in", name, time.monotonic()))
        entered.set()
        await asyncio.sleep(seconds)
        log.append(("out", name, time.monotonic()))


async def test_refresh_lock_serialises_replicas_on_postgres(postgres_database_url: str) -> None:
    replicas = [Database(postgres_database_url) for _ in range(2)]
    try:
        first, second = (Snapshots(db) for db in replicas)
        log: list[tuple[str, str, float]] = []
        first_in = asyncio.Event()
        holding = asyncio.create_task(hold(first, "incidents", 0.3, log, first_in))
        await first_in.wait()
        others = (hold(second, name, 0, log, asyncio.Event()) for name in ("incidents", "oncall"))
        await asyncio.gather(*others, holding)
        order = [(what, name) for what, name, _ in log]
        # another name does not wait; the same name waits for the first holder to leave
        assert order == [
            ("in", "incidents"),
            ("in", "oncall"),
            ("out", "oncall"),
            ("out", "incidents"),
            ("in", "incidents"),
            ("out", "incidents"),
        ]
        assert log[4][2] - log[0][2] >= 0.3

        # a refresh that fails still lets the next one in
        with pytest.raises(RuntimeError):
            async with first.refresh_lock("incidents"):
                raise RuntimeError("VictorOps timed out")
        async with asyncio.timeout(2):
            await hold(second, "incidents", 0, log, asyncio.Event())
    finally:
        await asyncio.gather(*(db.dispose() for db in replicas))


async def test_refresh_lock_is_a_no_op_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'vobot.db'}")
    try:
        snapshots = Snapshots(db)
        async with asyncio.timeout(1), snapshots.refresh_lock("incidents"), snapshots.refresh_lock("incidents"):
            pass
    finally:
        await db.dispose()


async def test_only_pending_actions_are_claimed_and_finished_ones_stay_finished(database: Database) -> None:
    queue = ActionQueue(database, FakeClock())
    a, _ = await enqueue(queue, "a")
    b, _ = await enqueue(queue, "b", user="bob")
    first = await queue.mark_sending([a.id, b.id])
    assert [(x.id, x.status, x.attempts) for x in first] == [(a.id, "sending", 1), (b.id, "sending", 1)]
    assert await queue.mark_sending([a.id, b.id]) == []  # a second sender gets nothing to send
    await queue.complete(a.id, {"outcomes": []})
    await queue.retry_later([a.id, b.id], T0, "interrupted")  # a late recovery must not revive a finished one
    assert [(x.id, x.status) for x in sorted(await queue.recent(), key=lambda x: x.id)] == [
        (a.id, "done"),
        (b.id, "pending"),
    ]
