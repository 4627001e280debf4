"""Digest administration as a core use case, through in-memory ports (no database, no sockets), and the
sentences bot.slack writes for its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import DigestConfig
from bot.core.digest import Digest, InvalidDigest
from bot.core.digest_admin import DefinedInFile, DigestAdmin, NoSuchDigest
from bot.core.digests import Digests, runnable
from bot.core.errors import ActionError
from bot.core.identity import AdminOnly, NotAdmin
from bot.core.posting import PostLimits, TooSoon
from bot.core.refusals import PostRefused
from bot.slack.errors import explain
from bot.victorops.limits import RateSpec
from bot.victorops.models import Incident, Phase
from tests.test_core_rules import incident

ADMIN, ALICE = "U0ADMIN1", "U0ALICE"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # a Thursday, 08:00 in Berlin
FILE = Digest("morning", "C0OPS", "0 9 * * 1-5", "Europe/Berlin", "post", ("db",), (), (), "config", None)


class Store:
    def __init__(self, *digests: Digest) -> None:
        self.digests = {d.name: d for d in digests}

    async def all(self) -> list[Digest]:
        return [self.digests[name] for name in sorted(self.digests)]

    async def get(self, name: str) -> Digest | None:
        return self.digests.get(name)

    async def in_channel(self, channel: str) -> list[Digest]:
        return [d for d in await self.all() if d.channel == channel]

    async def put(self, digest: Digest) -> None:
        self.digests[digest.name] = digest

    async def remove(self, name: str) -> bool:
        return self.digests.pop(name, None) is not None


class Claims:
    def __init__(self) -> None:
        self.slots: dict[tuple[str, str], str | None] = {}

    async def claim(self, digest: str, slot: str) -> bool:
        if (digest, slot) in self.slots:
            return False
        self.slots[digest, slot] = None
        return True

    async def posted(self, digest: str, slot: str, ts: str) -> None:
        self.slots[digest, slot] = ts

    async def release(self, digest: str, slot: str) -> None:
        self.slots.pop((digest, slot), None)

    async def last(self, digest: str) -> str | None:
        return max((s for d, s in self.slots if d == digest), default=None)

    async def recent(self, digest: str, limit: int) -> list[tuple[str, str | None]]:
        return sorted(((s, ts) for (d, s), ts in self.slots.items() if d == digest), reverse=True)[:limit]

    async def prune(self, keep: timedelta) -> None:
        pass


class Windows:
    """PostLimits' shared windows, in memory, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.taken: dict[str, list[float]] = {}

    async def take(self, key: str, spec: RateSpec) -> float:
        times = [t for t in self.taken.get(key, []) if t > self.now - spec.period]
        self.taken[key] = times
        if len(times) >= spec.count:
            return times[0] + spec.period - self.now
        times.append(self.now)
        return 0.0

    async def give_back(self, key: str) -> None:
        self.taken[key].pop()


class View:
    def __init__(self, *incidents: Incident) -> None:
        self.incidents = list(incidents)

    async def all(self) -> list[Incident]:
        return self.incidents

    async def open(self) -> list[Incident]:
        return [i for i in self.incidents if i.current_phase is not Phase.RESOLVED]


class Poster:
    def __init__(self) -> None:
        self.posts: list[tuple[str, str, list[str]]] = []  # (channel, digest name or "", incident numbers)
        self.fail: Exception | None = None

    async def digest(self, digest: Digest, incidents: list[Incident]) -> str | None:
        self._post(digest.channel, digest.name, incidents)
        return f"ts-{len(self.posts)}"

    async def listing(self, channel: str, incidents: list[Incident]) -> None:
        self._post(channel, "", incidents)

    def _post(self, channel: str, name: str, incidents: list[Incident]) -> None:
        if self.fail is not None:
            raise self.fail
        self.posts.append((channel, name, [i.incident_number for i in incidents]))


class World:
    def __init__(self, *digests: Digest, admins: tuple[str, ...] = (ADMIN,)) -> None:
        self.store = Store(*digests)
        self.windows = Windows()
        self.poster = Poster()
        view = View(incident("1", routing_key="db"), incident("2"), incident("3", Phase.RESOLVED))
        self.digests = Digests(self.store, Claims(), view, poster=self.poster, now=lambda: NOW)
        self.admin = DigestAdmin(
            self.store, self.digests, PostLimits(self.windows), view, self.poster, admins=admins, now=lambda: NOW
        )


