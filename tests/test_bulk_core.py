"""What a bulk action relies on in the core, through its ports (in-memory doubles): many numbers are one queued
action and one VictorOps call per verb, whatever their number; those already in the wanted state, or not
open, cost nothing and are said so; a reroute of many is one call too."""

from __future__ import annotations

import asyncio

from bot.core.outcomes import Already, Did, NotOpen, Verb
from bot.victorops.models import Phase, Target
from tests.test_core_actions import ALICE, Replica, incident


async def test_a_hundred_acks_are_one_queued_action_and_one_call() -> None:
    numbers = [str(n) for n in range(1, 101)]
    replica = Replica(*(incident(n) for n in numbers))
    asking = asyncio.create_task(replica.actions.act(Verb.ACK, ALICE, numbers))
    await replica.queued_once()
    await replica.dispatcher.step()
    outcomes = await asyncio.wait_for(asking, 1)
    assert replica.vo.writes() == [("ack", "alice", *numbers)]
    assert [o.number for o in outcomes] == numbers and all(isinstance(o.why, Did) for o in outcomes)
    assert all(o.incident is not None and o.incident.current_phase is Phase.ACKED for o in outcomes)
    assert len(replica.queue.rows) == 1


async def test_already_done_and_unknown_numbers_are_answered_without_a_call() -> None:
    replica = Replica(incident("1"), incident("2", Phase.ACKED), incident("3", Phase.RESOLVED), incident("4"))
    asking = asyncio.create_task(replica.actions.act(Verb.ACK, ALICE, ["1", "2", "3", "4", "404"]))
    action = await replica.queued_once()
    assert action.incidents == ("1", "4")  # only what needs a call is queued
    await replica.dispatcher.step()
    outcomes = {o.number: o.why for o in await asyncio.wait_for(asking, 1)}
    assert replica.vo.writes() == [("ack", "alice", "1", "4")]
    assert outcomes["2"] == Already(Phase.ACKED) and outcomes["3"] == Already(Phase.RESOLVED)
    assert outcomes["404"] == NotOpen() and isinstance(outcomes["1"], Did)


async def test_everything_already_done_costs_nothing() -> None:
    replica = Replica(incident("1", Phase.RESOLVED), incident("2", Phase.RESOLVED))
    outcomes = await replica.actions.act(Verb.RESOLVE, ALICE, ["1", "2"])
    assert [o.why for o in outcomes] == [Already(Phase.RESOLVED)] * 2
    assert replica.queue.rows == {} and replica.vo.writes() == []


async def test_a_reroute_of_many_is_one_call() -> None:
    replica = Replica(*(incident(str(n)) for n in range(1, 6)), incident("6", Phase.RESOLVED))
    to = [Target(type="EscalationPolicy", slug="pol-x")]
    asking = asyncio.create_task(replica.actions.reroute(ALICE, ["1", "2", "3", "6"], to))
    await replica.queued_once()
    await replica.dispatcher.step()
    outcomes = {o.number: o.why for o in await asyncio.wait_for(asking, 1)}
    assert replica.vo.writes() == [("reroute", "alice", "1", "2", "3")]
    assert outcomes["6"] == NotOpen() and outcomes["1"] == Did(Verb.REROUTE, "U0ALICE", tuple(to))
