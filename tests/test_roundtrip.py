"""Values that go to Slack's clients and come back (button values, modal metadata) are untrusted: replies go
only where a request Slack signed says, through the real app over loopback, and every bad value gets one
sentence within Slack's 3 s."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.config import AppConfig
from bot.core.contexts import Saved
from bot.core.errors import ActionError
from bot.core.queue import QueuedAction
from bot.sim.server import ServerThread, free_port, serve
from bot.sim.slack import Message, SlackWorkspace
from bot.sim.slack_api import build_slack_api
from bot.sim.slack_driver import SlackDriver, wait_for
from bot.sim.victorops import SimConfig, SimState, build_app
from bot.slack.blocks import ActionId
from bot.slack.contexts import TOKEN, TTL, Contexts, Kind
from bot.slack.modals import ModalMeta
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.store.contexts import SavedContexts
from bot.store.db import Database
from bot.wiring import run_bot
from tests.harness import CHANNEL, OFF, USERS, Bot, running_bot, settings_for, texts

ALICE, BOB, ERIN = "U0ALICE", "U0BOB", "U0ERIN"
UNREADABLE = "vobot could not read this button, so nothing was sent to VictorOps"


@dataclass
class Catcher:
    """A server that is not Slack: records every request it gets."""

    hits: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.hits.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def catcher() -> AsyncIterator[tuple[Catcher, str]]:
    app = Catcher()
    async with serve(app) as url:  # type: ignore[arg-type]
        yield app, f"{url}/hooks/actions/T0/1/secret-path"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path) as running:
        yield running


async def listing(bot: Bot, public: bool = False) -> Message:
    await bot.driver.command(ALICE, CHANNEL, "list public" if public else "list")
    if public:
        return await bot.until(lambda: next(iter(bot.slack.messages(CHANNEL)), None))
    return await bot.reply(ALICE)


async def open_view(bot: Bot, user: str, text: str, block: str) -> str:
    """Type a command that opens a modal; the modal's id once it shows its inputs."""
    await bot.driver.command(user, CHANNEL, text)

    def shown() -> str | None:
        return next(
            (v.id for v in bot.slack.views() if any(b.get("block_id") == block for b in v.body["blocks"])), None
        )

    view_id: str = await bot.until(shown)
    return view_id


def modal_sentence(result: Any) -> str:
    """The one sentence a modal shows after its submission was refused (response_action update)."""
    assert result.status == 200 and result.elapsed < 3, result
    assert result.response_action == "update", result.body
    return str(result.json["view"]["blocks"])


# ---- the store ------------------------------------------------------------------------------------------


