"""The database: URL handling, engine and sessions, migrations, readiness."""

from __future__ import annotations

import ast
import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, ColumnElement, Connection, Insert, event, inspect, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.core.errors import StorageBusy

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

ACCEPTED_SCHEMES = (
    "sqlite:///PATH, postgresql://… or postgres://… (optionally with a driver, e.g. postgresql+psycopg://)"
)

# The first replica to start takes this lock and migrates; the others wait, then find nothing to do.
_MIGRATION_LOCK_ID = 0x766F626F74  # "vobot"

SQLITE_BUSY_TIMEOUT_MS = 30000  # a busy machine can hold a write (a migration) for seconds

PING_TIMEOUT_S = 5.0  # readiness must answer, even when a Postgres host drops packets


class DatabaseUnavailable(Exception):
    """The database did not answer; the message names it (without password) and says why."""


def normalize_url(url: str, *, sync: bool = False) -> str:
    """Turn the user's database URL into one naming the driver the project uses.

    `sqlite:///x` gets aiosqlite (or stays as is for sync use); `postgresql://` and `postgres://` get
    psycopg (3, which does both). A URL that already names a driver is kept.
    """
    scheme, sep, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    if dialect == "postgres":
        dialect = "postgresql"
    if not sep or dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database URL scheme {scheme!r}: use {ACCEPTED_SCHEMES}")
    if driver:
        return f"{dialect}+{driver}://{rest}"
    if dialect == "postgresql":
        return f"postgresql+psycopg://{rest}"
    return f"sqlite://{rest}" if sync else f"sqlite+aiosqlite://{rest}"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code.

    `Database.migrate` hands env.py its connection. To run Alembic commands yourself, pass a URL, e.g.
    `command.revision(alembic_config("sqlite:///dev.db"), "add x", autogenerate=True)`.
    """
    from alembic.config import Config  # Alembic is loaded only when a migration must run: it is heavy

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def check_url(url: str) -> URL:
    """The parsed driver URL; ValueError with one clear sentence when it cannot work."""
    normalized = normalize_url(url)
    try:
        parsed = make_url(normalized)
    except ArgumentError:
        raise ValueError("not a database URL; e.g. sqlite:///vobot.db or postgresql://user@host/db") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise ValueError("the port is not a number") from None
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_folder(parsed.database)
    return parsed


# Connections per replica on Postgres: 5 kept, up to 10 more under a burst (benchmarks/bench_scale.py: three
# replicas used at most ~30 between them at 960 webhooks a minute, and all 45 only once the machine was out of
# CPU). Replicas x 15 must stay below Postgres' max_connections (default 100, 3 of them reserved).
POSTGRES_POOL = {"pool_size": 5, "max_overflow": 10}


class Database:
    """Owns the async engine and session factory for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        # pre-ping: a Postgres restart or idle timeout leaves dead connections in the pool.
        pool = POSTGRES_POOL if self.url.get_backend_name() == "postgresql" else {}
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=True, **pool)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(self.engine.execution_options(vobot_read_only=True), expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    def upsert(
        self,
        table: Any,
        values: Mapping[str, Any],
        keys: Sequence[str],
        update: Mapping[str, Any] | None = None,
        where: ColumnElement[bool] | None = None,
    ) -> Insert:
        """INSERT `values` … ON CONFLICT (`keys`) DO UPDATE SET `update` (where `where` holds), or DO NOTHING
        without `update`: one statement, so two writers of one row cannot both find it missing. SQLite and
        Postgres say it alike, each with its own dialect's insert."""
        insert = postgresql.insert if self.url.get_backend_name() == "postgresql" else sqlite.insert
        statement: postgresql.Insert | sqlite.Insert = insert(table).values(values)
        if update is None:
            return statement.on_conflict_do_nothing(index_elements=keys)
        return statement.on_conflict_do_update(index_elements=keys, set_=update, where=where)

    @property
    def safe_url(self) -> str:
        """The URL with the password masked, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """`async with db.session() as s:` one transaction, committed at the end, rolled back on error."""
        with busy_as_storage_busy():
            async with self.sessionmaker.begin() as session:
                yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: on SQLite it does not take the write lock, so readers never queue
        behind writers (WAL lets them read alongside)."""
        with busy_as_storage_busy():
            async with self._readers.begin() as session:
                yield session

    async def migrate(self) -> None:
        """Apply Alembic migrations up to head; a no-op when already there."""
        # Migrations are serialised before Alembic runs: by this lock on Postgres, by BEGIN IMMEDIATE on
        # SQLite. That covers replicas starting together and, since Alembic keeps its context in module
        # globals, two migrations in one process too.
        await self.ping()  # an unreachable database is one sentence naming it, not a driver traceback
        if await self.current_revision() == await self.head_revision():
            return  # the usual start: nothing to do, and no need to load Alembic
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            await conn.run_sync(_upgrade_to_head)

    async def current_revision(self) -> str | None:
        """The revision the database is at; None before the first migration."""
        async with self.engine.connect() as conn:
            if not await conn.run_sync(lambda c: inspect(c).has_table("alembic_version")):
                return None
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()

    async def head_revision(self) -> str | None:
        """The newest revision this code ships: the one no other revision names as its predecessor."""
        return await asyncio.to_thread(head_revision)

    async def ping(self) -> None:
        """Run `SELECT 1`; raise DatabaseUnavailable when that fails or takes longer than PING_TIMEOUT_S."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_S), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except TimeoutError as exc:
            raise DatabaseUnavailable(f"database {self.safe_url} did not answer within {PING_TIMEOUT_S:g} s") from exc
        except Exception as exc:
            # the driver's own first line (e.g. "connection refused"), without SQLAlchemy's SQL and links
            reason = str(getattr(exc, "orig", None) or exc).strip().partition("\n")[0] or type(exc).__name__
            raise DatabaseUnavailable(f"database {self.safe_url} is unavailable: {reason}") from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


# SQLite after busy_timeout; Postgres' lock_not_available and query_canceled (lock or statement timeout).
_BUSY_SQLSTATES = {"55P03", "57014"}


def is_busy(error: OperationalError) -> bool:
    original = error.orig
    if getattr(original, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return "database is locked" in str(original) or "database table is locked" in str(original)


@contextmanager
def busy_as_storage_busy() -> Iterator[None]:
    """A lock held past its timeout is the core's StorageBusy (one sentence for the user), not a crash."""
    try:
        yield
    except OperationalError as exc:
        if is_busy(exc):
            raise StorageBusy from exc
        raise


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=(.+)$", re.MULTILINE)


def _revisions() -> dict[str, str | None] | None:
    """Each revision this code ships and its predecessor, read from the files' own `revision` and
    `down_revision` lines without loading Alembic; None when the history is not one line (a merge revision
    names two predecessors) or a file says it in a way this cannot read."""
    found: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        try:
            lines = {name: ast.literal_eval(value.strip()) for name, value in _REVISION.findall(source)}
        except (ValueError, SyntaxError):
            return None
        if "revision" not in lines:
            continue
        revision, down = lines["revision"], lines.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None
        found[revision] = down
    return found


def known_revisions() -> set[str]:
    revisions = _revisions()
    if revisions is None:
        return {script.revision for script in _script_directory().walk_revisions()}
    return set(revisions)


def head_revision() -> str | None:
    """The newest revision: the one no other revision names as its predecessor (None when there are several).
    Alembic's ScriptDirectory answers when the files alone cannot (a merge revision)."""
    revisions = _revisions()
    heads = set(revisions) - set(revisions.values()) if revisions is not None else set(_script_directory().get_heads())
    return heads.pop() if len(heads) == 1 else None


def _script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def _check_sqlite_folder(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if not folder.is_dir():
        raise ValueError(
            f"the folder of the SQLite database {database} does not exist: create {folder} "
            "(an absolute path takes four slashes: sqlite:////var/lib/vobot/vobot.db)"
        )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 driver; _sqlite_on_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Wait for a competing writer (this process or another) instead of failing with "database is locked";
    # set first, so that switching to WAL waits too.
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    # WAL: cheaper commits, and outside readers (a backup, the sqlite3 shell) do not block our writers.
    _to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode = WAL`, waiting as busy_timeout would: while another connection switches a new
    database to WAL or migrates it, SQLite answers "database is locked" at once, without its busy handler
    (processes starting together on one new file, e.g. `vobot run` and `vobot check`)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # in the driver's own thread, not the event loop


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, waiting up to busy_timeout. With a deferred BEGIN, a
    # transaction that reads and then writes fails at once ("database is locked") when another
    # connection wrote in between. This also makes DDL (migrations) transactional.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("vobot_read_only") else "BEGIN IMMEDIATE")
