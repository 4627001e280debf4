"""The latest answer of a VictorOps read (e.g. the incident list), shared so that replicas do not each fetch it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

from sqlalchemy import delete, select, text, update

from bot.store.db import Database
from bot.store.tables import SnapshotRow


def _lock_id(name: str) -> int:
    """A Postgres advisory lock key for this snapshot, the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.sha256(f"vobot:snapshot:{name}".encode()).digest()[:8], "big", signed=True)


class Snapshots:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> tuple[float, str] | None:
        """(fetched_at, body) of the stored snapshot, or None before the first put."""
        async with self._db.reading() as session:
            row = (
                await session.execute(select(SnapshotRow.fetched_at, SnapshotRow.body).where(SnapshotRow.name == name))
            ).first()
            return (row.fetched_at, row.body) if row else None

    async def put(self, name: str, fetched_at: float, body: str) -> None:
        """Store a snapshot, replacing the one before (one statement, so two replicas writing at once is fine)."""
        async with self._db.session() as session:
            latest = {"fetched_at": fetched_at, "body": body}
            await session.execute(self._db.upsert(SnapshotRow, {"name": name, **latest}, ["name"], update=latest))

    async def expire(self, name: str) -> None:
        """Make the snapshot too old for every reader (one UPDATE: its body, perhaps newer than ours, is kept)."""
        async with self._db.session() as session:
            await session.execute(update(SnapshotRow).where(SnapshotRow.name == name).values(fetched_at=0.0))

    # A snapshot's items are rows of their own, named "<snapshot>/<key>" (e.g. "incidents/1234").

    async def put_items(self, name: str, at: float, bodies: Mapping[str, str]) -> None:
        """Store items changed since snapshot `name` was asked for, each replacing its own row only."""
        if not bodies:
            return
        async with self._db.session() as session:
            for key, body in bodies.items():
                latest = {"fetched_at": at, "body": body}
                row = {"name": f"{name}/{key}", **latest}
                await session.execute(self._db.upsert(SnapshotRow, row, ["name"], update=latest))

    async def items(self, name: str, keys: Iterable[str] | None = None) -> dict[str, str]:
        """The stored items of snapshot `name` (those of `keys`, or all): key -> body."""
        prefix = f"{name}/"
        chosen = (
            SnapshotRow.name.startswith(prefix, autoescape=True)
            if keys is None
            else SnapshotRow.name.in_([prefix + k for k in keys])
        )
        async with self._db.reading() as session:
            rows = (await session.execute(select(SnapshotRow.name, SnapshotRow.body).where(chosen))).all()
            return {row.name.removeprefix(prefix): row.body for row in rows}

    async def drop_items(self, name: str, before: float) -> None:
        """Forget the items stored before a new snapshot `name` was asked for: it has them."""
        async with self._db.session() as session:
            prefix = SnapshotRow.name.startswith(f"{name}/", autoescape=True)
            await session.execute(delete(SnapshotRow).where(prefix, SnapshotRow.fetched_at < before))

    @asynccontextmanager
    async def refresh_lock(self, name: str) -> AsyncIterator[None]:
        """Hold while fetching snapshot `name`, and re-read it once in: replicas then fetch one at a time.

        Postgres: a session-level advisory lock on a connection of its own, committed at once, so no
        transaction stays open while VictorOps answers (pg_advisory_xact_lock would need one). On any error,
        even a cancellation while waiting, the connection is closed instead of going back to the pool:
        closing releases the lock, a pooled connection would go on holding it.
        SQLite: nothing. It serves one process, which already fetches once at a time, and its only lock
        (BEGIN IMMEDIATE) would stop every writer for as long as the fetch takes.
        """
        if self._db.url.get_backend_name() != "postgresql":
            yield
            return
        params = {"id": _lock_id(name)}
        async with self._db.engine.connect() as connection:
            try:
                await connection.execute(text("SELECT pg_advisory_lock(:id)"), params)
                await connection.commit()
                yield
                await connection.execute(text("SELECT pg_advisory_unlock(:id)"), params)
                await connection.commit()
            except BaseException:
                await connection.invalidate()
                raise