async def test_the_store_finds_a_context_only_for_its_person_kind_and_time(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        clock = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
        contexts = Contexts(SavedContexts(db), lambda: clock[0])
        meta = ModalMeta(
            numbers=("42",), place=Place(channel="C0OPS", response_url="https://hooks.slack.com/commands/T0/1/x")
        )
        token = await contexts.save(Kind.MODAL, ALICE, meta)
        assert TOKEN.fullmatch(token)
        assert await contexts.load(Kind.MODAL, ALICE, token, ModalMeta) == meta

        refused = {
            "someone else": (Kind.MODAL, BOB, token),
            "no record": (Kind.LINK, ALICE, token),  # a modal's token is not a link prompt's
            "no record of": (Kind.MODAL, ALICE, secrets.token_urlsafe(32)),
            "could not read": (Kind.MODAL, ALICE, "not a token"),
            # before tokens, the metadata itself was the JSON
            "older version": (Kind.MODAL, ALICE, json.dumps({"numbers": ["42"], "channel": "C0OPS"})),
        }
        for expected, (kind, user, value) in refused.items():
            with pytest.raises(ActionError, match=expected):
                await contexts.load(kind, user, value, ModalMeta)
        for value in (None, 42, "", "x" * 10_000):
            with pytest.raises(ActionError, match="could not read"):
                await contexts.load(Kind.MODAL, ALICE, value, ModalMeta)

        clock[0] += TTL - timedelta(seconds=1)
        assert await contexts.load(Kind.MODAL, ALICE, token, ModalMeta) == meta
        clock[0] += timedelta(seconds=1)
        with pytest.raises(ActionError, match="expired"):
            await contexts.load(Kind.MODAL, ALICE, token, ModalMeta)
    finally:
        await db.dispose()


async def test_long_expired_contexts_are_dropped_when_new_ones_are_kept(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        store = SavedContexts(db)
        long_ago = datetime.now(UTC) - timedelta(days=2)
        await store.put(Saved("old", "modal", ALICE, {}, long_ago))
        await store.put(Saved("recent", "modal", ALICE, {}, datetime.now(UTC) - timedelta(minutes=5)))
        new = Saved("new", "link", BOB, {"f": "link", "n": ["7"]}, datetime.now(UTC) + TTL)
        await store.put(new)
        assert await store.get("old") is None
        assert await store.get("recent") is not None  # still told "expired", not "unknown"
        assert await store.get("new") == new
    finally:
        await db.dispose()


# ---- only Slack's hosts ---------------------------------------------------------------------------------

HOOKS = ResponseUrls("http://127.0.0.1:8080/api/")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/actions/T0/1/abc",
        "https://HOOKS.slack.com/commands/T0/1/abc",
        "https://hooks.slack.com:443/actions/T0/1/abc",
        "http://127.0.0.1:8080/hooks/actions/T0/1",  # SLACK_API_URL's scheme, host and port: the local fake
    ],
)
def test_response_urls_of_slack_are_allowed(url: str) -> None:
    assert HOOKS.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/actions/T0/1/abc",  # not https
        "https://hooks.slack.com.evil.example/actions",
        "https://evil.example/hooks.slack.com/x",
        "https://evil.example/?u=https://hooks.slack.com/",
        "https://hooks.slack.com@evil.example/x",
        "https://evil.example\\@hooks.slack.com/x",
        "https://evil.example#@hooks.slack.com/x",
        "https://hooks.slack.com:8443/actions",
        "https://slack.com.evil.example/",
        "https://hooks.slack.com./actions",
        " https://hooks.slack.com/actions",
        "https://hooks.slack.com/actions\n/x",
        "http://127.0.0.1:8081/hooks/x",  # the fake's host on another port
        "https://127.0.0.1:8080/hooks/x",  # and another scheme
        "http://localhost:8080/hooks/x",
        "javascript:alert(1)",
        "https://hooks.slack.com/" + "a" * 3000,
        "",
    ],
)
def test_any_other_url_is_refused(url: str) -> None:
    assert not HOOKS.allows(url)


async def test_a_command_with_a_foreign_response_url_gets_nothing_posted_there(
    bot: Bot, catcher: tuple[Catcher, str], caplog: pytest.LogCaptureFixture
) -> None:
    app, foreign = catcher
    payload = bot.driver.command_payload(ALICE, CHANNEL, "whoami") | {"response_url": foreign}
    with caplog.at_level(logging.WARNING):
        result = await bot.driver.post(urlencode(payload))
        assert result.status == 200
        await bot.until(lambda: app.hits or "refused to post" in caplog.text)
    assert app.hits == [] and bot.slack.response_posts() == []
    assert "secret-path" not in caplog.text and foreign.rsplit("/hooks", 1)[0] in caplog.text


