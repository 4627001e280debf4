"""Scheduled digests: which incidents a digest lists, and posting each scheduled slot exactly once.

Every replica schedules every digest (APScheduler, with a `SlotTrigger` whose slots `bot.core.schedule` computes
in the digest's time zone). When a slot comes, each replica tries to claim it — a unique row (digest, local slot
time) — and only the winner posts.
A slot missed while the bot was down is posted late only within `grace`, and only the latest one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.core.digest import Digest
from bot.core.incidents import IncidentFilter
from bot.core.refusals import PostRefused, Refusals
from bot.core.schedule import missed_slot, next_slot, previous_slot, slot_key
from bot.victorops.models import Incident, Phase

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=30)  # a digest later than this is news nobody needs
KEEP_CLAIMS = timedelta(days=90)
RETRY_AFTER = timedelta(minutes=1)  # a digest whose post failed is tried again this much later
RELOAD = 60.0  # seconds between checks for digests added or removed on another replica


class DigestStore(Protocol):
    """The digests as stored for every replica (bot.store.digests.DigestStore)."""

    async def all(self) -> list[Digest]: ...
    async def get(self, name: str) -> Digest | None: ...
    async def in_channel(self, channel: str) -> list[Digest]: ...
    async def put(self, digest: Digest) -> None: ...
    async def remove(self, name: str) -> bool: ...


class Claims(Protocol):
    async def claim(self, digest: str, slot: str) -> bool: ...
    async def posted(self, digest: str, slot: str, ts: str) -> None: ...
    async def release(self, digest: str, slot: str) -> None: ...
    async def last(self, digest: str) -> str | None: ...
    async def recent(self, digest: str, limit: int) -> list[tuple[str, str | None]]: ...
    async def prune(self, keep: timedelta) -> None: ...


class Incidents(Protocol):
    """The shared incident view (bot.core.incidents.IncidentView)."""

    async def all(self) -> list[Incident]: ...
    async def open(self) -> list[Incident]: ...


class Poster(Protocol):
    """Posting to a channel, as the chat draws it (bot.slack.digests.DigestPoster). Raises PostRefused when the
    chat refuses the channel for good (gone, archived, vobot not in it) or the token."""

    async def digest(self, digest: Digest, incidents: list[Incident]) -> str | None:
        """Post the digest; the message's ts, or None when it is empty and set to skip."""
        ...

    async def listing(self, channel: str, incidents: list[Incident]) -> None:
        """Post the incidents as a plain listing (a channel without a digest of its own)."""
        ...


class SlotTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler ships no types
    """APScheduler trigger for a digest's slots, computed by `bot.core.schedule`: APScheduler's own CronTrigger
    reads `1-5` as Tuesday to Saturday and doubles or shifts runs at daylight-saving changes."""

    __slots__ = ("schedule", "timezone")

    def __init__(self, schedule: str, timezone: str) -> None:
        self.schedule = schedule
        self.timezone = timezone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        after = max(previous_fire_time, now - timedelta(microseconds=1)) if previous_fire_time else now
        return next_slot(self.schedule, self.timezone, after)

    def __str__(self) -> str:
        return f"slots[{self.schedule} {self.timezone}]"


def digest_filter(digest: Digest) -> IncidentFilter:
    phases = frozenset(Phase(p) for p in digest.phases) or frozenset({Phase.UNACKED, Phase.ACKED})
    return IncidentFilter(phases=phases, routes=frozenset(digest.routes), teams=frozenset(digest.teams))


