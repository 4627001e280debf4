"""One replica, run as its own process by tests/test_queue_store.py: `python -m tests.store_worker KIND URL NAME`.

It connects, prints `ready`, reads the start time (epoch seconds) and the duration from stdin, works until
then, and prints JSON: for `budget`, the times it was granted a call (spec 5/2s); for `lease`, the
[from, until] intervals in which it held the lease; for `claims` (which ignores the duration), the digest
slots it won of CLAIMED_SLOTS.
"""

import asyncio
import json
import random
import sys
import time
from datetime import date, timedelta

from bot.store.budget import SharedWindow
from bot.store.db import Database
from bot.store.digests import SlotClaims
from bot.store.lease import Lease
from bot.victorops.limits import RateSpec

LEASE_TTL = 0.5
RENEW_EVERY = 0.1
HOLD_FOR = 0.5  # then release, so that the other replica gets turns
CLAIMED_SLOTS = [f"{date(2026, 1, 1) + timedelta(days=n)}T09:00" for n in range(100)]  # "morning", 100 days


class RecordingClock:
    """time.time, remembering the last reading: the stamp a grant or lease was given with."""

    last = 0.0

    def __call__(self) -> float:
        self.last = time.time()
        return self.last


async def budget(db: Database, clock: RecordingClock, until: float) -> list[float]:
    window = SharedWindow(db, "incidents", RateSpec(5, 2.0), clock)
    granted: list[float] = []
    while time.time() < until:
        wait = await window.reserve()
        if wait == 0:
            granted.append(clock.last)  # and ask again at once: the two processes contend for every slot
        else:
            await asyncio.sleep(wait)
    return granted


async def lease(db: Database, clock: RecordingClock, until: float, holder: str) -> list[list[float]]:
    lease = Lease(db, "dispatcher", holder, ttl=LEASE_TTL, clock=clock)
    held: list[list[float]] = []
    since: float | None = None
    while time.time() < until:
        if await lease.acquire():
            # from when we know we hold it, until it runs out by the stamp it was written with
            held.append([time.time(), clock.last + LEASE_TTL])
            since = since or held[-1][0]
            if held[-1][0] - since >= HOLD_FOR:
                released = time.time()  # ends every renewal's interval, not only the last one
                held = [[start, min(end, released)] for start, end in held]
                await lease.release()
                since = None
                await asyncio.sleep(2 * RENEW_EVERY)
                continue
        else:
            since = None
        await asyncio.sleep(RENEW_EVERY)
    return held


async def claims(db: Database, holder: str) -> list[str]:
    """Claim every slot, one after another on the connection already open; the ones won.

    In an order of its own: in the same order, the replica a little ahead would win every slot, since the
    other's insert waits for its commit and then fails.
    """
    slot_claims = SlotClaims(db, holder)
    return [
        slot for slot in random.sample(CLAIMED_SLOTS, len(CLAIMED_SLOTS)) if await slot_claims.claim("morning", slot)
    ]


async def main(kind: str, url: str, name: str) -> None:
    db = Database(url)
    try:
        await db.ping()  # connect before the start, so both processes begin together
        print("ready", flush=True)
        start, duration = map(float, (await asyncio.to_thread(sys.stdin.readline)).split())
        await asyncio.sleep(start - time.time())
        clock = RecordingClock()
        if kind == "budget":
            result: object = await budget(db, clock, start + duration)
        elif kind == "claims":
            result = await claims(db, name)
        else:
            result = await lease(db, clock, start + duration, name)
        print(json.dumps(result), flush=True)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
