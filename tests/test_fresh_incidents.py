"""The moment that matters, end to end: an incident paged seconds ago can be acted on; a write VictorOps applied
but whose answer was lost is read back, not sent twice; a rate-limit 403 does not fail a click; either spelling
of a routing key finds its incidents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.core.incidents import IncidentView
from bot.core.outcomes import Did
from bot.core.sender import ActionSender
from bot.sim.server import ServerThread
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.victorops import errors
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED, RateSpec
from bot.victorops.models import Target
from tests.dbfixtures import fresh_postgres_schema
from tests.fakes import FakeClock, queued
from tests.harness import CHANNEL, OFF, Bot, running_bot, texts

INCIDENTS = "/api-public/v1/incidents"


def calls(bot: Bot, method: str, path: str) -> list[int]:
    """The statuses VictorOps answered to these calls, in order."""
    return [c.status for c in bot.vo.calls() if (c.method, c.path) == (method, path)]


async def replies(bot: Bot, user: str, words: str, within: float = 8.0) -> str:
    """The text of the first message the user sees that contains `words`."""
    found = await bot.until(
        lambda: next((texts(m) for m in bot.slack.ephemerals(user) if words in texts(m)), None), within
    )
    return str(found)


async def listed(bot: Bot, user: str = "U0ALICE") -> None:
    """A listing: the bot's view now holds every incident, fresh for 30 s."""
    before = len(bot.slack.ephemerals(user))
    await bot.driver.command(user, CHANNEL, "list")
    await bot.reply(user, before)


# -- 0. an incident paged seconds ago


@pytest.mark.parametrize(
    ("command", "done", "phase"),
    [("ack {n}", "Acknowledged by you", "ACKED"), ("resolve {n}", "Resolved by you", "RESOLVED")],
)
async def test_an_incident_paged_seconds_ago_can_be_acted_on(
    tmp_path: Path, command: str, done: str, phase: str
) -> None:
    async with running_bot(tmp_path) as bot:
        await listed(bot)
        number = bot.vo.trigger("Checkout is down", "payments")
        await asyncio.sleep(2)  # the on-call person saw the page and typed
        await bot.driver.command("U0ALICE", CHANNEL, command.format(n=number))
        assert done in await replies(bot, "U0ALICE", f"#{number}")
        assert bot.incident(number)["currentPhase"] == phase
        assert calls(bot, "GET", INCIDENTS) == [200, 200]  # the listing, and one look for the unknown number