async def test_a_queued_outcome_is_not_posted_to_a_foreign_url(
    bot: Bot, catcher: tuple[Catcher, str], caplog: pytest.LogCaptureFixture
) -> None:
    app, foreign = catcher
    now = datetime.now(UTC)
    action = QueuedAction(
        1, now, "ack", "alice", ALICE, "alice", ("1",), {}, {"kind": "reply", "response_url": foreign},
        "failed", 1, None, None, now, None, "VictorOps said no", True, None,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        await bot.vobot.slack_side.notifier(action)
    assert app.hits == [] and "refused to post" in caplog.text and "secret-path" not in caplog.text


# ---- card buttons ---------------------------------------------------------------------------------------

TAMPERED = [
    "not json",
    "{}",
    "5",
    "null",
    "[]",
    '{"n": 5}',  # a number where a string belongs
    '{"n": null}',
    '{"n": "٤٢"}',  # digits, but not ASCII
    '{"n": "1234567890123"}',
    '{"n": "NUMBER", "l": {"s": "open", "r": "database"}}',  # a string where a list belongs
    '{"n": "NUMBER", "l": {"s": 1}}',
    '{"n": "NUMBER", "l": {"x": 1}}',
    '{"n": "NUMBER", "l": {"r": ["' + "a" * 300 + '"]}}',
    '{"n": "NUMBER", "x": 1}',
    '{"n": "NUMBER", "r": "RESPONSE_URL"}',  # an old-style reply address smuggled in
    '{"n": "' + "1" * 5000 + '"}',  # huge
]


@pytest.mark.parametrize("value", TAMPERED)
async def test_a_tampered_card_button_is_answered_with_one_sentence(
    bot: Bot, catcher: tuple[Catcher, str], value: str
) -> None:
    app, foreign = catcher
    card = await listing(bot)
    number = bot.open_numbers("UNACKED")[0]
    payload = bot.driver.click_payload(ALICE, card, ActionId.ACK, block_id=f"inc-{number}-actions")
    payload["actions"][0]["value"] = value.replace("RESPONSE_URL", foreign).replace("NUMBER", number)
    result = await bot.driver._interact(payload)
    assert result.status == 200 and result.elapsed < 3
    answer = await bot.reply(ALICE, 1)
    assert UNREADABLE in answer.text and "`/vo list`" in answer.text
    assert bot.writes() == [] and app.hits == [] and not bot.slack.views()


@pytest.mark.parametrize("value", [None, 7, ["7"], {"n": "7"}])
async def test_a_button_value_that_is_not_a_string_is_answered(bot: Bot, value: object) -> None:
    card = await listing(bot)
    number = bot.open_numbers("UNACKED")[0]
    payload = bot.driver.click_payload(ALICE, card, ActionId.REROUTE, block_id=f"inc-{number}-actions")
    payload["actions"][0]["value"] = value
    result = await bot.driver._interact(payload)
    assert result.status == 200 and result.elapsed < 3
    assert UNREADABLE in (await bot.reply(ALICE, 1)).text
    assert bot.writes() == [] and not bot.slack.views()


async def test_card_buttons_of_older_versions_still_work(bot: Bot) -> None:
    """Card buttons never carried a reply address: the value older versions wrote is read as before."""
    card = await listing(bot)
    number = bot.open_numbers("UNACKED")[0]
    payload = bot.driver.click_payload(ALICE, card, ActionId.ACK, block_id=f"inc-{number}-actions")
    payload["actions"][0]["value"] = json.dumps({"n": number, "l": {"s": "open"}})
    assert (await bot.driver._interact(payload)).elapsed < 3
    await bot.until(lambda: bot.incident(number)["currentPhase"] == "ACKED")


# ---- the link prompt ------------------------------------------------------------------------------------


async def erin_prompt(bot: Bot) -> tuple[Message, str]:
    """Erin (unlinked) clicks Acknowledge on a channel listing and gets the link prompt."""
    card = await listing(bot, public=True)
    number = bot.open_numbers("UNACKED")[0]
    await bot.driver.click(ERIN, card, ActionId.ACK, block_id=f"inc-{number}-actions")
    return await bot.reply(ERIN), number


def prompt_button(prompt: Message) -> str:
    return str(next(b for b in prompt.blocks if b["type"] == "actions")["elements"][0]["value"])


async def test_the_link_prompt_carries_only_a_token(bot: Bot) -> None:
    prompt, _ = await erin_prompt(bot)
    assert TOKEN.fullmatch(prompt_button(prompt))


async def click_prompt_with(bot: Bot, prompt: Message, value: object, user: str = ERIN) -> str:
    payload = bot.driver.click_payload(ERIN, prompt, ActionId.LINK_AND_RETRY)
    payload["actions"][0]["value"] = value
    payload["user"] = bot.driver._user(user)
    result = await bot.driver._interact(payload)
    assert result.status == 200 and result.elapsed < 3
    answered = await bot.until(lambda: (m := bot.slack.find_message(prompt.ts)) and m.history and m)
    return texts(answered)


async def test_a_link_prompt_with_a_foreign_response_url_posts_nothing_there(
    bot: Bot, catcher: tuple[Catcher, str]
) -> None:
    app, foreign = catcher
    prompt, number = await erin_prompt(bot)
    old = {"f": "ack", "u": "erin.walsh", "n": [number], "r": foreign}  # the button value before tokens
    said = await click_prompt_with(bot, prompt, json.dumps(old))
    assert "This button is from an older version of vobot, so nothing was done; run your command again." in said
    assert app.hits == [] and bot.writes() == []
    assert not bot.slack.messages(CHANNEL)[0].history  # the card was not touched either


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not a token", "could not read this button"),
        (None, "could not read this button"),
        (12, "could not read this button"),
        ("{}", "older version of vobot"),
        ("x" * 5000, "could not read this button"),
        # a random value needs a fixed id: xdist workers must collect the same tests
        pytest.param(secrets.token_urlsafe(32), "has no record of this button", id="unknown token"),
    ],
)
async def test_a_tampered_link_prompt_is_answered_with_one_sentence(bot: Bot, value: object, says: str) -> None:
    prompt, _ = await erin_prompt(bot)
    assert says in await click_prompt_with(bot, prompt, value)
    assert bot.writes() == []


