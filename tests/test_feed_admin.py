"""Feed administration as a core use case, through in-memory ports (no database, no sockets); the rules a feed
follows, one table for the YAML file and for `/vo subscribe`; and the sentences bot.slack writes for refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.config import AppConfig, FeedConfig
from bot.core.directory import Directory
from bot.core.errors import ActionError
from bot.core.feed import Feed
from bot.core.feed_admin import (
    Access,
    CannotPost,
    FeedAdmin,
    FeedInFile,
    NoFeed,
    UnknownPolicy,
    UnknownRoutes,
    UnknownTeam,
)
from bot.core.feed_rules import InvalidFeed, checked, parse_duration
from bot.core.identity import AdminOnly, NotAdmin
from bot.slack.errors import explain
from bot.victorops.models import Incident, Named, PolicyInfo, Team
from tests.memory import MemoryFeeds, MemoryVictorOps
from tests.test_core_rules import incident

ADMIN, ALICE = "U0ADMIN1", "U0ALICE"
T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
FILE_FEED = Feed("C0DB", routes=("db",), source="config")


class View:
    def __init__(self, *incidents: Incident) -> None:
        self.incidents = list(incidents)

    async def all(self) -> list[Incident]:
        return self.incidents


class Channels:
    def __init__(self, **access: Access) -> None:
        self.access_of = access
        self.asked: list[str] = []

    async def access(self, channel: str) -> Access:
        self.asked.append(channel)
        return self.access_of.get(channel, Access.OK)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, *feeds: Feed, **access: Access) -> None:
        self.clock = Clock()
        self.store = MemoryFeeds(*feeds, now=self.clock)
        self.vo = MemoryVictorOps()
        self.vo.teams = [Team(name="Database Ops", slug="team-db")]
        self.vo.policies = [PolicyInfo(policy=Named(name="DB Primary", slug="pol-db"))]
        self.channels = Channels(**access)
        view = View(incident("1", routing_key="db"), incident("2", routing_key="routingdefault"), incident("3"))
        self.admin = FeedAdmin(self.store, view, Directory(self.vo), self.channels, admins=(ADMIN,))


async def test_an_admin_subscribes_a_channel_and_everyone_lists_it() -> None:
    world = World(FILE_FEED)
    done = await world.admin.subscribe(ADMIN, "C0OPS", routes=["DB", "default"], teams=["Database Ops"])
    assert not done.replaced
    assert done.feed == Feed(
        "C0OPS", routes=("DB", "default"), teams=("Database Ops",), source="slack", created_by=ADMIN, created_at=T0
    )
    assert world.channels.asked == ["C0OPS"]
    assert [f.channel for f in await world.admin.subscriptions()] == ["C0DB", "C0OPS"]


async def test_subscribing_again_replaces_the_filters_and_keeps_the_backlog_line() -> None:
    world = World()
    await world.admin.subscribe(ADMIN, "C0OPS", routes=["db"])
    world.clock.now = T0 + timedelta(hours=1)
    again = await world.admin.subscribe(ADMIN, "C0OPS", policies=["pol-db"])
    assert again.replaced
    assert (again.feed.routes, again.feed.policies, again.feed.created_at) == ((), ("pol-db",), T0)


@pytest.mark.parametrize(
    ("change", "args"),
    [("subscribe", {"routes": ["db"]}), ("unsubscribe", {})],
)
async def test_only_admins_change_feeds(change: str, args: dict[str, Any]) -> None:
    world = World(Feed("C0OPS", source="slack", created_by=ADMIN))
    with pytest.raises(NotAdmin) as raised:
        await getattr(world.admin, change)(ALICE, "C0OPS", **args)
    assert (raised.value.wanted, raised.value.admins) == (AdminOnly.FEEDS, (ADMIN,))
    assert [f.channel for f in await world.store.all()] == ["C0OPS"] and world.channels.asked == []


async def test_a_feed_of_the_file_is_changed_in_the_file() -> None:
    world = World(FILE_FEED)
    with pytest.raises(FeedInFile) as subscribing:
        await world.admin.subscribe(ADMIN, "C0DB", routes=["db"])
    with pytest.raises(FeedInFile) as unsubscribing:
        await world.admin.unsubscribe(ADMIN, "C0DB")
    assert (subscribing.value.change, unsubscribing.value.change) == ("subscribe", "unsubscribe")
    assert await world.store.all() == [replace(FILE_FEED, created_at=T0)]


async def test_unsubscribe_removes_the_feed_from_the_chat_or_says_there_is_none() -> None:
    world = World()
    await world.admin.subscribe(ADMIN, "C0OPS")
    removed = await world.admin.unsubscribe(ADMIN, "C0OPS")
    assert removed.channel == "C0OPS" and await world.store.all() == []
    with pytest.raises(NoFeed):
        await world.admin.unsubscribe(ADMIN, "C0OPS")


@pytest.mark.parametrize(
    ("filters", "refused"),
    [
        ({"routes": ["db", "web"]}, UnknownRoutes(("web",), ("db", "routingdefault"))),
        ({"teams": ["team-web"]}, UnknownTeam("team-web")),
        ({"policies": ["pol-web"]}, UnknownPolicy("pol-web")),
        ({"teams": [" "]}, InvalidFeed("filter.teams", "a filter value cannot be empty")),
    ],
)
async def test_filters_that_would_never_match_are_refused(filters: dict[str, Any], refused: ActionError) -> None:
    world = World()
    with pytest.raises(type(refused)) as raised:
        await world.admin.subscribe(ADMIN, "C0OPS", **filters)
    assert repr(raised.value) == repr(refused)
    assert await world.store.all() == [] and world.channels.asked == []  # refused before asking Slack


async def test_teams_and_policies_are_looked_up_once_per_cache_window() -> None:
    world = World()
    for channel in ("C0A", "C0B", "C0C"):
        await world.admin.subscribe(ADMIN, channel, teams=["team-DB", "database ops"], policies=["pol-db"])
    assert world.vo.calls == [("teams",), ("policies",)]  # by slug or name, case aside; the lookup budget is shared


@pytest.mark.parametrize("why", [Access.NOT_IN_CHANNEL, Access.ARCHIVED, Access.NOT_FOUND])
async def test_a_channel_vobot_cannot_post_in_is_refused(why: Access) -> None:
    world = World(C0PRIV=why)
    with pytest.raises(CannotPost) as raised:
        await world.admin.subscribe(ADMIN, "C0PRIV")
    assert (raised.value.channel, raised.value.why) == ("C0PRIV", why)
    assert await world.store.all() == []


# ---- one table of rules for the YAML file and the chat -------------------------------------------------------

RULES = [
    ("channel", {"channel": "#ops"}, "'#ops' is not a Slack channel ID (like C0123ABCD)"),
    ("filter.routing_keys", {"routes": ("",)}, "a filter value cannot be empty"),
    ("filter.policies", {"policies": ("pol-a", " ")}, "a filter value cannot be empty"),
    (
        "max_cards_per_minute",
        {"max_cards_per_minute": 0},
        "0 is not a number of cards: use a whole number of at least 1",
    ),
]
YAML_KEYS = {"routes": "routing_keys", "teams": "teams", "policies": "policies"}


def as_yaml(changes: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"channel": "C0OPS"}
    for key, value in changes.items():
        if key in YAML_KEYS:
            data.setdefault("filter", {})[YAML_KEYS[key]] = list(value)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("field", "changes", "problem"), RULES)
def test_the_file_and_the_chat_refuse_alike(field: str, changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidFeed) as raised:
        checked(replace(Feed("C0OPS"), **changes))
    assert (raised.value.field, raised.value.problem) == (field, problem)
    with pytest.raises(ValidationError) as invalid:
        FeedConfig.model_validate(as_yaml(changes))
    [error] = invalid.value.errors()
    assert ".".join(map(str, error["loc"])) == field
    assert error["msg"].removeprefix("Value error, ") == problem


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("15m", 900), ("4h", 14400), ("90s", 90), (" 2h ", 7200), ("off", None), ("OFF", None), (False, None)],
)
def test_durations(written: object, seconds: int | None) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", ["15", 15, "0m", "1d", "15 m", "", True, None, "-5m"])
def test_what_is_not_a_duration(written: object) -> None:
    with pytest.raises(ValueError, match="is not a duration: use <n>s, <n>m or <n>h"):
        parse_duration(written)


def test_a_feed_of_the_file() -> None:
    config = AppConfig.model_validate(
        {
            "feeds": [
                {
                    "channel": "C0DB",
                    "filter": {"routing_keys": ["db"], "teams": ["team-db"], "policies": ["pol-db"]},
                    "remind_unacked": "5m",
                    "remind_acked": False,  # YAML reads a bare `off` as false
                    "handoff": True,
                    "max_cards_per_minute": 3,
                },
                {"channel": "C0OPS"},
            ]
        }
    )
    assert [c.feed() for c in config.feeds] == [
        Feed("C0DB", ("db",), ("team-db",), ("pol-db",), 300, None, True, 3, "config"),
        Feed("C0OPS", source="config"),  # every default: 15m, 4h, no handoff, 10 cards a minute
    ]


@pytest.mark.parametrize("written", [True, "10", 2.5, -1])
def test_cards_a_minute_is_a_whole_number(written: object) -> None:
    with pytest.raises(ValidationError, match="is not a number of cards: use a whole number of at least 1"):
        FeedConfig.model_validate({"channel": "C0OPS", "max_cards_per_minute": written})


def test_one_feed_per_channel_in_the_file() -> None:
    with pytest.raises(ValidationError, match="one feed per channel; repeated: C0OPS"):
        AppConfig.model_validate({"feeds": [{"channel": "C0OPS"}, {"channel": "C0DB"}, {"channel": "C0OPS"}]})


# ---- the sentences ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            NotAdmin(AdminOnly.FEEDS, (ADMIN,)),
            f"Only vobot admins can subscribe or unsubscribe a channel: <@{ADMIN}>.",
        ),
        (
            FeedInFile("C0DB", "subscribe"),
            "The live feed of <#C0DB> is defined in vobot's configuration file; change it there.",
        ),
        (
            FeedInFile("C0DB", "unsubscribe"),
            "The live feed of <#C0DB> is defined in vobot's configuration file; remove it there.",
        ),
        (NoFeed("C0OPS"), "<#C0OPS> has no live feed; `/oc subscriptions` lists every feed."),
        (
            UnknownRoutes(("w<b",), ("db", "ops")),
            "VictorOps lists no incident on route `w&lt;b`; the routes it lists now are `db`, `ops`. "
            "Check the spelling.",
        ),
        (
            UnknownRoutes(("web",), ()),
            "VictorOps lists no incident on route `web`; it lists no incident with a routing key now. "
            "Check the spelling.",
        ),
        (UnknownTeam("team-web"), "VictorOps has no team `team-web`; `/oc oncall` names the teams."),
        (UnknownPolicy("pol-x"), "VictorOps has no escalation policy `pol-x`; use its slug, like `policy:pol-AbCd`."),
        (
            CannotPost("C0PRIV", Access.NOT_IN_CHANNEL),
            "vobot is not in <#C0PRIV>, so it could not post cards there: "
            "invite me with `/invite @vobot`, then subscribe again.",
        ),
        (
            CannotPost("C0OLD", Access.ARCHIVED),
            "<#C0OLD> is archived, so vobot could not post cards there: unarchive it, then subscribe again.",
        ),
        (
            CannotPost("C0GONE", Access.NOT_FOUND),
            "Slack shows vobot no channel <#C0GONE>: if it is private, invite me with `/invite @vobot`, then "
            "subscribe again.",
        ),
        (
            InvalidFeed("channel", "'<!here>' is not a Slack channel ID"),
            "That feed cannot be added: channel: '&lt;!here&gt;' is not a Slack channel ID.",
        ),
    ],
)
def test_refusals_in_words(error: ActionError, sentence: str) -> None:
    assert explain(error, "/oc") == sentence


def test_the_readme_configuration_reference_is_a_valid_file() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    reference = readme.split("### YAML file (`VOBOT_CONFIG`)", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = AppConfig.model_validate(yaml.safe_load(reference))
    assert [c.feed() for c in config.feeds] == [
        Feed("C0DB", ("db",), ("team-AbCdEfGhIjKlMnOp",), ("pol-AbCdEfGhIjKlMnOp",), 900, 14400, False, 10, "config")
    ]
