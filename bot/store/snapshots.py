"""The latest answer of a VictorOps read (e.g. the incident list), shared so that replicas do not each fetch it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select, text

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