async def test_someone_elses_link_prompt_does_nothing(bot: Bot) -> None:
    prompt, _ = await erin_prompt(bot)
    said = await click_prompt_with(bot, prompt, prompt_button(prompt), user="U0FRANK")
    assert "This button was made for someone else, so nothing was done" in said
    assert bot.writes() == [] and "Linked" not in said


# ---- modals ---------------------------------------------------------------------------------------------


async def test_modals_carry_only_a_token(bot: Bot) -> None:
    view_id = await open_view(bot, ALICE, "create", "summary")
    assert TOKEN.fullmatch(bot.slack.view(view_id).body["private_metadata"])


async def test_old_modal_metadata_with_a_foreign_response_url_posts_nothing_there(
    bot: Bot, catcher: tuple[Catcher, str]
) -> None:
    app, foreign = catcher
    view_id = await open_view(bot, ALICE, "create", "summary")
    payload = bot.driver.view_submission_payload(ALICE, view_id, {"summary": {"summary": "db down"}})
    payload["view"]["private_metadata"] = json.dumps({"channel": CHANNEL, "response_url": foreign})  # before tokens
    said = modal_sentence(await bot.driver._interact(payload))
    assert "This window is from an older version of vobot, so nothing was done" in said
    assert app.hits == [] and bot.writes() == [] and bot.slack.response_posts() == []


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ("not json", "could not read this window"),
        ("", "could not read this window"),
        ("{}", "older version of vobot"),
        ("null", "could not read this window"),
        ("x" * 3000, "could not read this window"),
        # a random value needs a fixed id: xdist workers must collect the same tests
        pytest.param(secrets.token_urlsafe(32), "has no record of this window", id="unknown token"),
    ],
)
async def test_tampered_modal_metadata_is_answered_in_the_modal(bot: Bot, metadata: str, says: str) -> None:
    number = bot.open_numbers("UNACKED")[0]
    view_id = await open_view(bot, ALICE, f"reroute {number}", "policy")
    payload = bot.driver.view_submission_payload(ALICE, view_id, {"users": {"users": ["dave"]}})
    payload["view"]["private_metadata"] = metadata
    assert says in modal_sentence(await bot.driver._interact(payload))
    assert bot.writes() == [] and bot.slack.response_posts() == []


async def test_another_persons_modal_token_does_nothing(tmp_path: Path, database_url: str) -> None:
    async with running_bot(tmp_path, VOBOT_DATABASE_URL=database_url) as bot:
        number = bot.open_numbers("UNACKED")[0]
        view_id = await open_view(bot, ALICE, f"reroute {number}", "policy")
        payload = bot.driver.view_submission_payload(ALICE, view_id, {"users": {"users": ["dave"]}})
        payload["user"] = bot.driver._user(BOB)
        said = modal_sentence(await bot.driver._interact(payload))
        assert "This window was made for someone else, so nothing was done" in said
        assert bot.writes() == [] and bot.slack.response_posts() == []


async def test_an_expired_modal_token_does_nothing(tmp_path: Path, database_url: str) -> None:
    async with running_bot(tmp_path, VOBOT_DATABASE_URL=database_url) as bot:
        view_id = await open_view(bot, ALICE, "create", "summary")
        token = secrets.token_urlsafe(32)
        meta = ModalMeta(
            place=Place(channel=CHANNEL, response_url=bot.slack.new_response_url("commands", CHANNEL, ALICE))
        )
        expired = datetime.now(UTC) - timedelta(seconds=1)
        await SavedContexts(bot.vobot.store.db).put(
            Saved(token, Kind.MODAL, ALICE, meta.model_dump(mode="json"), expired)
        )
        payload = bot.driver.view_submission_payload(ALICE, view_id, {"summary": {"summary": "db down"}})
        payload["view"]["private_metadata"] = token
        said = modal_sentence(await bot.driver._interact(payload))
        assert "This window expired (they last 30 minutes), so nothing was done" in said
        assert bot.writes() == [] and bot.slack.response_posts() == []


