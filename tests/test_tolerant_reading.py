"""VictorOps as it really answers: shapes seen in live bodies and in the vendor's own fixtures, read through the
client (respx only injects the bodies; the simulator answers over loopback), then shown as cards, listings,
digests and history pages (reference §8 items 12-14)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.core.incidents import IncidentView
from bot.core.sender import ActionSender
from bot.sim.server import ServerThread
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.slack.blocks import NO_NAMES, ListSpec, card, check_message
from bot.slack.cards import listing_message
from bot.slack.replies import history_message
from bot.slack.sentences import said
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED, RateSpec
from bot.victorops.models import HistoryPage, HistoryQuery, Phase
from tests.fakes import queued

BASE = "https://vo.test"
LIST = f"{BASE}/api-public/v1/incidents"

# Shaped as a live 2017 answer (davejlong/cog-victorops incidents.json): a HOST entity that is DOWN, fractional
# seconds, a transition without `by`, an empty display name.
HOST_DOWN: dict[str, Any] = {
    "alertCount": 12,
    "currentPhase": "ACKED",
    "entityDisplayName": "",
    "entityId": "NewRelic-Server Not Reporting-25766160-web",
    "entityState": "DOWN",
    "entityType": "HOST",
    "host": "Rudys - Rudy-Web",
    "incidentNumber": "2170",
    "pagedTeams": ["dev-team"],
    "pagedUsers": ["dlong"],
    "service": "Server Not Reporting > 5 minutes",
    "startTime": "2017-05-16T19:04:43.250Z",
    "transitions": [{"at": "2017-05-30T13:15:04Z", "message": "", "name": "ACKED"}],
}
RESOLVED_BY_NOBODY: dict[str, Any] = {
    **HOST_DOWN,
    "incidentNumber": "2182",
    "currentPhase": "RESOLVED",
    "entityState": "OK",
    "transitions": [
        {"at": "2017-05-25T04:38:37Z", "message": "", "name": "ACKED"},
        {"at": "2017-05-25T05:10:54Z", "by": "", "manually": True, "name": "RESOLVED"},
    ],
}
# The vendor SDK's later mocks: every field optional, so an incident without startTime, one without a phase.
NO_START: dict[str, Any] = {"incidentNumber": "123", "currentPhase": "UNACKED", "entityDisplayName": "Disk full"}
NO_PHASE: dict[str, Any] = {"incidentNumber": "124", "startTime": "2017-05-30T13:00:00Z", "service": "cpu"}
BODY = {"incidents": [HOST_DOWN, NO_START, NO_PHASE, RESOLVED_BY_NOBODY]}


@pytest.fixture
async def vo() -> AsyncIterator[VictorOpsClient]:
    async with VictorOpsClient(base_url=BASE, api_id="org", api_key=SecretStr("k"), budgets=UNLIMITED) as client:
        yield client


@respx.mock
async def test_one_unreadable_incident_does_not_sink_the_list_and_is_logged_once(
    vo: VictorOpsClient, caplog: pytest.LogCaptureFixture
) -> None:
    respx.get(LIST).mock(return_value=httpx.Response(200, json=BODY))
    caplog.set_level(logging.WARNING, logger="bot.victorops.models")
    first = await vo.list_incidents()
    again = await vo.list_incidents()  # the poller reads every 30 s: the same incident is not logged again
    assert [i.incident_number for i in first] == [i.incident_number for i in again] == ["2170", "123", "2182"]
    skipped = [r.getMessage() for r in caplog.records if "#124" in r.getMessage()]
    assert len(skipped) == 1 and "currentPhase" in skipped[0]
    down, no_start, resolved = first
    assert (down.entity_type, down.entity_state, down.start_time) == (
        "HOST",
        "DOWN",
        datetime(2017, 5, 16, 19, 4, 43, 250000, tzinfo=UTC),
    )
    assert no_start.start_time is None and no_start.current_phase is Phase.UNACKED
    assert [t.by for t in resolved.transitions] == [None, ""]


@respx.mock
async def test_cards_listings_digests_and_history_show_what_was_read(vo: VictorOpsClient) -> None:
    respx.get(LIST).mock(return_value=httpx.Response(200, json=BODY))
    down, no_start, resolved = await vo.list_incidents()
    assert "start time unknown" in str(card(no_start))
    assert "Acknowledged, <!date^" in str(card(down))  # nobody named, nothing invented
    assert "Server Not Reporting" in str(card(down))  # an empty display name falls back to the service
    assert "Resolved, <!date^" in str(card(resolved)) and "Resolved by" not in str(card(resolved))
    for spec in (ListSpec(s="open"), ListSpec(s="open", d="morning")):  # a listing, and a digest
        text, blocks = listing_message(spec, [down, no_start], "/vo")
        check_message(blocks, text)
        assert "#123" in str(blocks) and "#2170" in str(blocks)
    page = HistoryPage(total=3, incidents=[down, no_start, resolved])
    text, blocks = history_message(page, 1, "/vo")
    check_message(blocks, text)
    assert "start time unknown" in str(blocks) and "#2182" in str(blocks)


@respx.mock
async def test_a_result_without_cmd_accepted_is_a_done_ack(vo: VictorOpsClient) -> None:
    respx.get(LIST).mock(return_value=httpx.Response(200, json={"incidents": [NO_START]}))
    ack = respx.patch(f"{LIST}/ack").mock(
        return_value=httpx.Response(200, json={"results": [{"incidentNumber": "123"}]})
    )
    sender = ActionSender(vo, IncidentView(vo))
    sent = await sender.send([queued("ack", "123")])
    outcome = sent[1].outcomes[0]
    assert ack.call_count == 1 and outcome.done and said(outcome, NO_NAMES) == "Acknowledged by <@U0ALICE>."
    assert outcome.incident is not None and outcome.incident.current_phase is Phase.ACKED


async def test_the_reporting_view_keeps_paged_users_after_an_ack() -> None:
    state = SimState(SimConfig(incidents=RateSpec.parse("off"), reporting=RateSpec.parse("off")))
    number = state.trigger("Replica lag on db02", "database")
    with ServerThread(build_app(state=state)) as server:
        async with VictorOpsClient(
            base_url=server.url, api_id="demo", api_key=SecretStr("demo"), budgets=UNLIMITED
        ) as client:
            paged = (await client.get_incident(number)).paged_users
            assert paged and (await client.ack(paged[0], [number], "looking"))[0].cmd_accepted
            public = await client.get_incident(number)
            page = await client.incident_history(HistoryQuery(incident_number=number, phases=[Phase.ACKED]))
    assert public.paged_users == []  # the public view: nobody is notified any more
    [reported] = page.incidents
    assert reported.paged_users == paged  # reporting still names who was paged
    ack = reported.last_transition(Phase.ACKED)
    assert ack is not None and ack.by == paged[0] and ack.manually is None
    assert ack.alert_id and ack.alert_url == f"https://api.victorops.com/api-public/v1/alerts/{ack.alert_id}"
