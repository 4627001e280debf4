"""The link race: N signed requests at once link N different Slack users to one VictorOps user (heidi).

Admin links (`/vo link @x heidi`, one admin) and self-links (`/vo link heidi` with
`allow_unverified_self_link`), N = 10 and 50, on SQLite and on Postgres (skipped, with the reason, when
none answers at VOBOT_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).
Target: links held by heidi: 1, and N-1 told it is taken.
Run: .venv/bin/python benchmarks/bench_link_race.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from bot.sim.slack import SlackUser
from bot.sim.stack import LocalStack, local_stack
from bot.store.links import LinkStore

ADMIN = "U0ADMIN1"
CHANNEL = "C0OPS"
TAKEN = "`heidi` is already linked to"
POSTGRES_URL = os.environ.get("VOBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_problem() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES_URL}: {str(exc).strip().splitlines()[0]}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL on a new, empty schema, dropped afterwards."""
    schema = f"bench_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@asynccontextmanager
async def bot(folder: Path, database_url: str, *, self_links: bool) -> AsyncIterator[LocalStack]:
    config = {"admins": [ADMIN], "email_matching": False, "allow_unverified_self_link": self_links}
    async with local_stack(folder, config=config, VOBOT_DATABASE_URL=database_url, VOBOT_BATCH_WINDOW="0.1") as stack:
        yield stack


async def race(folder: Path, database_url: str, n: int, *, self_links: bool) -> tuple[int, int, float]:
    """Links held by heidi, requests refused as taken, seconds until every answer arrived."""
    async with bot(folder, database_url, self_links=self_links) as stack:
        people = [f"U0RACE{i:03d}" for i in range(n)]
        for i, user_id in enumerate(people):
            stack.slack.add_user(SlackUser(user_id, f"racer{i}", f"Racer {i}", f"racer{i}@example.com", "UTC"))
        start = time.monotonic()
        if self_links:
            await asyncio.gather(*(stack.driver.command(u, CHANNEL, "link heidi") for u in people))
        else:
            await asyncio.gather(*(stack.driver.command(ADMIN, CHANNEL, f"link <@{u}> heidi") for u in people))
        answers = await stack.until(lambda: (m := stack.slack.ephemerals()) and len(m) >= n and m, within=60)
        elapsed = time.monotonic() - start
        held = len(await LinkStore(stack.vobot.store.db).holders("heidi"))
        return held, sum(TAKEN in (m.text or "") for m in answers), elapsed


async def main() -> None:
    print("N concurrent signed requests linking N different Slack users to VictorOps user heidi:")
    problem = postgres_problem()
    with tempfile.TemporaryDirectory() as folder:
        for database in ("sqlite", "postgres"):
            if database == "postgres" and problem:
                print(f"  postgres: skipped ({problem})")
                continue
            for n in (10, 50):
                for self_links in (False, True):
                    kind = "self-links " if self_links else "admin links"
                    where = Path(folder, f"{database}-{n}-{kind.strip()}")
                    if database == "sqlite":
                        figures = await race(where, f"sqlite:///{where}/vobot.db", n, self_links=self_links)
                    else:
                        with postgres_schema() as url:
                            figures = await race(where, url, n, self_links=self_links)
                    held, refused, elapsed = figures
                    print(
                        f"  {database:8s} N={n:<3d} {kind}: links held by heidi: {held} "
                        f"(of {n} requests; {refused} refused)  {elapsed:.1f} s"
                    )
    print("  target: links held by heidi: 1 (of N requests; N-1 refused)")


if __name__ == "__main__":
    asyncio.run(main())
