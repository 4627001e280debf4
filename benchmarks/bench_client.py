"""Client overhead: list-incidents calls per second against the simulator, budgets off.

Baseline in the same run: a bare httpx.AsyncClient doing the same GET (no budget, no parsing), so the
difference is what our client adds (budget bookkeeping, error mapping, model parsing).
Run: .venv/bin/python benchmarks/bench_client.py
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from pydantic import SecretStr

from bot.sim.server import ServerThread
from bot.sim.victorops import SimConfig, build_app
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED, RateSpec

CALLS = 400
CONCURRENCY = 4


async def rate(call: Callable[[], Awaitable[object]]) -> float:
    for _ in range(20):  # warm up the connection pool
        await call()
    start = time.perf_counter()

    async def worker() -> None:
        for _ in range(CALLS // CONCURRENCY):
            await call()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return CALLS / (time.perf_counter() - start)


async def main() -> None:
    off = RateSpec.parse("off")
    with ServerThread(build_app(SimConfig(incidents=off, reporting=off, lookups=off))) as sim:
        headers = {"X-VO-Api-Id": "demo", "X-VO-Api-Key": "demo"}
        async with httpx.AsyncClient(base_url=sim.url, headers=headers) as bare:

            async def raw() -> None:
                (await bare.get("/api-public/v1/incidents")).raise_for_status()

            bare_rate = await rate(raw)
        async with VictorOpsClient(base_url=sim.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED) as vo:
            ours = await rate(vo.list_incidents)
            count = len(await vo.list_incidents())
    print(f"{CALLS} GET /api-public/v1/incidents ({count} incidents each), concurrency {CONCURRENCY}:")
    print(f"bare httpx (baseline):  {bare_rate:7.0f} calls/s")
    print(f"VictorOpsClient:        {ours:7.0f} calls/s   ({ours / bare_rate:.0%} of baseline)")


if __name__ == "__main__":
    asyncio.run(main())
