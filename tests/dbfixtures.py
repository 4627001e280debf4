"""Database fixtures: each test gets an empty SQLite file and an empty Postgres schema.

Register with `pytest_plugins = ["tests.dbfixtures"]` in tests/conftest.py.

Postgres: `VOBOT_TEST_POSTGRES_URL` (a libpq URL, default postgresql://postgres@127.0.0.1:5432/test).
When none answers, Postgres cases are skipped, unless `VOBOT_REQUIRE_POSTGRES=1` (CI), which fails them.
"""

import functools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql

from bot.store.db import Database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("VOBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@functools.cache
def _postgres_problem() -> str | None:
    """Why Postgres cannot be used, or None; asked once per test session."""
    url = _postgres_url()
    try:
        with psycopg.connect(url, connect_timeout=2):
            pass
    except psycopg.Error as exc:
        return f"no PostgreSQL at {url}: {exc}; set VOBOT_TEST_POSTGRES_URL or start one"
    return None


def postgres_url_or_skip() -> str:
    """The test Postgres URL (libpq form); skips the calling test when none answers, or fails it in CI."""
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("VOBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"VOBOT_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return _postgres_url()


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema, dropped afterwards.

    libpq's `options=-csearch_path=<schema>` sets search_path at connect time, so unqualified names
    (our tables, Alembic's alembic_version) land in that schema, whatever pool or driver opens them.
    """
    base = postgres_url_or_skip()
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """A Postgres URL on a fresh schema (for tests that need Postgres only)."""
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite (a file in tmp_path) and once on Postgres (a fresh schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vobot.db'}"
    else:
        with fresh_postgres_schema() as url:
            yield url


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated Database on `database_url`, disposed after the test."""
    db = Database(database_url)
    await db.migrate()
    yield db
    await db.dispose()