def added(**changes: Any) -> dict[str, Any]:
    return {"name": "standup", "channel": "C0DEV", "schedule": "30 9 * * 1-5", "timezone": "UTC", **changes}


@pytest.mark.parametrize("admins", [(ADMIN,), (ADMIN, "U0ADMIN2"), ()])
async def test_only_admins_change_digests_and_the_refusal_names_them(admins: tuple[str, ...]) -> None:
    world = World(FILE, admins=admins)
    for change in (lambda: world.admin.add(ALICE, **added()), lambda: world.admin.remove(ALICE, "morning")):
        with pytest.raises(NotAdmin) as refused:
            await change()
        assert refused.value.admins == admins and refused.value.wanted is AdminOnly.DIGESTS
    assert await world.store.all() == [FILE]


@pytest.mark.parametrize("change", ["add", "remove"])
async def test_a_digest_of_the_file_is_changed_in_the_file(change: str) -> None:
    world = World(FILE)
    with pytest.raises(DefinedInFile) as refused:
        if change == "add":
            await world.admin.add(ADMIN, **added(name="morning"))
        else:
            await world.admin.remove(ADMIN, "morning")
    assert (refused.value.name, refused.value.change) == ("morning", change)
    assert await world.store.all() == [FILE]


async def test_removing_an_unknown_digest_names_it() -> None:
    with pytest.raises(NoSuchDigest) as refused:
        await World(FILE).admin.remove(ADMIN, "nope")
    assert refused.value.name == "nope"


async def test_add_then_replace_then_remove() -> None:
    world = World(FILE)
    first = await world.admin.add(ADMIN, **added(routes=("payments",), phases=("UNACKED",), when_empty="skip"))
    assert first.replaced is False and first.next_run == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert first.digest == Digest(
        "standup", "C0DEV", "30 9 * * 1-5", "UTC", "skip", ("payments",), (), ("UNACKED",), "slack", ADMIN
    )
    again = await world.admin.add(ADMIN, **added(schedule="0 10 * * *"))
    assert again.replaced is True and await world.store.get("standup") == again.digest
    assert [s.digest.name for s in await world.admin.scheduled()] == ["morning", "standup"]
    assert await world.admin.remove(ADMIN, "standup") == again.digest
    assert await world.store.all() == [FILE]


NEVER = "0 0 30 2 *"  # 30 February: cron refuses it; older versions took it and never ran it


async def test_a_schedule_that_never_fires_is_refused_and_one_stored_earlier_never_runs() -> None:
    world = World(FILE)
    with pytest.raises(InvalidDigest) as refused:
        await world.admin.add(ADMIN, **added(schedule=NEVER))
    assert refused.value.field == "schedule" and "day-of-month" in refused.value.problem
    world.store.digests["old"] = Digest("old", "C0DEV", NEVER, "UTC", "post", (), (), (), "slack", ADMIN)
    assert [(s.digest.name, s.next_run) for s in await world.admin.scheduled()][1] == ("old", None)


async def test_a_digest_stored_with_a_schedule_cron_refuses_keeps_the_others_running() -> None:
    world = World(FILE, Digest("old", "C0DEV", NEVER, "UTC", "post", (), (), (), "slack", ADMIN))
    await world.digests.start()  # reload and catch-up read every digest
    await world.digests.stop()
    assert runnable(await world.store.all(), NOW) == [FILE]


RULES: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "no spaces"}, "name", "String should match pattern '^[A-Za-z0-9_.-]{1,40}$'"),
    ({"channel": "general"}, "channel", "'general' is not a Slack channel ID (like C0123ABCD)"),
    ({"schedule": "61 9 * * *"}, "schedule", "'61 9 * * *' is not a five-field cron expression: "),
    ({"schedule": "0 9 * *"}, "schedule", "'0 9 * *' is not a five-field cron expression: Wrong number of fields"),
    ({"timezone": "Mars/Base"}, "timezone", "unknown time zone 'Mars/Base' (use an IANA name like Europe/Berlin)"),
    ({"when_empty": "never"}, "when_empty", "Input should be 'post' or 'skip'"),
    ({"phases": ("ACKED", "RESOLVED")}, "filter.phases", "a digest lists open incidents: use UNACKED and/or ACKED"),
    ({"schedule": "61 9 * * *", "timezone": "Mars/Base"}, "schedule", "'61 9 * * *' is not"),  # the file's order
]


