"""Issue 12, item 7 scaled down: many people clicking Acknowledge at once at a tight budget. Every click must
end in a card that shows its outcome, and each person is told once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.sim.slack import Message
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.victorops.limits import RateSpec
from tests.harness import CHANNEL, OFF, Bot, running_bot, texts

pytestmark = pytest.mark.slow  # forty clicks at a tight budget

PEOPLE = {
    "U0ALICE": "alice",
    "U0BOB": "bob.martinez",
    "U0CAROL": "cchen",
    "U0DAVE": "dave",
    "U0ERIN": "erin.walsh",
    "U0FRANK": "frank",
    "U0GRACE": "gkim",
    "U0HEIDI": "heidi",
}
PER_PERSON = 5


def acked_cards(message: Message, numbers: list[str]) -> list[str]:
    """The numbers whose card in `message` says it was acknowledged."""
    return [n for n in numbers if "Acknowledged by" in card_of(message, n)]


def card_of(message: Message, number: str) -> str:
    return " ".join(str(b) for b in message.blocks if str(b.get("block_id", "")).startswith(f"inc-{number}"))


async def test_forty_clicks_by_eight_people_all_end_showing_acknowledged(tmp_path: Path) -> None:
    state = SimState(SimConfig(incidents=RateSpec.parse("3/4s"), reporting=OFF, lookups=OFF))
    async with running_bot(
        tmp_path, state=state, users=PEOPLE, VICTOROPS_RATE_LIMIT="3/4s", VOBOT_BATCH_WINDOW="0.2"
    ) as bot:
        people = list(PEOPLE)
        bot.driver.timeout = 15  # 40 clicks at once on two shared cores: this test is about the cards, not ack time
        # two public listings of 20 cards; four people click five cards each on each listing, all at once
        numbers = {
            u: [bot.vo.trigger(f"Burst {u} {k}", f"burst{i // 4}") for k in range(PER_PERSON)]
            for i, u in enumerate(people)
        }
        listings: dict[str, Message] = {}
        for route in ("burst0", "burst1"):
            before = len(bot.slack.messages(CHANNEL))
            await bot.driver.command("U0ALICE", CHANNEL, f"list route:{route} public")
            await bot.until(lambda b=before: len(bot.slack.messages(CHANNEL)) > b)  # type: ignore[misc]
            listings[route] = bot.slack.messages(CHANNEL)[-1]
        where = {u: listings[f"burst{i // 4}"] for i, u in enumerate(people)}
        await asyncio.gather(
            *(
                bot.driver.click(user, where[user], ActionId.ACK, block_id=f"inc-{n}-actions")
                for user in people
                for n in numbers[user]
            )
        )
        everything = [n for ns in numbers.values() for n in ns]
        await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in everything), within=40)

        def shown() -> bool:
            return all(acked_cards(now(bot, where[u]), numbers[u]) == numbers[u] for u in people)

        await bot.until(shown, within=10)
        assert not any("Queued" in texts(now(bot, m)) for m in listings.values())


def now(bot: Bot, message: Message) -> Message:
    return bot.slack.find_message(message.ts) or message
