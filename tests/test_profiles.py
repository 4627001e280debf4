"""Slack profiles and the roster that tells a shared email, against the Slack fake over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.identity import Profile
from bot.sim.server import ServerThread
from bot.sim.slack import SlackUser, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.slack.profiles import ROSTER_PAGE, ROSTER_RETRY_AFTER, SlackProfiles
from tests.fakes import FakeClock


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    workspace = SlackWorkspace()
    with ServerThread(build_slack_api(workspace)) as server:
        workspace.base_url = server.url
        yield workspace


def profiles(workspace: SlackWorkspace, clock: FakeClock | None = None) -> SlackProfiles:
    client = AsyncWebClient(token=workspace.bot_token, base_url=f"{workspace.base_url}/api/")
    return SlackProfiles(client, clock=clock or FakeClock())


def join(workspace: SlackWorkspace, user_id: str, email: str) -> Profile:
    workspace.add_user(SlackUser(user_id, user_id.lower(), user_id, email, "UTC"))
    return Profile(user_id, user_id.lower(), user_id, email)


async def test_an_email_another_person_has_is_shared(workspace: SlackWorkspace) -> None:
    twin = join(workspace, "U0TWIN", "Heidi.Schmidt@EXAMPLE.com")  # U0HEIDI's, in other ASCII case
    kelvin = join(workspace, "U0KELVIN", "fran\u212a.moreau@example.com")  # not U0FRANK's
    slack = profiles(workspace)
    heidi, frank = await slack.profile("U0HEIDI"), await slack.profile("U0FRANK")
    assert heidi is not None and frank is not None
    assert [await slack.email_shared(p) for p in (twin, heidi, kelvin, frank)] == [True, True, False, False]
    assert len(workspace.calls("users.list")) == 1


async def test_the_roster_is_read_page_by_page_once_for_a_burst(workspace: SlackWorkspace) -> None:
    people = [join(workspace, f"U0P{n:04d}", f"p{n}@example.com") for n in range(2 * ROSTER_PAGE + 50)]
    slack = profiles(workspace)
    assert await asyncio.gather(*(slack.email_shared(p) for p in people[::20])) == [False] * len(people[::20])
    assert [c.params.get("cursor") is None for c in workspace.calls("users.list")] == [True, False, False]


async def test_a_newcomer_refreshes_the_roster_and_is_unproven_until_listed(workspace: SlackWorkspace) -> None:
    clock = FakeClock()
    slack = profiles(workspace, clock)
    alice = await slack.profile("U0ALICE")
    assert alice is not None and not await slack.email_shared(alice)
    first = join(workspace, "U0FIRST", "same@example.com")
    assert await slack.email_shared(first)  # just read, so not read again: who else has it is unknown
    clock.now += ROSTER_RETRY_AFTER + 1
    assert not await slack.email_shared(first)  # read again: nobody else has it
    second = join(workspace, "U0SECOND", "same@example.com")
    clock.now += ROSTER_RETRY_AFTER + 1
    assert await slack.email_shared(second) and await slack.email_shared(first)
    assert len(workspace.calls("users.list")) == 3
