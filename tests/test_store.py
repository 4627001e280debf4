import asyncio
import re
import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc, func, inspect, select, text

from bot.core.errors import StorageBusy
from bot.slack.errors import explain
from bot.store.db import (
    MIGRATIONS_DIR,
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    DatabaseUnavailable,
    alembic_config,
    head_revision,
    known_revisions,
    normalize_url,
)
from bot.store.tables import AuditLog, Base

# the head revision as Alembic reads the migrations (merge revisions included); it refuses several heads
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def audit_row(n: int = 1, **overrides: object) -> AuditLog:
    values: dict[str, object] = {
        "at": datetime(2025, 3, 30, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        "slack_user_id": f"U{n:04d}",
        "action": "ack",
        "incidents": [str(n)],
        "result": "ok",
    }
    return AuditLog(**(values | overrides))


async def count_rows(db: Database) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one()


# SQLite cannot reflect expression indexes (Postgres compares them); tests/test_link_store.py checks that one holds.
@pytest.mark.filterwarnings("ignore:.*expression-based index .?uq_user_links_live_vo_username")
async def test_migrate_from_empty(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await db.current_revision() is None
        await db.migrate()
        assert await db.head_revision() == HEAD
        assert await db.current_revision() == HEAD
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            # the migration creates exactly what tables.py declares
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert tables == {"alembic_version", *Base.metadata.tables}
        assert diff == []
    finally:
        await db.dispose()


def _revision_file(folder: Path, revision: str, down: str) -> None:
    (folder / f"{revision}_x.py").write_text(
        f'"""x"""\n\nrevision: str = "{revision}"\ndown_revision = {down}\n\n\n'
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )


def test_the_head_revision_after_branches_and_a_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two branches from the head, then a merge naming both: the files alone cannot say, Alembic can."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr("bot.store.db.MIGRATIONS_DIR", migrations)
    assert HEAD is not None and head_revision() == HEAD
    _revision_file(migrations / "versions", "b1", f'"{HEAD}"')
    _revision_file(migrations / "versions", "b2", f'"{HEAD}"')
    assert head_revision() is None, "two heads: there is no one newest revision"
    _revision_file(migrations / "versions", "m1", '("b1", "b2")')
    assert head_revision() == "m1"
    assert known_revisions() >= {HEAD, "b1", "b2", "m1"}


async def test_migrate_again_is_a_no_op(database: Database) -> None:
    async with database.session() as s:
        s.add(audit_row())
    await database.migrate()
    assert await database.current_revision() == HEAD
    assert await count_rows(database) == 1


async def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    """Replicas starting together. Unserialised, they collide or wait forever (hence the timeout)."""
    dbs = [Database(database_url) for _ in range(3)]
    try:
        async with asyncio.timeout(40):
            await asyncio.gather(*(db.migrate() for db in dbs))
        assert [await db.current_revision() for db in dbs] == [HEAD] * 3
    finally:
        await asyncio.gather(*(db.dispose() for db in dbs))


async def test_audit_row_round_trips_with_aware_datetime(database: Database) -> None:
    async with database.session() as s:
        s.add(audit_row(42))
        s.add(audit_row(43, vo_username="alice", detail="rerouted to ops"))
    async with database.session() as s:
        rows = (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    assert [(r.slack_user_id, r.vo_username, r.incidents, r.detail) for r in rows] == [
        ("U0042", None, ["42"], None),
        ("U0043", "alice", ["43"], "rerouted to ops"),
    ]
    # 01:30 in Berlin on that day is 00:30 UTC; returned aware, in UTC, on both backends
    assert rows[0].at == datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
    assert rows[0].at.utcoffset() == timedelta(0)


async def test_naive_datetime_is_refused(database: Database) -> None:
    with pytest.raises(exc.StatementError, match="naive datetime"):
        async with database.session() as s:
            s.add(audit_row(at=datetime(2025, 1, 1)))
    assert await count_rows(database) == 0


async def test_postgres_tables_land_in_the_test_schema(postgres_database_url: str) -> None:
    db = Database(postgres_database_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
            found = (
                await conn.execute(
                    text(
                        # this test's schema and the default one; other tests' schemas may exist meanwhile
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_name IN ('alembic_version', 'audit_log') "
                        "AND table_schema IN (current_schema(), 'public') ORDER BY table_name"
                    )
                )
            ).all()
        assert schema.startswith("t_")
        assert [tuple(r) for r in found] == [(schema, "alembic_version"), (schema, "audit_log")]
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("url", "sync", "expected"),
    [
        ("sqlite:///vobot.db", False, "sqlite+aiosqlite:///vobot.db"),
        ("sqlite:///vobot.db", True, "sqlite:///vobot.db"),
        ("sqlite:////var/lib/vobot/vobot.db", False, "sqlite+aiosqlite:////var/lib/vobot/vobot.db"),
        ("sqlite:////var/lib/vobot/vobot.db", True, "sqlite:////var/lib/vobot/vobot.db"),
        ("postgresql://user@host/db", False, "postgresql+psycopg://user@host/db"),
        ("postgresql://user@host/db", True, "postgresql+psycopg://user@host/db"),
        (
            "postgres://u:p%40ss@host:5433/db?sslmode=require",
            False,
            "postgresql+psycopg://u:p%40ss@host:5433/db?sslmode=require",
        ),
        ("postgres+psycopg://host/db", False, "postgresql+psycopg://host/db"),
        ("postgresql+asyncpg://host/db", False, "postgresql+asyncpg://host/db"),
        ("sqlite+pysqlite:///x.db", False, "sqlite+pysqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", True, "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalize_url(url: str, sync: bool, expected: str) -> None:
    assert normalize_url(url, sync=sync) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "vobot.db", "/var/lib/vobot.db", "http://example.com", ""])
def test_normalize_url_rejects_other_schemes(url: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported database URL scheme .*sqlite:///PATH, postgresql://"):
        normalize_url(url)


def test_sqlite_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"create {tmp_path / 'missing'}")):
        Database(f"sqlite:///{tmp_path}/missing/vobot.db")


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/vobot.db")
    try:
        async with db.engine.connect() as conn:
            pragmas = [
                (await conn.exec_driver_sql(f"PRAGMA {p}")).scalar_one()
                for p in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
        assert pragmas == ["wal", SQLITE_BUSY_TIMEOUT_MS, 1]
    finally:
        await db.dispose()


async def test_sqlite_concurrent_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vobot.db"
    db = Database(url)
    await db.migrate()

    async def read_then_write(n: int) -> None:
        # reading first is what makes a deferred transaction fail with "database is locked"
        async with db.session() as s:
            await s.execute(select(func.count()).select_from(AuditLog))
            await asyncio.sleep(0.01)
            s.add(audit_row(n))

    try:
        await asyncio.gather(*(read_then_write(n) for n in range(20)))
        assert await count_rows(db) == 20
    finally:
        await db.dispose()

    other = Database(url)
    try:
        assert await count_rows(other) == 20
    finally:
        await other.dispose()


CHILD_WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from sqlalchemy import func, select
from bot.store.db import Database
from bot.store.tables import AuditLog

async def main():
    db = Database(sys.argv[1])
    await db.ping()
    print("ready", flush=True)
    for n in range(50):
        async with db.session() as s:
            await s.execute(select(func.count()).select_from(AuditLog))
            s.add(AuditLog(at=datetime.now(UTC), slack_user_id="UCHILD", action="ack", incidents=[], result="ok"))
    await db.dispose()

asyncio.run(main())
"""


async def test_sqlite_second_process_writes_alongside(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vobot.db"
    db = Database(url)
    await db.migrate()
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD_WRITER, url, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[1]
        )
        assert child.stdout is not None
        assert await child.stdout.readline() == b"ready\n"
        for n in range(50):
            async with db.session() as s:
                await s.execute(select(func.count()).select_from(AuditLog))
                s.add(audit_row(n))
        assert await child.wait() == 0
        async with db.session() as s:
            child_rows = await s.scalar(select(func.count()).where(AuditLog.slack_user_id == "UCHILD"))
        assert (child_rows, await count_rows(db)) == (50, 100)
    finally:
        await db.dispose()


async def test_ping_succeeds(database: Database) -> None:
    await database.ping()


async def test_ping_names_the_unreachable_database_without_its_password() -> None:
    db = Database("postgresql://vobot:s3cret@127.0.0.1:1/vobot")
    try:
        with pytest.raises(
            DatabaseUnavailable,
            match=r"database postgresql\+psycopg://vobot:\*\*\*@127.0.0.1:1/vobot is unavailable: .+",
        ) as info:
            await db.ping()
        assert "s3cret" not in str(info.value)
    finally:
        await db.dispose()


async def test_a_lock_held_too_long_is_storage_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's busy timeout running out is one sentence for the user, not "something went wrong"."""
    monkeypatch.setattr("bot.store.db.SQLITE_BUSY_TIMEOUT_MS", 100)
    db = Database(f"sqlite:///{tmp_path}/vobot.db")
    await db.migrate()
    holder = sqlite3.connect(tmp_path / "vobot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(StorageBusy) as caught:
            async with db.session() as session:
                session.add(audit_row())
        assert "database is busy" in explain(caught.value, "/vo")
        holder.execute("ROLLBACK")
        # other failures are not dressed up as busy
        with pytest.raises(exc.OperationalError):
            async with db.session() as session:
                await session.execute(text("SELECT * FROM no_such_table"))
    finally:
        holder.close()
        await db.dispose()
