"""Who is on call, end to end: the simulator rotates on-call by itself (its clock injected), the bot's watch reads
it, posts "On call for Ops: … (was …)" in the feed's channel and keeps the Slack fake's user group in step; the
on-call webhook only nudges a read; `/vo status` names the unlinked people on call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bot.sim.slack import Message, SlackWorkspace
from bot.sim.stack import LocalStack, local_stack
from bot.sim.victorops import SimConfig, SimState
from bot.slack.blocks import ActionId
from tests.dbfixtures import fresh_postgres_schema
from tests.harness import CHANNEL, OFF, USERS, buttons, running_bot, texts

HOUR = 3600.0
TOKEN = "oncall-webhook-token"


class SimClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def sim(clock: SimClock) -> SimState:
    return SimState(SimConfig(incidents=OFF, reporting=OFF, lookups=OFF, rotate_every=HOUR, clock=clock))


def setup(state: SimState, **more: Any) -> dict[str, Any]:
    ops = state.directory.teams[0]
    assert ops.name == "Ops"
    feed = {"channel": CHANNEL, "filter": {"teams": ["Ops"]}, "handoff": True}
    return {"feeds": [feed], "oncall_groups": {ops.slug: "S0OPSONCALL"}, **more}


def handoffs(bot: LocalStack) -> list[Message]:
    return [m for m in bot.slack.messages(CHANNEL) if m.text.startswith("On call for")]


def oncall_reads(bot: LocalStack) -> int:
    return sum(1 for c in bot.vo.calls() if c.path == "/api-public/v1/oncall/current")


async def test_a_rotation_posts_one_handoff_naming_both_and_the_group_follows(tmp_path: Path) -> None:
    clock = SimClock()
    state = sim(clock)
    async with running_bot(tmp_path, config=setup(state), state=state) as bot:
        watch = bot.vobot.core.oncall
        await bot.vobot.lookups.incidents.current()  # the view the summary is drawn from (no call of its own)
        assert await watch.check(time.time()) == []  # first sight: no "was", so no post
        assert handoffs(bot) == []
        assert bot.slack.usergroup_users("S0OPSONCALL") == ("U0ALICE", "U0CAROL")  # brought in step

        clock.now += HOUR  # Ops Primary alice -> bob.martinez, Ops Escalation cchen -> alice
        calls = oncall_reads(bot)
        [handoff] = [h for h in await watch.check(time.time()) if h.team.name == "Ops"]  # every team rotated
        assert oncall_reads(bot) == calls + 1
        assert handoff.on == ("bob.martinez", "alice") and handoff.was == ("alice", "cchen")
        [post] = handoffs(bot)
        assert post.text.startswith("On call for *Ops*: <@U0BOB> and <@U0ALICE> (was <@U0ALICE> and <@U0CAROL>)")
        open_ops = [i for i in handoff.open]
        assert open_ops, "the seed has open Ops incidents"
        assert "Open for *Ops*" in texts(post)
        oldest = min(open_ops, key=lambda i: i.start_time or 0)  # type: ignore[arg-type, return-value]
        assert buttons(post, oldest.incident_number)[0] in (ActionId.ACK, ActionId.RESOLVE)
        assert bot.slack.usergroup_users("S0OPSONCALL") == ("U0BOB", "U0ALICE")
        [update] = [c for c in bot.slack.calls("usergroups.users.update") if c.params.get("users") == "U0BOB,U0ALICE"]
        assert update.error is None

        assert await watch.check(time.time()) == []  # the same on-call again: nothing more
        assert len(handoffs(bot)) == 1 and len(bot.slack.calls("usergroups.users.update")) == 2

        # /vo oncall is served from the watch's answer: no VictorOps call of its own
        calls = oncall_reads(bot)
        await bot.driver.command("U0ALICE", CHANNEL, "oncall Ops")
        assert "Ops" in texts(await bot.reply("U0ALICE"))
        assert oncall_reads(bot) == calls


async def test_the_oncall_webhook_nudges_one_read_and_a_garbage_body_is_still_400(tmp_path: Path) -> None:
    clock = SimClock()
    state = sim(clock)
    options = {"VOBOT_WEBHOOK_TOKEN": TOKEN, "VOBOT_ONCALL_INTERVAL": "0"}  # 0: only from webhooks
    async with running_bot(tmp_path, config=setup(state), state=state, **options) as bot:
        watch = bot.vobot.core.oncall
        watch.gather = watch.gap = 0.01  # the webhook's path here, not the gap (tests/test_oncall_core.py)
        await watch.check(time.time())
        clock.now += HOUR
        calls = oncall_reads(bot)
        async with httpx.AsyncClient(base_url=bot.url) as client:
            hook = "/victorops/webhook"
            answers = [
                await client.post(hook, params={"token": TOKEN, "kind": "oncall"}, json={"anything": "at all"}),
                await client.post(hook, params={"token": TOKEN}, json={"ONCALL.USER": "bob.martinez"}),
            ]
            garbage = await client.post(hook, params={"token": TOKEN}, json={"hello": "world"})
            no_phase = await client.post(hook, params={"token": TOKEN}, json={"INCIDENT_NUMBER": "7"})
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].text == "Accepted: who is on call is read again soon.\n"
        assert garbage.status_code == 400 and "not an incident event" in garbage.text
        assert no_phase.status_code == 400
        stop = asyncio.Event()
        running = asyncio.create_task(watch.run(stop))  # both nudges are in before the loop reads
        await bot.until(lambda: handoffs(bot), within=5)
        stop.set()
        await running
        assert oncall_reads(bot) == calls + 1  # two nudges, one read
        assert len(handoffs(bot)) == 1


async def test_status_names_the_unlinked_on_call_of_a_group_and_a_refusal(tmp_path: Path) -> None:
    clock = SimClock()
    state = sim(clock)
    users = {k: v for k, v in USERS.items() if v != "cchen"}  # Carol is on call for Ops, and not linked
    async with running_bot(tmp_path, config=setup(state), state=state, users=users) as bot:
        bot.slack.fail_next("usergroups.users.update", status=200, retry_after=None, error="permission_denied")
        await bot.vobot.core.oncall.check(time.time())
        await bot.driver.command("U0ALICE", CHANNEL, "status")
        text = texts(await bot.reply("U0ALICE"))
        assert "On-call group <!subteam^S0OPSONCALL>" in text
        assert "on call for Ops but not linked: `cchen`" in text
        assert "user groups need a paid Slack plan" in text


async def test_two_replicas_on_postgres_post_a_handoff_once_and_update_the_group_once(tmp_path: Path) -> None:
    clock = SimClock()
    state, slack = sim(clock), SlackWorkspace()
    config = {"users": dict(USERS), "admins": ["U0ADMIN1"], "email_matching": False, **setup(state)}
    with fresh_postgres_schema() as url:
        shared = {"state": state, "slack": slack, "config": config, "VOBOT_DATABASE_URL": url}
        async with (
            local_stack(tmp_path / "a", **shared) as one,  # type: ignore[arg-type]
            local_stack(tmp_path / "b", **shared) as two,  # type: ignore[arg-type]
        ):
            watches = [one.vobot.core.oncall, two.vobot.core.oncall]
            await asyncio.gather(*(w.check(time.time()) for w in watches))
            clock.now += HOUR
            calls = oncall_reads(one)
            asked = time.time()
            await asyncio.gather(*(w.check(asked) for w in watches))
            assert oncall_reads(one) == calls + 1  # one read for both replicas
            [post] = handoffs(one)
            assert "(was <@U0ALICE> and <@U0CAROL>)" in post.text
            updates = [c.params["users"] for c in slack.calls("usergroups.users.update")]
            assert updates == ["U0ALICE,U0CAROL", "U0BOB,U0ALICE"]  # first sight, then the change: once each


async def test_without_handoff_feeds_or_groups_there_is_no_watch_and_no_on_call_webhook(tmp_path: Path) -> None:
    clock = SimClock()
    state = sim(clock)
    config = {"feeds": [{"channel": CHANNEL, "filter": {"teams": ["Ops"]}}]}  # no handoff, no oncall_groups
    async with running_bot(tmp_path, config=config, state=state, VOBOT_WEBHOOK_TOKEN=TOKEN) as bot:
        watch = bot.vobot.core.oncall
        assert not watch.watching
        await asyncio.wait_for(watch.run(asyncio.Event()), 5)  # no loop: it returns at once
        async with httpx.AsyncClient(base_url=bot.url) as client:
            answer = await client.post("/victorops/webhook", params={"token": TOKEN, "kind": "oncall"}, json={})
        assert answer.status_code == 400  # not taken as an on-call event: nothing would read it
        assert oncall_reads(bot) == 0
        await bot.driver.command("U0ALICE", CHANNEL, "oncall Ops")  # still answered, from the directory
        assert "Ops" in texts(await bot.reply("U0ALICE"))
        assert oncall_reads(bot) == 1
