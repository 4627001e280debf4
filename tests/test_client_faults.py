"""Faults injected with respx: the right exception, and retries only where they are safe."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.victorops import errors
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import Budgets, RateSpec
from tests.fakes import FakeClock

BASE = "https://vo.test"
KEY = "sekrit-api-key-4711"
LIST = f"{BASE}/api-public/v1/incidents"
ACK = f"{BASE}/api-public/v1/incidents/ack"
TEAMS = f"{BASE}/api-public/v1/team"
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
    with pytest.raises(errors.ServerError) as caught:
        await client.ack("jdoe", ["1"])
    assert route.call_count == 1 and caught.value.may_have_landed  # so it is read back, not resent


@respx.mock
async def test_write_is_not_retried_after_a_timeout(client: VictorOpsClient) -> None:
    route = respx.patch(ACK).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.Unavailable) as caught:
        await client.ack("jdoe", ["1"])
    assert route.call_count == 1 and caught.value.may_have_landed


@pytest.mark.parametrize("never_sent", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no answer to SYN")])
@respx.mock
async def test_a_write_that_never_left_is_retried_and_known_unapplied(
    client: VictorOpsClient, never_sent: Exception
) -> None:
    route = respx.patch(ACK).mock(side_effect=never_sent)
    with pytest.raises(errors.Unavailable) as caught:
        await client.ack("jdoe", ["1"])
    assert route.call_count == client.max_attempts and not caught.value.may_have_landed


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
    respx.get(TEAMS).mock(return_value=httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(errors.AuthError) as caught:
        await client.ack("jdoe", ["1"])
    request = route.calls.last.request
    assert request.headers["X-VO-Api-Key"] == KEY and request.headers["X-VO-Api-Id"] == "org"
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in caplog.text and caplog.text  # something was logged, and not the key


# -- a 403 that does not say why (VictorOps: "authentication failed or rate-limit reached")


@pytest.mark.parametrize("refusal", [httpx.Response(403, json={"message": "Forbidden"}), httpx.Response(403)])
@respx.mock
async def test_a_403_after_recent_success_is_a_rate_limit_retried_after_a_window(
    client: VictorOpsClient, clock: FakeClock, refusal: httpx.Response
) -> None:
    respx.get(LIST).mock(return_value=OK_LIST)
    ack = respx.patch(ACK).mock(side_effect=[refusal, OK_ACK])
    probe = respx.get(TEAMS).mock(return_value=httpx.Response(200, json=[]))
    await client.list_incidents()  # the key worked a moment ago
    start = clock.now
    results = await client.ack("jdoe", ["1"])
    assert results[0].cmd_accepted and ack.call_count == 2
    assert clock.now - start == pytest.approx(60)  # waited out a whole window, as VictorOps' own scripts do
    assert not probe.called  # the recent answer was evidence enough


@respx.mock
async def test_a_403_with_no_evidence_is_checked_with_one_lookup_first(client: VictorOpsClient) -> None:
    ack = respx.patch(ACK).mock(side_effect=[httpx.Response(403, json={"message": "Forbidden"}), OK_ACK])
    probe = respx.get(TEAMS).mock(return_value=httpx.Response(200, json=[]))
    assert (await client.ack("jdoe", ["1"]))[0].cmd_accepted
    assert (ack.call_count, probe.call_count) == (2, 1)


@respx.mock
async def test_a_403_while_lookups_are_refused_too_is_bad_credentials(client: VictorOpsClient) -> None:
    ack = respx.patch(ACK).mock(return_value=httpx.Response(403, json={"message": "Authentication failed"}))
    probe = respx.get(TEAMS).mock(return_value=httpx.Response(403, json={"message": "Authentication failed"}))
    with pytest.raises(errors.AuthError) as caught:
        await client.ack("jdoe", ["1"])
    assert str(caught.value) == (
        "VictorOps refused the API credentials (HTTP 403: Authentication failed): "
        "check VICTOROPS_API_ID and VICTOROPS_API_KEY."
    )
    assert (ack.call_count, probe.call_count) == (1, 1)


@respx.mock
async def test_a_write_refused_every_time_while_the_key_reads_is_a_read_only_key(
    client: VictorOpsClient, clock: FakeClock
) -> None:
    respx.get(LIST).mock(return_value=OK_LIST)
    ack = respx.patch(ACK).mock(return_value=httpx.Response(403, json={"message": "Forbidden"}))
    await client.list_incidents()
    with pytest.raises(errors.Forbidden, match="probably read-only") as caught:
        await client.ack("jdoe", ["1"])
    assert ack.call_count == client.max_attempts
    assert "VICTOROPS_API_KEY" in str(caught.value) and KEY not in str(caught.value)


@respx.mock
async def test_a_read_refused_every_time_while_the_key_works_stays_a_rate_limit(client: VictorOpsClient) -> None:
    respx.get(TEAMS).mock(return_value=httpx.Response(200, json=[]))
    route = respx.get(LIST).mock(return_value=httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(errors.RateLimited):
        await client.list_incidents()
    assert route.call_count == client.max_attempts


@respx.mock
async def test_missing_authentication_token_means_a_wrong_url(client: VictorOpsClient) -> None:
    route = respx.patch(ACK).mock(return_value=httpx.Response(403, json={"message": "Missing Authentication Token"}))
    with pytest.raises(errors.WrongUrl) as caught:
        await client.ack("jdoe", ["1"])
    text = str(caught.value)
    assert "VICTOROPS_API_URL" in text and f"{BASE}/api-public/v1/incidents/ack" in text
    assert "KEY" not in text and KEY not in text
    assert route.call_count == 1  # never retried: no address change will come from waiting


@respx.mock
async def test_email_lookup_keeps_the_at_sign(client: VictorOpsClient) -> None:
    route = respx.get(f"{BASE}/api-public/v1/user/jane@example.com").mock(
        return_value=httpx.Response(200, json={"username": "jane@example.com"})
    )
    user = await client.get_user("jane@example.com")
    assert user.username == "jane@example.com" and route.called
    assert "%40" not in str(route.calls.last.request.url)
