"""The feed's card and storm-minute rows on SQLite and Postgres: the database decides who posts and who edits."""

from __future__ import annotations

import asyncio

from bot.store.db import Database
from bot.store.feed_cards import STALE, CardStore, RollupStore
from bot.victorops.models import Phase


async def test_two_claims_race_and_one_wins(database: Database) -> None:
    replicas = [CardStore(database, f"r{i}") for i in range(4)]
    won = await asyncio.gather(*(r.claim("7", "C1", Phase.UNACKED) for r in replicas))
    assert sorted(won) == [False, False, False, True]
    assert await replicas[0].claim("7", "C2", Phase.UNACKED)  # another channel is another card


async def test_release_frees_only_a_card_not_posted(database: Database) -> None:
    cards = CardStore(database, "r1")
    await cards.claim("7", "C1", Phase.UNACKED)
    await cards.release("7", "C1")
    assert await cards.claim("7", "C1", Phase.UNACKED)
    await cards.posted("7", "C1", "1.000")
    await cards.release("7", "C1")
    assert not await cards.claim("7", "C1", Phase.UNACKED)
    [card] = await cards.cards(["7", "8"])
    assert (card.number, card.channel, card.ts, card.phase) == ("7", "C1", "1.000", Phase.UNACKED)


async def test_a_stale_claim_never_posted_is_taken_over_once(database: Database) -> None:
    now = [1_000_000.0]
    replicas = [CardStore(database, f"r{i}", lambda: now[0]) for i in range(4)]
    assert await replicas[0].claim("7", "C1", Phase.UNACKED)  # ... and the process dies before its ts is stored
    now[0] += STALE.total_seconds() - 1
    assert not any(await asyncio.gather(*(r.claim("7", "C1", Phase.UNACKED) for r in replicas[1:])))  # still fresh
    assert [c.number for c in await replicas[1].cards(["7"])] == ["7"]
    now[0] += 2
    assert await replicas[1].cards(["7"]) == []  # stale: no card yet, so a reconcile claims it
    won = await asyncio.gather(*(r.claim("7", "C1", Phase.ACKED) for r in replicas[1:]))
    assert sorted(won) == [False, False, True]
    assert not await replicas[0].claim("7", "C1", Phase.ACKED)  # the new claim is fresh
    [card] = await replicas[0].cards(["7"])
    assert (card.ts, card.phase) == (None, Phase.ACKED)


async def test_a_posted_card_and_a_rolled_up_claim_never_go_stale(database: Database) -> None:
    now = [1_000_000.0]
    cards = CardStore(database, "r1", lambda: now[0])
    await cards.claim("8", "C1", Phase.UNACKED)
    await cards.posted("8", "C1", "1.000")
    await cards.claim("9", "C1", Phase.UNACKED)
    await cards.rolled_up("9", "C1")
    now[0] += 10 * STALE.total_seconds()
    assert not await cards.claim("8", "C1", Phase.UNACKED)
    assert not await cards.claim("9", "C1", Phase.UNACKED)
    assert sorted((c.number, c.ts) for c in await cards.cards(["8", "9"])) == [("8", "1.000"), ("9", None)]


async def test_advance_moves_forward_once(database: Database) -> None:
    replicas = [CardStore(database, f"r{i}") for i in range(3)]
    await replicas[0].claim("7", "C1", Phase.UNACKED)
    assert not await replicas[0].advance("7", "C1", Phase.ACKED)  # not posted yet: nothing to edit
    await replicas[0].posted("7", "C1", "1.000")
    moved = await asyncio.gather(*(r.advance("7", "C1", Phase.ACKED) for r in replicas))
    assert sorted(moved) == [False, False, True]
    assert not await replicas[1].advance("7", "C1", Phase.UNACKED)
    assert not await replicas[1].advance("7", "C1", Phase.ACKED)
    assert await replicas[2].advance("7", "C1", Phase.RESOLVED)
    assert not await replicas[0].advance("7", "C1", Phase.ACKED)
    [card] = await replicas[0].cards(["7"])
    assert card.phase is Phase.RESOLVED


async def test_a_minutes_positions_are_given_once_each(database: Database) -> None:
    replicas = [RollupStore(database) for _ in range(3)]
    numbers = [str(n) for n in range(30)]
    positions = await asyncio.gather(*(replicas[i % 3].add("C1", "2026-11-26T09:10", n) for i, n in enumerate(numbers)))
    assert sorted(positions) == list(range(30))
    assert await replicas[0].add("C1", "2026-11-26T09:10", numbers[3]) == positions[3]  # the same again
    assert await replicas[0].add("C1", "2026-11-26T09:11", "99") == 0  # a new minute
    rollup = await replicas[1].rollup("C1", "2026-11-26T09:10", 25)
    assert len(rollup.numbers) == 5 and rollup.ts is None
    await replicas[2].posted("C1", "2026-11-26T09:10", "5.000")
    assert (await replicas[0].rollup("C1", "2026-11-26T09:10", 25)).ts == "5.000"
    assert (await replicas[0].rollup("C2", "2026-11-26T09:10", 25)).numbers == ()


async def test_a_new_minute_drops_the_channels_minutes_older_than_a_day(database: Database) -> None:
    rollups = RollupStore(database)
    await rollups.add("C1", "2026-11-25T09:09", "1")
    await rollups.add("C2", "2026-11-25T09:09", "2")
    await rollups.add("C1", "2026-11-26T09:09", "3")  # exactly a day later: kept
    assert (await rollups.rollup("C1", "2026-11-25T09:09", 0)).numbers == ("1",)
    await rollups.add("C1", "2026-11-26T09:10", "4")
    assert (await rollups.rollup("C1", "2026-11-25T09:09", 0)).numbers == ()
    assert (await rollups.rollup("C2", "2026-11-25T09:09", 0)).numbers == ("2",)  # another channel's
    assert (await rollups.rollup("C1", "2026-11-26T09:09", 0)).numbers == ("3",)