@pytest.mark.parametrize(("changes", "field", "problem"), RULES)
async def test_an_invalid_digest_is_refused_naming_the_field_and_problem(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    world = World(FILE)
    with pytest.raises(InvalidDigest) as refused:
        await world.admin.add(ADMIN, **added(**changes))
    assert refused.value.field == field and refused.value.problem.startswith(problem)
    assert await world.store.all() == [FILE]


@pytest.mark.parametrize(("changes", "field", "problem"), RULES)
def test_the_yaml_file_follows_the_same_rules(changes: dict[str, Any], field: str, problem: str) -> None:
    given = added(**changes)
    phases = given.pop("phases", [])
    with pytest.raises(ValidationError) as refused:
        DigestConfig.model_validate({**given, "filter": {"phases": list(phases)}})
    first = refused.value.errors()[0]
    assert ".".join(str(p) for p in first["loc"]) == field
    assert str(first["msg"]).removeprefix("Value error, ").startswith(problem)


async def test_post_now_posts_this_channels_digests_else_every_open_incident_once_a_minute() -> None:
    world = World(FILE)
    assert await world.admin.post_now("C0OPS") == [FILE]
    assert await world.admin.post_now("C0DEV") == []
    assert world.poster.posts == [("C0OPS", "morning", ["1"]), ("C0DEV", "", ["1", "2"])]
    with pytest.raises(TooSoon) as limited:
        await world.admin.post_now("C0OPS")
    assert limited.value.what == "digest" and 0 < limited.value.wait <= 60
    world.windows.now += 60
    assert await world.admin.post_now("C0OPS") == [FILE] and len(world.poster.posts) == 3


@pytest.mark.parametrize(
    ("channel", "failure"),
    [
        ("C0OPS", PostRefused("C0OPS", "vobot is not in this channel")),
        ("C0DEV", PostRefused("C0DEV", "vobot is not in this channel")),
        ("C0OPS", ConnectionError("Slack is down")),
    ],
)
async def test_a_post_now_that_fails_gives_its_turn_back(channel: str, failure: Exception) -> None:
    world = World(FILE)
    world.poster.fail = failure
    with pytest.raises(type(failure)):
        await world.admin.post_now(channel)
    world.poster.fail = None
    await world.admin.post_now(channel)  # after `/invite @vobot`, at once: no "less than a minute ago"
    assert [post[0] for post in world.poster.posts] == [channel]
    assert world.digests.refusals.held(channel) is None  # a person's post that went through ends a hold


@pytest.mark.parametrize(
    ("refused", "sentence"),
    [
        (
            NotAdmin(AdminOnly.DIGESTS, ("U0A", "U0B")),
            "Only vobot admins can add or remove digests: <@U0A>, <@U0B>.",
        ),
        (
            NotAdmin(AdminOnly.DIGESTS, ()),
            "Only vobot admins can add or remove digests: nobody yet (set `admins:` or VOBOT_ADMINS).",
        ),
        (DefinedInFile("m", "add"), "Digest “m” is defined in vobot's configuration file; change it there."),
        (DefinedInFile("m", "remove"), "Digest “m” is defined in vobot's configuration file; remove it there."),
        (NoSuchDigest("nope"), "There is no digest “nope”; `/oncall digest list` shows them."),
        (TooSoon("digest", 1, 42.0), "A digest was posted here with `/oncall digest now` less than a minute ago"),
        (InvalidDigest("timezone", "unknown <zone>"), "That digest cannot be added: timezone: unknown &lt;zone&gt;."),
    ],
)
def test_slack_says_why_in_one_sentence(refused: ActionError, sentence: str) -> None:
    assert explain(refused, "/oncall").startswith(sentence)
