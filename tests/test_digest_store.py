"""Stored digests and slot claims, on SQLite and Postgres; claims by two real processes on Postgres."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core.digest import Digest
from bot.store.db import Database
from bot.store.digests import DigestStore, SlotClaims
from bot.store.tables import DigestRow, DigestSlotRow
from tests.dbfixtures import fresh_postgres_schema
from tests.store_worker import CLAIMED_SLOTS
from tests.test_queue_store import run_replicas

T0 = 1_800_000_000.0


def digest(name: str, channel: str = "C0OPS", source: str = "slack", **changes: object) -> Digest:
    made = Digest(
        name=name,
        channel=channel,
        schedule="0 9 * * 1-5",
        timezone="Europe/Berlin",
        when_empty="post",
        routes=("db",),
        teams=(),
        phases=("UNACKED",),
        source="slack",
        created_by="U0ADMIN1" if source == "slack" else None,
    )
    return replace(made, source=source, **changes)  # type: ignore[arg-type]


async def test_put_get_all_in_channel_remove(database: Database) -> None:
    store = DigestStore(database)
    assert await store.all() == []
    assert await store.get("morning") is None

    morning, evening = digest("morning"), digest("evening", "C0DEV", teams=("team-a", "team-b"))
    for d in (morning, evening, digest("noon")):
        await store.put(d)
    assert await store.get("morning") == morning
    assert [d.name for d in await store.all()] == ["evening", "morning", "noon"]
    assert [d.name for d in await store.in_channel("C0OPS")] == ["morning", "noon"]
    assert await store.in_channel("C0DEV") == [evening]
    assert await store.in_channel("C0NONE") == []

    moved = replace(morning, channel="C0DEV", schedule="30 8 * * *", when_empty="skip", phases=())
    await store.put(moved)  # replaces the one of that name
    assert await store.get("morning") == moved
    assert [d.name for d in await store.in_channel("C0DEV")] == ["evening", "morning"]

    assert await store.remove("noon")
    assert not await store.remove("noon")
    assert [d.name for d in await store.all()] == ["evening", "morning"]


async def test_sync_config_makes_the_file_win(database: Database) -> None:
    store = DigestStore(database)
    await store.sync_config([digest("morning", source="config"), digest("old", source="config")])
    await store.put(digest("weekly"))  # made in Slack
    await store.put(digest("standup", "C0DEV"))  # made in Slack, then put in the file

    standup = digest("standup", source="config", schedule="0 10 * * 1-5")
    await store.sync_config([digest("morning", source="config", routes=("web",)), standup])
    assert await store.all() == [
        digest("morning", source="config", routes=("web",)),  # updated
        standup,  # config as code replaced the Slack one
        digest("weekly"),  # made in Slack: kept
    ]  # "old" left the file: deleted

    await store.sync_config([])
    assert await store.all() == [digest("weekly")]


async def test_writing_a_digest_again_keeps_when_it_was_created(database: Database) -> None:
    store = DigestStore(database)
    await store.sync_config([digest("morning", source="config")])
    async with database.reading() as session:
        created = await session.scalar(select(DigestRow.created_at))
    await store.sync_config([digest("morning", source="config", schedule="0 8 * * *")])
    async with database.reading() as session:
        assert await session.scalar(select(DigestRow.created_at)) == created


async def test_a_slot_is_claimed_once(database: Database) -> None:
    first = SlotClaims(database, "replica-a", clock=lambda: T0)
    second = SlotClaims(database, "replica-b", clock=lambda: T0)
    assert await first.last("morning") is None
    assert await first.claim("morning", "2026-01-05T09:00")
    assert not await second.claim("morning", "2026-01-05T09:00")
    assert not await first.claim("morning", "2026-01-05T09:00")  # a repeat, even by the holder
    assert await second.claim("evening", "2026-01-05T09:00")  # another digest, same time
    assert await second.claim("morning", "2026-01-06T09:00")

    async with database.reading() as session:
        rows = (await session.execute(select(DigestSlotRow).order_by(DigestSlotRow.digest, DigestSlotRow.slot))).all()
    assert [(r.digest, r.slot, r.claimed_by, r.claimed_at) for (r,) in rows] == [
        ("evening", "2026-01-05T09:00", "replica-b", datetime.fromtimestamp(T0, UTC)),
        ("morning", "2026-01-05T09:00", "replica-a", datetime.fromtimestamp(T0, UTC)),
        ("morning", "2026-01-06T09:00", "replica-b", datetime.fromtimestamp(T0, UTC)),
    ]


async def test_posted_last_and_recent(database: Database) -> None:
    claims = SlotClaims(database, "replica-a")
    for slot in ("2026-01-05T09:00", "2026-01-06T09:00", "2025-12-31T09:00", "2026-01-07T09:00"):
        await claims.claim("morning", slot)
    await claims.claim("evening", "2026-02-01T18:00")
    await claims.posted("morning", "2026-01-05T09:00", "1767600000.000100")
    await claims.posted("morning", "2026-01-07T09:00", "1767772800.000200")

    assert await claims.last("morning") == "2026-01-07T09:00"
    assert await claims.last("evening") == "2026-02-01T18:00"
    assert await claims.recent("morning", 3) == [
        ("2026-01-07T09:00", "1767772800.000200"),
        ("2026-01-06T09:00", None),  # claimed, not posted (nothing open, or the post failed)
        ("2026-01-05T09:00", "1767600000.000100"),
    ]
    assert await claims.recent("noon", 3) == []


async def test_concurrent_claims_of_one_slot_have_one_winner(database: Database) -> None:
    claims = [SlotClaims(database, f"replica-{n}") for n in range(20)]
    won = await asyncio.gather(*(c.claim("morning", "2026-01-05T09:00") for c in claims))
    assert sum(won) == 1
    async with database.reading() as session:
        holders = (await session.scalars(select(DigestSlotRow.claimed_by))).all()
    assert holders == [claims[won.index(True)].holder]


@pytest.mark.slow  # two processes
async def test_two_processes_claim_each_slot_once() -> None:
    with fresh_postgres_schema() as url:
        db = Database(url)
        await db.migrate()
        try:
            a, b = await run_replicas("claims", url, 0)
            async with db.reading() as session:
                holders = dict((await session.execute(select(DigestSlotRow.slot, DigestSlotRow.claimed_by))).all())
        finally:
            await db.dispose()
    assert a and b  # both processes won some
    assert sorted(a + b) == CLAIMED_SLOTS  # every slot won once: no doubles, no gaps
    assert holders == {slot: "replica-a" for slot in a} | {slot: "replica-b" for slot in b}
