"""The in-memory ports (tests/memory.py) keep the real stores' rules: each behaviour here runs once on the memory
double and once on the store over SQLite, so the unit tests built on the doubles test the product's rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.identity import UNLINKED, Link, LinkRepository, VictorOpsUserTaken
from bot.store.db import Database
from bot.store.links import LinkStore
from bot.store.queue import ActionQueue
from tests.fakes import FakeClock
from tests.memory import MemoryLinks, MemoryQueue

T0 = 1_800_000_000.0


@dataclass
class Ports:
    queue: ActionQueue | MemoryQueue
    links: LinkRepository
    clock: FakeClock


@pytest.fixture(params=["memory", "sqlite"])
async def ports(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ports]:
    clock = FakeClock(T0)
    if request.param == "memory":
        yield Ports(MemoryQueue(clock), MemoryLinks(), clock)
        return
    db = Database(f"sqlite:///{tmp_path / 'vobot.db'}")
    await db.migrate()
    try:
        yield Ports(ActionQueue(db, clock), LinkStore(db), clock)
    finally:
        await db.dispose()


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def enqueue(ports: Ports, key: str | None = None, user: str = "alice") -> Any:
    action, created = await ports.queue.enqueue(
        verb="ack",
        vo_username=user,
        slack_user_id="U1",
        slack_name=user,
        incidents=["101", "102"],
        payload={"note": "on it"},
        reply={"kind": "card"},
        dedupe_key=key,
    )
    return action, created


async def statuses(ports: Ports) -> list[tuple[int, str]]:
    return sorted((a.id, a.status) for a in await ports.queue.recent())


# -- the queue


async def test_a_dedupe_key_is_one_action_until_it_finishes(ports: Ports) -> None:
    first, created = await enqueue(ports, "ack:alice:101")
    assert created and (first.status, first.attempts, first.created_at, first.told) == ("pending", 0, at(T0), False)
    again, created = await enqueue(ports, "ack:alice:101")
    assert (again, created) == (first, False)
    await ports.queue.complete(first.id, {"outcomes": []})
    after, created = await enqueue(ports, "ack:alice:101")
    assert created and after.id > first.id
    assert [a.id for a in await ports.queue.ahead_of(after.id + 1)] == [after.id]  # a finished one is not ahead


async def test_only_pending_actions_are_claimed_and_counted(ports: Ports) -> None:
    a, _ = await enqueue(ports, "a")
    b, _ = await enqueue(ports, "b")
    ports.clock.now = T0 + 5
    claimed = await ports.queue.mark_sending([b.id, a.id, a.id + 100])
    assert [(x.id, x.status, x.attempts, x.sent_at) for x in claimed] == [
        (a.id, "sending", 1, at(T0 + 5)),
        (b.id, "sending", 1, at(T0 + 5)),
    ]
    assert await ports.queue.mark_sending([a.id, b.id]) == []  # a second sender gets nothing
    assert [x.id for x in await ports.queue.interrupted()] == [a.id, b.id]
    await ports.queue.complete(a.id, {"outcomes": [{"n": "101", "done": True}]})
    await ports.queue.retry_later([a.id, b.id], T0 + 60, "429")  # a finished action stays finished
    assert await statuses(ports) == [(a.id, "done"), (b.id, "pending")]
    assert await ports.queue.pending(now=T0 + 59.9) == []
    [ready] = await ports.queue.pending(now=T0 + 60)
    assert (ready.id, ready.not_before, ready.error, ready.attempts) == (b.id, at(T0 + 60), "429", 1)
    assert [x.attempts for x in await ports.queue.mark_sending([b.id])] == [2]


async def test_hand_off_only_while_unfinished_and_telling_once(ports: Ports) -> None:
    a, _ = await enqueue(ports, "a")
    b, _ = await enqueue(ports, "b")
    assert not await ports.queue.claim_telling(a.id)  # nothing to tell while it is pending
    assert await ports.queue.hand_off(a.id)
    ports.clock.now = T0 + 1
    done = await ports.queue.complete(a.id, {"outcomes": []})
    assert (done.handed_off, done.finished_at, done.dedupe_key) == (True, at(T0 + 1), None)
    failed = await ports.queue.fail(b.id, "no such user")
    assert not await ports.queue.hand_off(b.id) and not await ports.queue.hand_off(b.id + 100)
    assert (failed.status, failed.error, failed.handed_off) == ("failed", "no such user", False)
    assert await ports.queue.untold(T0 + 1) == []  # finished just now: the asker may still be looking
    assert [x.id for x in await ports.queue.untold(T0 + 2)] == [a.id, b.id]
    assert [await ports.queue.claim_telling(a.id) for _ in range(3)] == [True, False, False]
    assert [x.id for x in await ports.queue.untold(T0 + 2)] == [b.id]
    with pytest.raises(LookupError):
        await ports.queue.complete(b.id + 100, {})


# -- the links


def undated(links: list[Link]) -> list[Link]:
    return [replace(link, at=None) for link in links]


async def test_a_victorops_user_is_one_slack_users(ports: Ports) -> None:
    links = ports.links
    stored = await links.put(Link("U0ONE", "heidi", "self", "U0ONE"))
    assert stored.at is not None and await links.get("U0ONE") == stored
    with pytest.raises(VictorOpsUserTaken):
        await links.put(Link("U0TWO", "HEIDI", "admin", "U0ADMIN"))  # whatever its case
    await links.put(Link("U0ONE", "Heidi", "admin", "U0ADMIN"))  # the holder's own row may change
    assert undated(await links.holders("HEIDI")) == [Link("U0ONE", "Heidi", "admin", "U0ADMIN")]
    await links.put(Link("U0ONE", "", UNLINKED, "U0ONE"))
    await links.put(Link("U0THREE", "", UNLINKED, "U0ADMIN"))  # unlinks never collide
    assert await links.holders("heidi") == []
    await links.put(Link("U0TWO", "heidi", "admin", "U0ADMIN"))  # free again
    assert undated(await links.all()) == [
        Link("U0ONE", "", UNLINKED, "U0ONE"),
        Link("U0THREE", "", UNLINKED, "U0ADMIN"),
        Link("U0TWO", "heidi", "admin", "U0ADMIN"),
    ]
    assert await links.get("U0NOBODY") is None
