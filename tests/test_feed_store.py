"""Stored feeds, one per channel, on SQLite and Postgres, and their in-memory double (tests/memory.py) held to
the same rules: the file wins, replacing keeps created_at; concurrent subscribes of one channel leave one feed."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.feed import Feed
from bot.store.db import Database
from bot.store.feeds import FeedStore
from tests.dbfixtures import fresh_postgres_schema
from tests.memory import MemoryFeeds


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FeedStore | MemoryFeeds]:
    if request.param == "memory":
        yield MemoryFeeds()
        return
    sqlite = nullcontext(f"sqlite:///{tmp_path / 'vobot.db'}")
    with fresh_postgres_schema() if request.param == "postgres" else sqlite as url:
        db = Database(url)
        await db.migrate()
        try:
            yield FeedStore(db)
        finally:
            await db.dispose()


def feed(channel: str, source: str = "slack", **changes: object) -> Feed:
    made = Feed(channel=channel, routes=("db",), source="slack", created_by="U0ADMIN1" if source == "slack" else None)
    return replace(made, source=source, **changes)  # type: ignore[arg-type]


def unstamped(feeds: list[Feed]) -> list[Feed]:
    return [replace(f, created_at=None) for f in feeds]


async def test_put_get_all_remove(store: FeedStore | MemoryFeeds) -> None:
    assert await store.all() == []
    assert await store.get("C0OPS") is None

    ops = feed("C0OPS", teams=("team-a",), policies=("pol-a", "pol-b"), remind_acked=None, handoff=True)
    stored = await store.put(ops)
    assert stored.created_at is not None and stored.created_at.tzinfo is not None
    assert stored == replace(ops, created_at=stored.created_at)
    assert await store.get("C0OPS") == stored
    await store.put(feed("C0DB", max_cards_per_minute=3, remind_unacked=60))
    assert unstamped(await store.all()) == [feed("C0DB", max_cards_per_minute=3, remind_unacked=60), ops]

    assert await store.remove("C0DB")
    assert not await store.remove("C0DB")
    assert [f.channel for f in await store.all()] == ["C0OPS"]


async def test_replacing_a_feed_keeps_when_it_was_made(store: FeedStore | MemoryFeeds) -> None:
    first = await store.put(feed("C0OPS"))
    await asyncio.sleep(0.01)
    again = await store.put(feed("C0OPS", routes=("web",), created_by="U0ADMIN2"))
    assert again.created_at == first.created_at  # its backlog stays its backlog
    assert (again.routes, again.created_by) == (("web",), "U0ADMIN2")

    await store.sync_config([feed("C0OPS", source="config")])  # the file takes the channel over
    taken = await store.get("C0OPS")
    assert taken is not None and taken.source == "config" and taken.created_at == first.created_at


async def test_sync_config_makes_the_file_win(store: FeedStore | MemoryFeeds) -> None:
    await store.sync_config([feed("C0DB", source="config"), feed("C0OLD", source="config")])
    await store.put(feed("C0DEV"))  # made in Slack
    await store.put(feed("C0OPS"))  # made in Slack, then put in the file

    ops = feed("C0OPS", source="config", routes=(), max_cards_per_minute=5)
    await store.sync_config([feed("C0DB", source="config", routes=("web",)), ops])
    assert unstamped(await store.all()) == [
        feed("C0DB", source="config", routes=("web",)),  # updated
        feed("C0DEV"),  # made in Slack: kept
        ops,  # config as code replaced the Slack one
    ]  # C0OLD left the file: deleted

    await store.sync_config([])
    assert unstamped(await store.all()) == [feed("C0DEV")]


async def test_concurrent_subscribes_of_one_channel_leave_one_feed(database: Database) -> None:
    stores = [FeedStore(database) for _ in range(10)]
    puts = [s.put(feed("C0OPS", routes=(f"route-{n}",))) for n, s in enumerate(stores)]
    results = await asyncio.gather(*puts)
    feeds = await stores[0].all()
    assert len(feeds) == 1
    assert len({r.created_at for r in results}) == 1  # one row, made once
    assert feeds[0].routes in {r.routes for r in results}  # the last writer's filters, whole
