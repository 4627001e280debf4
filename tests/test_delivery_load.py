"""Issue 12, item 7 scaled down: many people clicking Acknowledge at once at a tight budget. Every click must
end in a card that shows its outcome, and each person is told once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.sim.slack import Message
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from bot.victorops.limits import RateSpec
from tests.harness import CHANNEL, OFF, running_bot, texts

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
        routes = {user: f"burst{i}" for i, user in enumerate(PEOPLE)}
        numbers = {u: [bot.vo.trigger(f"Burst {u} {k}", r) for k in range(PER_PERSON)] for u, r in routes.items()}
        listings: dict[str, Message] = {}
        for user, route in routes.items():  # each person's own listing, public or only for them
            where = "public" if len(listings) % 2 else ""
            before = len(bot.slack.messages(CHANNEL)) + len(bot.slack.ephemerals(user))
            await bot.driver.command(user, CHANNEL, f"list route:{route} {where}".strip())
            await bot.until(lambda: len(bot.slack.messages(CHANNEL)) + len(bot.slack.ephemerals(user)) > before)
            listings[user] = (bot.slack.messages(CHANNEL) if where else bot.slack.ephemerals(user))[-1]
        await asyncio.gather(
            *(
                bot.driver.click(user, listings[user], ActionId.ACK, block_id=f"inc-{n}-actions")
                for user in PEOPLE
                for n in numbers[user]
            )
        )
        everything = [n for ns in numbers.values() for n in ns]
        await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in everything), within=40)

        def shown() -> bool:
            return all(
                acked_cards(bot.slack.find_message(listings[u].ts) or listings[u], numbers[u]) == numbers[u]
                for u in PEOPLE
            )

        await bot.until(shown, within=10)
        for user in PEOPLE:
            final = bot.slack.find_message(listings[user].ts)
            assert final is not None and "Queued" not in texts(final), texts(final)
        assert all(p.status == 200 for p in bot.slack.response_posts()), [p.status for p in bot.slack.response_posts()]
