"""`POST /victorops/webhook` into the real ASGI app over a real database (SQLite and Postgres): the token, the
body's shapes, duplicates and late deliveries, and what is stored before the 200."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.core.incidents import IncidentView
from bot.core.ingest import Ingest
from bot.metrics import Metrics
from bot.store.db import Database
from bot.store.events import EventStore
from bot.store.snapshots import Snapshots
from bot.store.tables import IncidentEventRow
from bot.victorops.models import Phase
from bot.web import Webhook, build_http_app
from tests.memory import MemoryVictorOps, RecordingReconciler
from tests.test_webhook_parse import TRIGGERED

TOKEN = "s3cret-webhook-token"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Receiver:
    client: httpx.AsyncClient
    db: Database
    view: IncidentView
    vo: MemoryVictorOps
    feeds: RecordingReconciler
    metrics: Metrics

    async def post(self, body: dict[str, Any], token: str | None = TOKEN) -> httpx.Response:
        return await self.client.post("/victorops/webhook", params={"token": token} if token else {}, json=body)

    async def stored(self) -> int:
        async with self.db.reading() as session:
            return int(await session.scalar(select(func.count()).select_from(IncidentEventRow)) or 0)


def receiver_app(
    db: Database, token: str | None
) -> tuple[Any, IncidentView, MemoryVictorOps, RecordingReconciler, Metrics]:
    vo, feeds, metrics = MemoryVictorOps(), RecordingReconciler(), Metrics()
    view = IncidentView(vo, snapshots=Snapshots(db))
    ingest = Ingest(EventStore(db), view, feeds, lambda: datetime.now(UTC))
    return build_http_app(metrics, {}, None, Webhook(token, ingest, metrics)), view, vo, feeds, metrics


@pytest_asyncio.fixture
async def receiver(database: Database) -> AsyncIterator[Receiver]:
    app, view, vo, feeds, metrics = receiver_app(database, TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vobot") as client:
        yield Receiver(client, database, view, vo, feeds, metrics)


async def test_without_a_token_configured_the_route_is_not_there(database: Database) -> None:
    app, *_ = receiver_app(database, None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vobot") as client:
        answer = await client.post("/victorops/webhook", params={"token": "anything"}, json=TRIGGERED)
    assert answer.status_code == 404


async def test_a_missing_or_wrong_token_changes_nothing(receiver: Receiver) -> None:
    assert (await receiver.post(TRIGGERED, token=None)).status_code == 401
    assert (await receiver.post(TRIGGERED, token=TOKEN + "x")).status_code == 401
    wrong_header = await receiver.client.post("/victorops/webhook", headers={"x-vobot-token": "nope"}, json=TRIGGERED)
    assert wrong_header.status_code == 401 and TOKEN not in wrong_header.text
    assert await receiver.stored() == 0 and receiver.feeds.calls == []
    assert TOKEN not in receiver.metrics.render().decode()


async def test_the_token_in_a_header_and_a_json_body_is_stored_before_the_answer(receiver: Receiver) -> None:
    await receiver.view.all()  # a listing read the view a moment ago
    answer = await receiver.client.post("/victorops/webhook", headers={"X-Vobot-Token": TOKEN}, json=TRIGGERED)
    assert answer.status_code == 200, answer.text
    assert await receiver.stored() == 1
    assert receiver.feeds.calls == [{"14": Phase.UNACKED}]
    listed = await receiver.view.find(["14"], recheck=False)
    assert listed["14"] is not None and listed["14"].title == "Low disk on db01"
    assert receiver.vo.calls == [("list",)]  # the view learned it without asking VictorOps again
    assert 'vobot_webhooks_total{result="accepted"} 1.0' in receiver.metrics.render().decode()


async def test_a_form_encoded_body_reads_the_same(receiver: Receiver) -> None:
    form = {k: "" if v is None else str(v) for k, v in TRIGGERED.items()}
    answer = await receiver.client.post(
        "/victorops/webhook", params={"token": TOKEN}, headers=FORM, content=urlencode(form)
    )
    assert answer.status_code == 200, answer.text
    assert receiver.feeds.seen() == {"14": Phase.UNACKED}


@pytest.mark.parametrize(
    ("content", "headers", "reason"),
    [
        (b'{"EVENT": "On-Call", "STATE.ONCALL_USER": "heidi"}', {}, "no incident number"),
        (b'{"INCIDENT.INCIDENT_NAME": "#3"}', {}, "has no phase"),
        (b"[1, 2]", {}, "not an object"),
        (b"{not json", {}, "neither a JSON object nor a form"),
        (b"\xff\xfe", FORM, "neither a JSON object nor a form"),
    ],
)
async def test_a_body_that_is_no_incident_event_gets_400_and_one_line(
    receiver: Receiver, content: bytes, headers: dict[str, str], reason: str
) -> None:
    answer = await receiver.client.post("/victorops/webhook", params={"token": TOKEN}, headers=headers, content=content)
    assert answer.status_code == 400
    assert reason in answer.text and answer.text.count("\n") == 1
    assert await receiver.stored() == 0


async def test_a_body_over_a_mebibyte_is_refused_unread(receiver: Receiver) -> None:
    big = b'{"x": "' + b"a" * (1 << 20) + b'"}'
    answer = await receiver.client.post("/victorops/webhook", params={"token": TOKEN}, content=big)
    assert answer.status_code == 413
    assert await receiver.stored() == 0


async def test_duplicates_and_out_of_order_deliveries_change_nothing(receiver: Receiver) -> None:
    resolved = TRIGGERED | {
        "INCIDENT.CURRENT_PHASE": "RESOLVED",
        "STATE.CURRENT_ALERT_PHASE": "RESOLVED",
        "STATE.RESOLVED_BY": "bob",
        "STATE.RESOLVED_AT": "1714565000000",
    }
    acked = TRIGGERED | {
        "INCIDENT.CURRENT_PHASE": "ACKED",
        "STATE.CURRENT_ALERT_PHASE": "ACKED",
        "STATE.ACKED_BY": "heidi",
        "STATE.ACKED_AT": "1714564860000",
    }
    for body in (resolved, resolved, acked, TRIGGERED, resolved):
        assert (await receiver.post(body)).status_code == 200
    assert await receiver.stored() == 3  # the redeliveries inserted nothing
    assert receiver.feeds.calls == [{"14": Phase.RESOLVED}]
    held = receiver.view.known(["14"])["14"]
    assert held is not None and held.current_phase is Phase.RESOLVED
    rendered = receiver.metrics.render().decode()
    assert 'vobot_webhooks_total{result="duplicate"} 2.0' in rendered


async def test_one_webhook_delivered_to_two_replicas_at_once_is_taken_once(database: Database) -> None:
    (first, _, _, first_feeds, _), (second, _, _, second_feeds, _) = (
        receiver_app(database, TOKEN),
        receiver_app(database, TOKEN),
    )
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vobot") for app in (first, second)
    ]
    try:
        answers = await asyncio.gather(
            *(c.post("/victorops/webhook", params={"token": TOKEN}, json=TRIGGERED) for c in clients * 3)
        )
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(a.text for a in answers) == ["Accepted.\n"] + ["Already received.\n"] * 5
    assert len(first_feeds.calls) + len(second_feeds.calls) == 1