async def test_a_modal_opened_on_one_replica_is_submitted_to_another(tmp_path: Path, database_url: str) -> None:
    async with (
        running_bot(tmp_path / "a", VOBOT_DATABASE_URL=database_url) as first,
        running_bot(tmp_path / "b", state=first.vo, slack=first.slack, VOBOT_DATABASE_URL=database_url) as second,
    ):
        view_id = await open_view(first, ALICE, "create", "summary")
        payload = first.driver.view_submission_payload(ALICE, view_id, {"summary": {"summary": "Queue stuck"}})
        result = await second.driver._interact(payload)
        assert result.status == 200 and result.response_action is None
        assert "Created #" in texts(await first.reply(ALICE))


# ---- Socket Mode: no HTTP edge in front of the listeners ------------------------------------------------


@asynccontextmanager
async def socket_bot(tmp_path: Path) -> AsyncIterator[tuple[SlackDriver, SlackWorkspace, SimState]]:
    state = SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF))
    slack = SlackWorkspace()
    with ServerThread(build_app(state=state)) as vo, ServerThread(build_slack_api(slack)) as slack_server:
        slack.base_url = slack_server.url
        settings = settings_for(
            slack, slack_server.url, vo.url, tmp_path, SLACK_APP_TOKEN=slack.app_token, PORT=str(free_port())
        )
        task = asyncio.create_task(run_bot(settings, AppConfig(users=USERS), host="127.0.0.1"))
        try:
            yield SlackDriver(slack, "unused: socket mode", "unused"), slack, state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_without_a_user_a_click_or_submission_is_answered_in_socket_mode(tmp_path: Path) -> None:
    async with socket_bot(tmp_path) as (driver, slack, state):
        await driver.send_socket_envelope("slash_commands", driver.command_payload(ALICE, CHANNEL, "list"))
        card = await wait_for(lambda: next(iter(slack.ephemerals(ALICE)), None))
        number = next(str(i["incidentNumber"]) for i in state.incidents() if i["currentPhase"] == "UNACKED")
        for seen, user in enumerate([None, {}, {"id": 7}, "U0ALICE"], start=1):
            payload = driver.click_payload(ALICE, card, ActionId.ACK, block_id=f"inc-{number}-actions")
            payload["user"] = user
            await driver.send_socket_envelope("interactive", payload)
            answer = await wait_for(lambda n=seen: slack.ephemerals(ALICE)[n:])
            assert "Slack did not say who clicked, so nothing was done" in answer[0].text

        await driver.send_socket_envelope("slash_commands", driver.command_payload(ALICE, CHANNEL, "create"))
        view = await wait_for(lambda: next((v for v in slack.views() if "summary" in str(v.body)), None))
        payload = driver.view_submission_payload(ALICE, view.id, {"summary": {"summary": "db down"}})
        del payload["user"]
        acked = await driver.send_socket_envelope("interactive", payload)
        assert acked.payload and acked.payload["response_action"] == "update"
        assert "Slack did not say who clicked" in str(acked.payload["view"]["blocks"])
        assert [c for c in state.calls() if c.method != "GET"] == []


async def test_a_click_with_odd_parts_still_acts_in_socket_mode(tmp_path: Path) -> None:
    """No edge normalises Socket Mode envelopes: a null or non-object container or message is taken as absent."""
    async with socket_bot(tmp_path) as (driver, slack, state):
        await driver.send_socket_envelope("slash_commands", driver.command_payload(ALICE, CHANNEL, "list"))
        card = await wait_for(lambda: next(iter(slack.ephemerals(ALICE)), None))
        unacked = [str(i["incidentNumber"]) for i in state.incidents() if i["currentPhase"] == "UNACKED"]
        for number, (part, odd) in zip(
            unacked, [("container", None), ("container", "x"), ("message", "x")], strict=False
        ):
            payload = driver.click_payload(ALICE, card, ActionId.ACK, block_id=f"inc-{number}-actions")
            payload[part] = odd
            acked = await driver.send_socket_envelope("interactive", payload)
            assert acked.envelope_id  # acked at once, not dropped by a crash after the ack
            await wait_for(lambda n=number: state.incident(n)["currentPhase"] == "ACKED", within=5)
