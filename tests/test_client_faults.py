"""Faults injected with respx: the right exception, and retries only where they are safe."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.victorops import errors
from bot.victorops.client import Budgets, VictorOpsClient
from bot.victorops.limits import RateSpec
from tests.fakes import FakeClock

BASE = "https://vo.test"
KEY = "sekrit-api-key-4711"
LIST = f"{BASE}/api-public/v1/incidents"
ACK = f"{BASE}/api-public/v1/incidents/ack"
INCIDENT = {"incidentNumber": "1", "startTime": "2024-05-01T12:00:05Z", "currentPhase": "UNACKED"}
OK_LIST = httpx.Response(200, json={"incidents": [INCIDENT]})
OK_ACK = httpx.Response(200, json={"results": [{"incidentNumber": "1", "cmdAccepted": True, "message": ""}]})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> VictorOpsClient:
    budgets = Budgets(RateSpec(6, 60), RateSpec(1, 60), RateSpec(15, 60))
    vo = VictorOpsClient(
        base_url=BASE, api_id="org", api_key=SecretStr(KEY), budgets=budgets, clock=clock, sleep=clock.sleep
    )
    yield vo
    await vo.aclose()


@respx.mock
async def test_get_retries_server_errors_with_backoff(client: VictorOpsClient, clock: FakeClock) -> None:
    route = respx.get(LIST).mock(side_effect=[httpx.Response(502), httpx.Response(500), OK_LIST])
    incidents = await client.list_incidents()
    assert [i.incident_number for i in incidents] == ["1"]
    assert route.call_count == 3
    assert clock.slept == [0.5, 1.0]


@respx.mock
async def test_get_gives_up_after_max_attempts(client: VictorOpsClient) -> None:
    route = respx.get(LIST).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.Unavailable, match="timed out"):
        await client.list_incidents()
    assert route.call_count == client.max_attempts


@respx.mock
async def test_write_is_not_retried_after_a_server_error(client: VictorOpsClient) -> None:
    route = respx.patch(ACK).mock(return_value=httpx.Response(500))
    with pytest.raises(errors.ServerError):
        await client.ack("jdoe", ["1"])
    assert route.call_count == 1


@respx.mock
async def test_write_is_not_retried_after_a_timeout(client: VictorOpsClient) -> None:
    route = respx.patch(ACK).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.Unavailable):
        await client.ack("jdoe", ["1"])
    assert route.call_count == 1


@respx.mock
async def test_write_is_retried_when_the_connection_was_refused(client: VictorOpsClient) -> None:
    route = respx.patch(ACK).mock(side_effect=[httpx.ConnectError("refused"), OK_ACK])
    results = await client.ack("jdoe", ["1"])
    assert results[0].cmd_accepted
    assert route.call_count == 2


@respx.mock
async def test_429_with_retry_after_is_waited_out(client: VictorOpsClient, clock: FakeClock) -> None:
    start = clock.now
    route = respx.patch(ACK).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), OK_ACK])
    results = await client.ack("jdoe", ["1"])
    assert results[0].cmd_accepted and route.call_count == 2
    assert clock.now - start == pytest.approx(7)


@respx.mock
async def test_429_without_retry_after_waits_a_whole_window(client: VictorOpsClient, clock: FakeClock) -> None:
    start = clock.now
    respx.get(LIST).mock(side_effect=[httpx.Response(429, json={"message": "Too Many Requests"}), OK_LIST])
    await client.list_incidents()
    assert clock.now - start == pytest.approx(60)


@respx.mock
async def test_403_with_rate_limit_body_is_a_rate_limit(client: VictorOpsClient) -> None:
    route = respx.get(LIST).mock(side_effect=[httpx.Response(403, json={"message": "Too Many Requests"}), OK_LIST])
    assert len(await client.list_incidents()) == 1
    assert route.call_count == 2


@respx.mock
async def test_rate_limit_that_never_ends_is_reported(client: VictorOpsClient) -> None:
    respx.get(LIST).mock(return_value=httpx.Response(429, headers={"Retry-After": "3"}))
    with pytest.raises(errors.RateLimited) as caught:
        await client.list_incidents()
    assert caught.value.retry_after == 3


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(401, json={"message": "Authentication parameters missing"}), errors.AuthError, "HTTP 401"),
        (httpx.Response(403, json={"message": "Forbidden"}), errors.AuthError, "read-only"),
        (httpx.Response(403, json={"message": "Missing Authentication Token"}), errors.AuthError, "Missing Auth"),
        (httpx.Response(404, json={"message": "User not found"}), errors.NotFound, "User not found"),
        (httpx.Response(400, json={"message": "summary is required"}), errors.BadRequest, "summary is required"),
        (httpx.Response(400, json={"error": "bad user"}), errors.BadRequest, "bad user"),
        (httpx.Response(400, json={"errors": ["a wrong", {"message": "b wrong"}]}), errors.BadRequest, "a wrong; b"),
        (httpx.Response(400, text="<html>nope</html>"), errors.BadRequest, "no reason given"),
        (httpx.Response(200, text="{not json"), errors.InvalidResponse, "unreadable"),
        (httpx.Response(200, json={"results": "nope"}), errors.InvalidResponse, "/api-public/v1/incidents/ack"),
    ],
)
@respx.mock
async def test_errors_map_to_types(
    client: VictorOpsClient, response: httpx.Response, error: type[Exception], text: str
) -> None:
    route = respx.patch(ACK).mock(return_value=response)
    with pytest.raises(error, match=text):
        await client.ack("jdoe", ["1"])
    assert route.call_count == 1


@respx.mock
async def test_the_api_key_is_sent_but_never_logged_or_shown(
    client: VictorOpsClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    route = respx.patch(ACK).mock(return_value=httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(errors.AuthError) as caught:
        await client.ack("jdoe", ["1"])
    request = route.calls.last.request
    assert request.headers["X-VO-Api-Key"] == KEY and request.headers["X-VO-Api-Id"] == "org"
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in caplog.text and caplog.text  # something was logged, and not the key


@respx.mock
async def test_email_lookup_keeps_the_at_sign(client: VictorOpsClient) -> None:
    route = respx.get(f"{BASE}/api-public/v1/user/jane@example.com").mock(
        return_value=httpx.Response(200, json={"username": "jane@example.com"})
    )
    user = await client.get_user("jane@example.com")
    assert user.username == "jane@example.com" and route.called
    assert "%40" not in str(route.calls.last.request.url)
