"""The link store keeps a VictorOps user to one Slack user by a unique index, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command

from bot.core.identity import Link, VictorOpsUserTaken
from bot.store.db import Database, alembic_config
from bot.store.links import LinkStore
from bot.store.tables import UserLink


async def test_concurrent_puts_of_one_victorops_user_leave_one(database: Database) -> None:
    stores = [LinkStore(database) for _ in range(2)]
    results = await asyncio.gather(
        *(store.put(Link(f"U0RACER{n}", "heidi", "admin", "U0ADMIN")) for n, store in enumerate(stores)),
        return_exceptions=True,
    )
    [taken] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(taken, VictorOpsUserTaken) and taken.vo_username == "heidi"
    assert len(await stores[0].holders("heidi")) == 1


async def test_many_concurrent_puts_leave_one_and_case_does_not_count(database: Database) -> None:
    store = LinkStore(database)
    spellings = ["heidi", "HEIDI", "Heidi"] * 4
    results = await asyncio.gather(
        *(store.put(Link(f"U0RACER{n:02d}", name, "self")) for n, name in enumerate(spellings)), return_exceptions=True
    )
    assert sum(isinstance(r, VictorOpsUserTaken) for r in results) == len(spellings) - 1
    assert len(await store.holders("heidi")) == 1


async def test_explicit_unlinks_do_not_collide_and_free_the_victorops_user(database: Database) -> None:
    store = LinkStore(database)
    await store.put(Link("U0ONE", "heidi", "self"))
    with pytest.raises(VictorOpsUserTaken):
        await store.put(Link("U0TWO", "heidi", "admin", "U0ADMIN"))
    await store.put(Link("U0ONE", "", "none", "U0ONE"))
    await store.put(Link("U0THREE", "", "none", "U0ADMIN"))
    await store.put(Link("U0TWO", "heidi", "admin", "U0ADMIN"))
    assert [(link.slack_user_id, link.source) for link in await store.all()] == [
        ("U0ONE", "none"),
        ("U0THREE", "none"),
        ("U0TWO", "admin"),
    ]


async def test_the_same_person_linking_twice_at_once_is_no_conflict(database: Database) -> None:
    store = LinkStore(database)
    await asyncio.gather(*(store.put(Link("U0ONE", "heidi", "self")) for _ in range(5)))
    assert [link.slack_user_id for link in await store.holders("heidi")] == ["U0ONE"]


async def test_put_many_is_refused_whole(database: Database) -> None:
    store = LinkStore(database)
    await store.put(Link("U0ONE", "heidi", "self"))
    with pytest.raises(VictorOpsUserTaken):
        await store.put_many([Link("U0TWO", "frank", "import"), Link("U0THREE", "Heidi", "import")])
    assert [link.slack_user_id for link in await store.all()] == ["U0ONE"]


async def test_migration_keeps_the_earliest_link_of_each_victorops_user(database_url: str) -> None:
    """A database the race already spoilt: the later links become explicit unlinks."""
    sync_config = alembic_config(database_url)
    await asyncio.to_thread(command.upgrade, sync_config, "0004")
    db = Database(database_url)
    try:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        rows = [
            ("U0LATE", "heidi", start + timedelta(minutes=5)),
            ("U0FIRST", "heidi", start),
            ("U0TIE_B", "Frank", start),
            ("U0TIE_A", "frank", start),  # the same moment: the lower Slack user ID is kept
            ("U0LATER", "HEIDI", start + timedelta(minutes=9)),
            ("U0ALONE", "gkim", start + timedelta(minutes=7)),
        ]
        async with db.session() as session:
            session.add_all(UserLink(slack_user_id=s, vo_username=v, source="email", at=at) for s, v, at in rows)
            session.add(UserLink(slack_user_id="U0GONE", vo_username="", source="none", at=start))
            session.add(UserLink(slack_user_id="U0GONE2", vo_username="", source="none", at=start))
        await db.migrate()
        links = {link.slack_user_id: (link.vo_username, link.source) for link in await LinkStore(db).all()}
        assert links == {
            "U0FIRST": ("heidi", "email"),
            "U0TIE_A": ("frank", "email"),
            "U0ALONE": ("gkim", "email"),
            "U0LATE": ("", "none"),
            "U0LATER": ("", "none"),
            "U0TIE_B": ("", "none"),
            "U0GONE": ("", "none"),
            "U0GONE2": ("", "none"),
        }
        with pytest.raises(VictorOpsUserTaken):  # and from now on the index holds
            await LinkStore(db).put(Link("U0LATE", "heidi", "admin", "U0ADMIN"))
    finally:
        await db.dispose()