async def test_a_reroute_of_an_incident_paged_seconds_ago_is_sent(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await listed(bot)
        number = bot.vo.trigger("Card payments failing", "payments")
        policy = bot.vo.directory.policies[0].slug
        await asyncio.sleep(2)
        await bot.driver.command("U0ALICE", CHANNEL, f"reroute {number} to policy:{policy}")
        assert "Rerouted to" in await replies(bot, "U0ALICE", f"#{number}")
        assert [p["policy"]["slug"] for p in bot.incident(number)["pagedPolicies"]] == [policy]


async def test_a_burst_of_unknown_numbers_costs_one_call(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await listed(bot)
        fresh = [bot.vo.trigger(f"Fresh incident {i}", "payments") for i in range(3)]
        await asyncio.sleep(2)
        users = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]
        typed = [*fresh, "9999"]
        await asyncio.gather(*(bot.driver.command(u, CHANNEL, f"ack {n}") for u, n in zip(users, typed, strict=True)))
        assert "is not an open incident" in await replies(bot, "U0DAVE", "#9999")
        await bot.until(lambda: all(bot.incident(n)["currentPhase"] == "ACKED" for n in fresh), within=8)
        assert calls(bot, "GET", INCIDENTS) == [200, 200]


@asynccontextmanager
async def two_replicas(tmp_path: Path, database: str) -> AsyncIterator[tuple[Bot, Bot]]:
    with postgres_or_sqlite(tmp_path, database) as url:
        async with (
            running_bot(tmp_path / "a", VOBOT_DATABASE_URL=url) as first,
            running_bot(tmp_path / "b", state=first.vo, slack=first.slack, VOBOT_DATABASE_URL=url) as second,
        ):
            yield first, second


@contextmanager
def postgres_or_sqlite(tmp_path: Path, database: str) -> Iterator[str]:
    if database == "postgres":
        with fresh_postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path}/shared.db"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_two_replicas_ask_once_and_share_the_answer(tmp_path: Path, database: str) -> None:
    async with two_replicas(tmp_path, database) as (first, second):
        await listed(first)
        await listed(second, "U0BOB")  # from the shared snapshot: no call of its own
        assert calls(first, "GET", INCIDENTS) == [200]
        one, two = (first.vo.trigger(f"Checkout is down {i}", "payments") for i in (1, 2))
        await asyncio.sleep(2)
        await asyncio.gather(
            first.driver.command("U0ALICE", CHANNEL, f"ack {one}"),
            second.driver.command("U0BOB", CHANNEL, f"ack {two}"),
        )
        assert "Acknowledged by you" in await replies(first, "U0ALICE", f"#{one}")
        assert "Acknowledged by you" in await replies(second, "U0BOB", f"#{two}")
        looks = len(calls(first, "GET", INCIDENTS)) - 1
        assert looks in (1, 2)  # one call, or one per replica when they ask at the very same moment
        await asyncio.sleep(3.5)  # past each replica's own copy: they read the shared snapshot again
        for replica, user in ((first, "U0CAROL"), (second, "U0DAVE")):
            await listed(replica, user)
            shown = str(replica.slack.ephemerals(user)[-1].blocks)
            assert f"inc-{one}-" in shown and f"inc-{two}-" in shown
        assert len(calls(first, "GET", INCIDENTS)) - 1 == looks  # the published answers served the listings


# -- 6. a write that may have landed is read back


