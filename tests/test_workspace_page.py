"""The demo's Slack workspace page: its routes over HTTP, then the page itself driven in a real headless Chromium."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect
from starlette.applications import Starlette

from bot.sim.demo import CONFIG as DEMO_CONFIG
from bot.sim.server import serve
from bot.sim.stack import LocalStack, local_stack
from bot.sim.workspace import DemoUser, build_workspace_routes, typed_mentions
from bot.slack.blocks import ActionId

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "workspace.png"
CHANNEL = "C0OPS"
DEMO_USERS = [
    DemoUser("U0ALICE", "alice", "linked"),
    DemoUser("U0BOB", "bob", "linked"),
    DemoUser("U0ERIN", "erin", "unlinked"),
    DemoUser("U0ADMIN1", "priya", "admin"),
]
CONFIG = {
    "users": {"U0ALICE": "alice", "U0BOB": "bob.martinez", "U0ADMIN1": "heidi"},
    "admins": ["U0ADMIN1"],
    "email_matching": False,
    # Once a year, so it only posts when asked to with `/vo digest now`.
    "digests": [{"name": "morning", "channel": CHANNEL, "schedule": "0 9 1 1 *"}],
}

Json = dict[str, Any]


@pytest.fixture
async def page_stack(tmp_path: Path) -> AsyncIterator[tuple[LocalStack, httpx.AsyncClient]]:
    """The bot on its fakes, and the page's routes served as the demo serves them."""
    async with (
        local_stack(tmp_path, config=CONFIG, VOBOT_BATCH_WINDOW="0.1") as stack,
        serve(Starlette(routes=build_workspace_routes(stack, DEMO_USERS))) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield stack, client


async def seen(client: httpx.AsyncClient, user: str = "U0ALICE") -> Json:
    response = await client.get("/demo/state", params={"user": user, "channel": CHANNEL})
    assert response.status_code == 200, response.text
    state: Json = response.json()
    return state


async def post(client: httpx.AsyncClient, path: str, body: Json) -> Json:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: Json = response.json()
    return answer


def listing(state: Json) -> Json:
    return next(m for m in state["messages"] if m["ephemeral"] and "Open incidents" in str(m["blocks"]))


# --- the routes ---------------------------------------------------------------------------------------------


async def test_the_page_and_its_files_are_served(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    _, client = page_stack
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="composer"' in page.text and "/static/workspace.js" in page.text
    for name in ("workspace.js", "workspace.css"):
        assert (await client.get(f"/static/{name}")).status_code == 200
    assert (await client.get("/static/nothing.js")).status_code == 404


async def test_state_shows_a_fresh_page_the_first_demo_user_and_a_stable_version(
    page_stack: tuple[LocalStack, httpx.AsyncClient],
) -> None:
    stack, client = page_stack
    state = (await client.get("/demo/state")).json()
    assert (state["user"], state["channel"]) == ("U0ALICE", CHANNEL)
    assert [(u["slack_id"], u["role"]) for u in state["users"]][:3] == [
        ("U0ALICE", "linked"),
        ("U0BOB", "linked"),
        ("U0ERIN", "unlinked"),
    ]
    assert {"id": CHANNEL, "name": "ops", "private": False, "dm": False} in state["channels"]
    assert state["names"]["U0ALICE"] == "alice" and state["messages"] == [] and state["views"] == []
    assert {i["number"] for i in state["incidents"]} == {i["incidentNumber"] for i in stack.vo.incidents()}
    assert state["budget"] == {"incidents": None, "reporting": None, "lookups": None}  # unlimited in tests
    assert (await seen(client))["version"] == state["version"]  # nothing changed, nothing to redraw


async def test_bad_input_is_a_400_with_one_sentence(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    stack, client = page_stack
    await post(client, "/demo/command", {"user": "U0ALICE", "channel": CHANNEL, "text": "list"})
    ephemeral = (await stack.reply("U0ALICE")).ts
    cases: list[tuple[str, str, Any, str]] = [
        ("GET", "/demo/state?user=U0NOPE&channel=C0OPS", None, "no user “U0NOPE”"),
        ("GET", "/demo/state?user=U0ALICE&channel=C0NOPE", None, "no channel “C0NOPE”"),
        ("POST", "/demo/command", "not json", "must be a JSON object"),
        ("POST", "/demo/command", [1, 2], "must be a JSON object"),
        ("POST", "/demo/command", {"channel": CHANNEL, "text": "list"}, "“user” must be"),
        ("POST", "/demo/command", {"user": "U0ALICE", "channel": CHANNEL, "text": "/deploy now"}, "/deploy is not"),
        ("POST", "/demo/click", {"user": "U0ALICE", "ts": "1.000001", "action_id": "x"}, "no message “1.000001”"),
        ("POST", "/demo/click", {"user": "U0BOB", "ts": ephemeral, "action_id": "x"}, "visible only to U0ALICE"),
        ("POST", "/demo/click", {"user": "U0ALICE", "ts": ephemeral, "action_id": "nope"}, "no button 'nope'"),
        ("POST", "/demo/submit", {"user": "U0ALICE", "view_id": "V404", "values": {}}, "no open view “V404”"),
        ("POST", "/demo/close", {"view_id": "V404"}, "no open view “V404”"),
    ]
    for method, path, body, expected in cases:
        if body is None:
            response = await client.request(method, path)
        elif isinstance(body, str):
            response = await client.request(method, path, content=body)
        else:
            response = await client.request(method, path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        error = response.json()["error"]
        assert expected in error and error.endswith(".") and "\n" not in error, error
    assert stack.writes() == []


async def test_a_command_and_a_click_reach_the_bot_and_show_up(
    page_stack: tuple[LocalStack, httpx.AsyncClient],
) -> None:
    stack, client = page_stack
    helped = await post(client, "/demo/command", {"user": "U0ALICE", "channel": CHANNEL, "text": "/vo help"})
    assert helped["status"] == 200 and "/vo ack" in helped["message"]
    before = await seen(client)
    assert before["messages"][-1]["ephemeral"] and "/vo ack" in before["messages"][-1]["text"]
    assert (await seen(client, "U0BOB"))["messages"] == []  # an ephemeral is only for the one who asked

    await post(client, "/demo/command", {"user": "U0ALICE", "channel": CHANNEL, "text": "list"})
    await stack.reply("U0ALICE", 1)
    cards = listing(await seen(client))
    number = stack.open_numbers("UNACKED")[0]
    clicked = await post(
        client,
        "/demo/click",
        {
            "user": "U0ALICE",
            "ts": cards["ts"],
            "action_id": ActionId.ACK,
            "block_id": f"inc-{number}-actions",
            "value": None,
        },
    )
    assert clicked == {"status": 200}
    await stack.until(lambda: stack.incident(number)["currentPhase"] == "ACKED")
    await stack.until(lambda: stack.slack.find_message(cards["ts"]).history)  # type: ignore[union-attr]
    after = await seen(client)
    card = listing(after)
    assert card["ts"] == cards["ts"] and card["edited"] and "Acknowledged by you." in str(card["blocks"])
    assert after["version"] != before["version"]
    shown = next(i for i in after["incidents"] if i["number"] == number)
    assert shown["phase"] == "ACKED" and shown["acked_by"] == "alice"
    assert any(c["path"] == "/api-public/v1/incidents/ack" and c["status"] == 200 for c in after["calls"])


async def test_a_modal_shows_errors_submits_and_closes(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    stack, client = page_stack
    number = stack.open_numbers("UNACKED")[0]
    policy = stack.vo.directory.policies[-1].slug

    async def open_reroute() -> Json:
        await post(client, "/demo/command", {"user": "U0ALICE", "channel": CHANNEL, "text": f"reroute {number}"})
        await stack.until(lambda: any("policy" in str(v.body.get("blocks")) for v in stack.slack.views()))
        [view] = (await seen(client))["views"]
        return view

    view = await open_reroute()
    assert view["body"]["title"]["text"] == "Reroute incident"
    refused = await client.post("/demo/submit", json={"user": "U0BOB", "view_id": view["id"], "values": {}})
    assert refused.status_code == 400 and "open for U0ALICE" in refused.json()["error"]
    empty = await post(client, "/demo/submit", {"user": "U0ALICE", "view_id": view["id"], "values": {}})
    assert empty["response_action"] == "errors" and "policy" in empty["errors"]
    assert (await seen(client))["views"][0]["errors"] == empty["errors"]  # the page draws them under the field
    assert stack.writes() == []

    values = {"policy": {"policy": policy}, "users": {"users": []}}
    submitted = await post(client, "/demo/submit", {"user": "U0ALICE", "view_id": view["id"], "values": values})
    assert submitted == {"status": 200, "response_action": None, "errors": {}}
    await stack.until(lambda: stack.incident(number)["pagedPolicies"][0]["policy"]["slug"] == policy)
    assert (await seen(client))["views"] == []

    view = await open_reroute()
    assert await post(client, "/demo/close", {"view_id": view["id"]}) == {"closed": view["id"]}
    assert (await seen(client))["views"] == []


async def test_the_home_tab_and_the_shortcuts_reach_the_bot(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    stack, client = page_stack
    assert (await post(client, "/demo/home/open", {"user": "U0BOB"})) == {"status": 200}
    home = (await stack.until(lambda: stack.slack.home("U0BOB"))).body
    assert (await seen(client, "U0BOB"))["home"] == home and (await seen(client))["home"] is None
    number = next(b["block_id"][4:] for b in home["blocks"] if b.get("block_id", "").startswith("inc-"))
    value = f'{{"n":"{number}"}}'
    clicked = await post(client, "/demo/home/click", {"user": "U0BOB", "action_id": ActionId.ACK, "value": value})
    assert clicked == {"status": 200}
    await stack.until(lambda: stack.incident(number)["currentPhase"] == "ACKED")

    said = await post(
        client, "/demo/message", {"user": "U0BOB", "channel": CHANNEL, "text": "Login is down\nfor @alice"}
    )
    shown = next(m for m in (await seen(client, "U0BOB"))["messages"] if m["ts"] == said["ts"])
    assert shown["text"] == "Login is down\nfor <@U0ALICE|alice>" and not shown["bot"]
    opened = await post(
        client, "/demo/shortcut", {"user": "U0BOB", "callback_id": "vo_create_from_message", "ts": said["ts"]}
    )
    assert opened == {"status": 200}
    view = await stack.until(lambda: next((v for v in stack.slack.views() if "summary" in str(v.body)), None))
    assert "Login is down" in str(view.body) and (await seen(client, "U0BOB"))["views"][0]["id"] == view.id
    await post(client, "/demo/close", {"view_id": view.id})
    assert (await post(client, "/demo/shortcut", {"user": "U0BOB", "callback_id": "vo_create"})) == {"status": 200}
    await stack.until(lambda: [v for v in stack.slack.views() if "summary" in str(v.body)])
    stack.slack.open_dm("U0ALICE")
    channels = [c for c in (await seen(client, "U0BOB"))["channels"] if c["dm"]]
    assert channels == []  # Alice's direct messages with the bot are hers


async def test_a_select_in_a_message_reaches_the_bot(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    stack, client = page_stack
    options = [{"text": {"type": "plain_text", "text": t}, "value": t} for t in ("one", "two")]
    select = {"type": "static_select", "action_id": "pick", "options": options}
    posted = stack.slack.post_message(CHANNEL, "pick one", [{"type": "actions", "block_id": "b", "elements": [select]}])
    body = {"user": "U0ALICE", "ts": posted.ts, "action_id": "pick", "block_id": "b", "value": "two"}
    answer = await post(client, "/demo/select", body)
    assert answer == {"status": 404}  # Bolt checked the signature (else 401): no listener for this select
    refused = await client.post("/demo/select", json=body | {"value": "three"})
    assert refused.status_code == 400 and refused.json() == {"error": "'pick' has no option 'three'."}


# --- the page in a real browser -----------------------------------------------------------------------------


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser test"
    if os.environ.get("VOBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"VOBOT_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


async def in_chromium(tmp_path: Path, work: Callable[[LocalStack, Page, str], Awaitable[None]], shot: Path) -> None:
    """`work` done on the page in Chromium, against the bot on its fakes; a screenshot of how it ended."""
    chromium_or_skip()
    async with (
        local_stack(tmp_path, config=CONFIG, VOBOT_BATCH_WINDOW="0.1") as stack,
        serve(Starlette(routes=build_workspace_routes(stack, DEMO_USERS))) as url,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(5000)
        try:
            await work(stack, page, url)
        finally:  # the page as it was at the end, or where it went wrong
            shot.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(shot))
            await browser.close()


@pytest.mark.slow  # a browser
async def test_a_user_works_incidents_from_the_page_in_chromium(tmp_path: Path) -> None:
    await in_chromium(
        tmp_path, lambda stack, page, url: work_incidents(stack, page, f"{url}/?channel={CHANNEL}"), SCREENSHOT
    )


async def work_incidents(stack: LocalStack, page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.locator("#user-picker option[value=U0ERIN]")).to_have_text("erin — unlinked")
    await page.select_option("#user-picker", "U0ALICE")

    composer = page.locator("#composer")
    await composer.fill("/vo list")
    await composer.press("Enter")
    number = stack.open_numbers("UNACKED")[0]
    card = page.locator(f'[data-ephemeral="true"] [data-block-id="inc-{number}"]')
    actions = page.locator(f'[data-ephemeral="true"] [data-block-id="inc-{number}-actions"]')
    await expect(page.locator(".header-text", has_text="Open incidents")).to_be_visible()
    await expect(card).to_contain_text("Triggered")
    await expect(page.get_by_text("Only visible to you").first).to_be_visible()

    await actions.get_by_role("button", name="Resolve").click()  # a confirm dialog first, as in Slack
    await expect(page.locator("#confirm .confirm-title")).to_have_text("Resolve this incident?")
    await page.locator("#confirm-cancel").click()
    await expect(page.locator("#confirm")).to_be_hidden()

    await actions.locator(f'button[data-action-id="{ActionId.ACK}"]').click()
    await stack.until(lambda: stack.incident(number)["currentPhase"] == "ACKED", within=5)
    await expect(actions.locator(f'button[data-action-id="{ActionId.ACK}"]')).to_have_count(0)
    await expect(card).to_contain_text("Acknowledged by you,")  # her ephemeral listing
    note = page.locator(f'[data-ephemeral="true"] [data-block-id="inc-{number}-note"]')
    await expect(note).to_have_text("Acknowledged by you.")
    listing = page.locator('[data-ephemeral="true"]', has=page.locator(f'[data-block-id="inc-{number}"]'))
    await expect(listing.locator(".edited")).to_have_text("(edited)")
    await expect(page.locator(f'#vo-incidents [data-incident="{number}"]')).to_have_attribute("data-phase", "ACKED")
    await expect(page.locator("#vo-calls tr", has_text="/api-public/v1/incidents/ack").first).to_be_visible()
    assert [c.path for c in stack.writes()] == ["/api-public/v1/incidents/ack"]  # the cancelled resolve sent nothing

    await actions.get_by_role("button", name="Reroute…").click()
    modal = page.locator("#modal")
    await expect(modal.locator(".modal-title")).to_have_text("Reroute incident")
    await modal.locator("#modal-submit").click()  # nothing picked: the bot's error shows under the field
    await expect(modal.locator('[data-block-id="policy"] .input-error')).to_contain_text("Pick a policy")
    policy = stack.vo.directory.policies[-1]
    await modal.locator('[data-block-id="policy"] select').select_option(policy.slug)
    await modal.locator("#modal-submit").click()
    await stack.until(lambda: stack.incident(number)["pagedPolicies"][0]["policy"]["slug"] == policy.slug, within=5)
    await expect(modal).to_be_hidden()
    await expect(page.locator(f'#vo-incidents [data-incident="{number}"]')).to_contain_text(policy.name)

    await composer.fill("/vo digest now")
    await composer.press("Enter")
    digest = page.locator('[data-ephemeral="false"]', has_text="Digest “morning”")
    await expect(digest).to_be_visible()
    await expect(page.get_by_text("Posted the digest “morning” here.")).to_be_visible()
    await digest.evaluate("node => node.scrollIntoView({block: 'start'})")


async def test_a_typed_at_handle_becomes_a_mention(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    """The README's demo step `/vo link @erin erin.walsh` works: the composer makes `@erin` a mention, as Slack's."""
    stack, client = page_stack
    done = await post(
        client, "/demo/command", {"user": "U0ADMIN1", "channel": CHANNEL, "text": "/vo link @erin erin.walsh"}
    )
    assert done["status"] == 200
    reply = await stack.reply("U0ADMIN1")
    assert "Linked <@U0ERIN> to VictorOps user `erin.walsh`" in reply.text


def test_the_composer_leaves_emails_and_unknown_handles_alone() -> None:
    typed = "create disk full on db09 to @dave : mail ops@example.com, cc @nobody and <@U0BOB>"
    assert typed_mentions(typed, {"dave": "U0DAVE", "bob": "U0BOB"}) == (
        "create disk full on db09 to <@U0DAVE|dave> : mail ops@example.com, cc @nobody and <@U0BOB>"
    )


async def test_the_bot_can_be_invited_to_a_private_channel(page_stack: tuple[LocalStack, httpx.AsyncClient]) -> None:
    stack, client = page_stack
    private = "C0PRIV"
    assert not stack.slack.channel(private).bot_is_member
    await post(client, "/demo/command", {"user": "U0ALICE", "channel": private, "text": "/vo digest now"})
    refused = await stack.reply("U0ALICE")
    assert "invite it with `/invite @vobot`" in refused.text and stack.slack.messages(private) == []
    done = await post(client, "/demo/command", {"user": "U0ALICE", "channel": private, "text": "/invite @vobot"})
    assert done["status"] == 200 and stack.slack.channel(private).bot_is_member
    assert "vobot joined #incident-war-room" in stack.slack.messages(private)[-1].text
    await post(client, "/demo/command", {"user": "U0ALICE", "channel": private, "text": "/vo digest now"})
    await stack.until(lambda: len(stack.slack.messages(private)) == 2)
    other = await client.post("/demo/command", json={"user": "U0ALICE", "channel": private, "text": "/invite @bob"})
    assert other.status_code == 400 and "/invite @vobot" in other.json()["error"]


async def test_an_alert_triggered_on_the_page_arrives_as_the_demo_feeds_card_in_chromium(tmp_path: Path) -> None:
    chromium_or_skip()
    token = "demo-page-token"
    async with (
        local_stack(tmp_path, config=DEMO_CONFIG, VOBOT_WEBHOOK_TOKEN=token) as stack,
        serve(Starlette(routes=build_workspace_routes(stack, DEMO_USERS))) as url,
        async_playwright() as playwright,
    ):
        stack.vo.send_webhooks(f"{stack.url}/victorops/webhook", token)  # as the demo does
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.set_default_timeout(5000)
        try:
            await page.goto(url)  # the page opens on the feed's channel
            await asyncio.sleep(1.1)  # VictorOps' start times are whole seconds: the feed's second is over
            before = {i["incidentNumber"] for i in stack.vo.incidents()}
            await page.locator("#vo-alert").click()
            await stack.until(lambda: len(stack.vo.incidents()) > len(before), within=5)
            [number] = {i["incidentNumber"] for i in stack.vo.incidents()} - before
            card = page.locator(f'[data-ephemeral="false"] [data-block-id="inc-{number}"]')
            await expect(card).to_contain_text("Triggered")
            await expect(
                page.locator(f'[data-ephemeral="false"] [data-block-id="inc-{number}-actions"]')
            ).to_be_visible()
        finally:
            stack.vo.send_webhooks(None)
            await browser.close()
        assert [m.text.count(f"#{number}") > 0 for m in stack.slack.messages(CHANNEL)] == [True]  # posted once


@pytest.mark.slow  # a browser
async def test_the_home_tab_and_a_message_shortcut_in_chromium(tmp_path: Path) -> None:
    await in_chromium(tmp_path, home_and_shortcut, SCREENSHOT.with_name("workspace-home.png"))


async def home_and_shortcut(stack: LocalStack, page: Page, url: str) -> None:
    await page.goto(f"{url}/?user=U0BOB&channel={CHANNEL}")
    await page.locator("#home-link").click()
    home = page.locator('[data-testid="home"]')
    await expect(home).to_contain_text("You are bob.martinez")
    number = next(str(i["incidentNumber"]) for i in stack.vo.incidents() if "bob.martinez" in i["pagedUsers"])
    actions = home.locator(f'[data-block-id="inc-{number}-actions"]')
    await actions.locator(f'button[data-action-id="{ActionId.ACK}"]').click()
    await stack.until(lambda: stack.incident(number)["currentPhase"] == "ACKED", within=5)
    await expect(home.locator('[data-block-id="home-notice"]')).to_contain_text("Acknowledged")

    await page.locator(f'.channel-link[data-channel="{CHANNEL}"]').click()
    composer = page.locator("#composer")
    await composer.fill("Checkout is failing")
    await composer.press("Enter")
    said = page.locator('[data-ephemeral="false"]', has_text="Checkout is failing")
    await said.hover()
    await said.locator('[data-testid="message-menu"]').click()
    await said.locator('[data-testid="shortcut-create"]').click()
    modal = page.locator("#modal")
    await expect(modal.locator(".modal-title")).to_have_text("Create incident")
    await expect(modal.locator('[data-block-id="summary"] input')).to_have_value("Checkout is failing")
    await modal.locator("#modal-submit").click()
    await stack.until(
        lambda: any(i["entityDisplayName"] == "Checkout is failing" for i in stack.vo.incidents()), within=5
    )
    await expect(modal).to_be_hidden()


def test_make_demo_on_a_busy_port_says_which_and_how_to_pick_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PORT": str(port)}
        done = subprocess.run(
            [sys.executable, "-m", "bot", "demo"], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1 and done.stdout == "", done.stdout  # no "open http://…" line first
    assert f"Port {port} on 127.0.0.1 is in use" in done.stderr and f"PORT={port + 1} make demo" in done.stderr
    assert "Traceback" not in done.stderr