class Digests:
    def __init__(
        self,
        store: DigestStore,
        claims: Claims,
        view: Incidents,
        *,
        poster: Poster,
        grace: timedelta = GRACE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._claims = claims
        self._view = view
        self.poster = poster
        self._grace = grace
        self._now = now
        self._scheduler: AsyncIOScheduler | None = None
        self.refusals = Refusals(now)  # channels Slack refused for good lately: no scheduled post there

    async def incidents_for(self, digest: Digest) -> list[Incident]:
        return digest_filter(digest).select(await self._view.all())

    async def send(self, digest: Digest) -> str | None:
        """Post the digest now, whatever the schedule or a hold (`/vo digest now`, `vobot digest send`)."""
        try:
            ts = await self.poster.digest(digest, await self.incidents_for(digest))
        except PostRefused as refused:
            if self.refusals.hold(refused):
                log.warning("digest %s not posted to %s: %s", digest.name, digest.channel, refused.sentence)
            raise
        self.refusals.clear(digest.channel)
        return ts

    async def run_slot(self, name: str, slot: datetime | None = None) -> bool:
        """Post the digest's slot if this replica claims it first; True when it did."""
        digest = await self.store.get(name)
        if digest is None:
            return False
        slot = slot or previous_slot(digest.schedule, digest.timezone, self._now())
        if slot is None or self.refusals.held(digest.channel):
            return False  # no slot, or Slack will refuse it again (reported when first refused)
        key = slot_key(slot, digest.timezone)
        if not await self._claims.claim(digest.name, key):
            return False  # another replica has it
        try:
            ts = await self.send(digest)
        except PostRefused:
            # Slack will refuse it again until a person acts: no retry; the hold ends in 30 minutes.
            await self._claims.release(digest.name, key)
            return False
        except Exception:
            # Not posted: give the slot back and try again in a minute, while the digest is still news.
            await self._claims.release(digest.name, key)
            self._retry(name, slot)
            raise
        if ts:
            await self._claims.posted(digest.name, key, ts)
        log.info("digest %s for %s %s", name, key, "posted" if ts else "skipped (nothing open)")
        return True

    def _retry(self, name: str, slot: datetime) -> None:
        retry_at = self._now() + RETRY_AFTER
        if self._scheduler is not None and retry_at - slot < self._grace:
            self._scheduler.add_job(self.run_slot, "date", run_date=retry_at, args=[name, slot])
            log.warning("digest %s could not be posted; trying again at %s", name, retry_at.isoformat())

    async def last_posted(self, name: str) -> str | None:
        """The local slot time of the digest's last posted message, if any."""
        return next((slot for slot, ts in await self._claims.recent(name, 10) if ts), None)

    async def catch_up(self) -> None:
        """On start: post, late, the one slot of each digest missed while down, if still within grace."""
        now = self._now()
        await self._claims.prune(KEEP_CLAIMS)
        for digest in runnable(await self.store.all(), now):
            slot = missed_slot(digest.schedule, digest.timezone, now, self._grace, await self._claims.last(digest.name))
            if slot is None:
                continue
            try:
                await self.run_slot(digest.name, slot)
            except Exception as exc:  # one digest's failure must not keep the bot from starting
                log.warning(
                    "digest %s: its missed slot was not posted (%s); the bot runs on", digest.name, type(exc).__name__
                )

    # ---- the scheduler ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.start()
        await self.reload()
        self._scheduler.add_job(self.reload, "interval", seconds=RELOAD, id="digests:reload", coalesce=True)
        await self.catch_up()

    async def reload(self) -> None:
        """Schedule the digests as stored now (they change from Slack, on any replica)."""
        if self._scheduler is None:
            return
        digests = {d.name: d for d in runnable(await self.store.all(), self._now())}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("digest:") and job.id.removeprefix("digest:") not in digests:
                job.remove()
        for digest in digests.values():
            trigger = SlotTrigger(digest.schedule, digest.timezone)
            job_id = f"digest:{digest.name}"
            existing = self._scheduler.get_job(job_id)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            self._scheduler.add_job(
                self.run_slot,
                trigger,
                args=[digest.name],
                id=job_id,
                replace_existing=True,
                coalesce=True,  # several missed fires run once
                misfire_grace_time=int(self._grace.total_seconds()),
            )

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def runnable(digests: list[Digest], now: datetime) -> list[Digest]:
    """The digests whose schedule cron takes: an older version stored some it refuses (30 February), which are
    logged and never run rather than keeping the others from running."""
    found = []
    for digest in digests:
        try:
            next_slot(digest.schedule, digest.timezone, now)
        except ValueError as exc:
            log.warning("digest %r is not scheduled: %s; change or remove it", digest.name, exc)
            continue
        found.append(digest)
    return found