async def test_an_ack_applied_then_answered_500_is_read_back_not_sent_again(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        number = bot.open_numbers("UNACKED")[0]
        await listed(bot)
        bot.vo.fail_next("PATCH", f"{INCIDENTS}/ack", status=500)
        await bot.driver.command("U0ALICE", CHANNEL, f"ack {number}")
        text = await replies(bot, "U0ALICE", "Acknowledged by you")
        assert "did not ack" not in text and "already" not in text
        assert calls(bot, "PATCH", f"{INCIDENTS}/ack") == [500]  # VictorOps had it: one call, never resent
        assert bot.incident(number)["transitions"][-1]["by"] == "alice"


async def test_an_ack_answered_already_done_by_the_same_user_is_a_success(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        number = bot.open_numbers("UNACKED")[0]
        await listed(bot)
        bot.vo.act("ack", "alice", [number], "from the phone")  # the view has not seen it yet
        await bot.driver.command("U0ALICE", CHANNEL, f"ack {number}")
        text = texts(await bot.reply("U0ALICE", 1))
        assert "Acknowledged by you" in text and "did not ack" not in text


async def test_a_reroute_applied_then_timed_out_is_not_sent_twice() -> None:
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    number = state.trigger("Card payments failing", "payments")
    policy = state.directory.policies[0].slug
    payload = {"targets": [{"type": "EscalationPolicy", "slug": policy}]}
    with ServerThread(build_app(state=state)) as server:
        async with VictorOpsClient(
            base_url=server.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED, timeout=0.5
        ) as vo:
            sender = ActionSender(vo, IncidentView(vo))
            state.fail_next("POST", f"{INCIDENTS}/reroute", status=None, delay=1.5)  # applied, answered too late
            with pytest.raises(errors.Unavailable, match="timed out") as caught:
                await sender.send([queued("reroute", number, payload=payload)])
            assert caught.value.may_have_landed  # so the dispatcher puts it back, to be read back
            sent = await sender.send([queued("reroute", number, payload=payload, attempts=2)])  # the dispatcher's retry
    [outcome] = sent[1].outcomes
    assert outcome.done and outcome.why == Did("reroute", "U0ALICE", (Target(type="EscalationPolicy", slug=policy),))
    reroutes = [c for c in state.calls() if c.path == f"{INCIDENTS}/reroute"]
    assert len(reroutes) == 1  # the targets were paged once


async def test_a_write_refused_unapplied_is_sent_again_without_a_read_back() -> None:
    clock = FakeClock()
    state = SimState(SimConfig(clock=clock, incidents=RateSpec(2, 60), reporting=OFF, lookups=OFF))
    number = state.trigger("Card payments failing", "payments")
    with ServerThread(build_app(state=state)) as server:
        async with VictorOpsClient(
            base_url=server.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED, max_attempts=1
        ) as vo:
            view = IncidentView(vo)
            sender = ActionSender(vo, view)
            await view.all()
            await vo.list_incidents()  # the minute's budget is spent
            with pytest.raises(errors.RateLimited) as caught:
                await sender.send([queued("ack", number)])
            assert not caught.value.may_have_landed
            clock.now += 61
            sent = await sender.send([queued("ack", number, attempts=2)])
    assert sent[1].outcomes[0].done and state.incident(number)["currentPhase"] == "ACKED"  # type: ignore[index]
    reads = [c for c in state.calls() if c.method == "GET"]
    assert [c.status for c in state.calls() if c.path.endswith("/ack")] == [429, 200] and len(reads) == 2


# -- 1. a rate-limit 403 is not a bad key


async def test_a_rate_limit_403_does_not_fail_a_queued_ack(tmp_path: Path) -> None:
    legacy = SimConfig(
        incidents=RateSpec.parse("3/4s"), rate_limit_status=403, rate_limit_body="Forbidden", reporting=OFF, lookups=OFF
    )
    async with running_bot(tmp_path, state=SimState(legacy), VICTOROPS_RATE_LIMIT="3/4s") as bot:
        number = bot.open_numbers("UNACKED")[0]
        await listed(bot)
        auth = {"X-VO-Api-Id": "demo", "X-VO-Api-Key": "demo"}
        async with httpx.AsyncClient(base_url=str(bot.vobot.settings.victorops_api_url), headers=auth) as other:
            assert [(await other.get(INCIDENTS)).status_code for _ in range(2)] == [200, 200]  # another tool
        await bot.driver.command("U0ALICE", CHANNEL, f"ack {number}")
        await replies(bot, "U0ALICE", "Acknowledged by you", within=12)
        assert calls(bot, "PATCH", f"{INCIDENTS}/ack") == [403, 200]
        assert not any("credentials" in texts(m) or "read-only" in texts(m) for m in bot.slack.ephemerals())


# -- 5. one spelling per routing key


async def test_either_spelling_of_the_default_route_finds_its_incidents(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        on_default = [
            str(i["incidentNumber"])
            for i in bot.vo.incidents()
            if i["routingKey"] == "routingdefault" and i["currentPhase"] != "RESOLVED"
        ]
        for spelling, seen in (("default", 0), ("routingdefault", 1)):
            await bot.driver.command("U0ALICE", CHANNEL, f"list route:{spelling}")
            reply = str((await bot.reply("U0ALICE", seen)).blocks)
            assert len(on_default) == 4 and all(f"inc-{n}-actions" in reply for n in on_default), spelling
        await bot.driver.command("U0ALICE", CHANNEL, "list route:nope")
        empty = texts(await bot.reply("U0ALICE", 2))
        assert "No incidents on route `nope` (known routes: `database`, `frontend`, `payments`, `routingdefault`)" in (
            empty
        )
        assert "All clear" not in empty
        await bot.driver.command("U0ALICE", CHANNEL, "history route:routingdefault phase:acked")
        history = texts(await bot.reply("U0ALICE", 3))
        assert "Incident history: 2 found" in history
        queries = [c.query for c in bot.vo.calls() if c.path == "/api-reporting/v2/incidents"]
        assert queries and all("routingKey=default" in q for q in queries)
