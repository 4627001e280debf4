"""The `/vo` grammar: a table of valid texts with the exact command, a table of invalid ones with the gist of
the error, a corpus of malformed inputs other tests reuse (`MALFORMED`), and properties over arbitrary text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack import grammar
from bot.slack.grammar import (
    Ack,
    Create,
    DigestAdd,
    DigestList,
    DigestNow,
    DigestRemove,
    Help,
    History,
    Link,
    ListIncidents,
    OnCall,
    ParseError,
    Reroute,
    Resolve,
    Status,
    Target,
    Unlink,
    WhoAmI,
    parse,
)
from bot.slack.help import usage
from bot.victorops.models import Phase

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WEEK_AGO = NOW - timedelta(days=7)
ALL = (Phase.UNACKED, Phase.ACKED, Phase.RESOLVED)
U1 = Target("slack", "U123")
BOB = Target("user", "bob")
POL = Target("policy", "pol-x")


def p(text: str) -> grammar.Command | ParseError:
    return parse(text, now=NOW)


VALID: list[tuple[str, object]] = [
    # help
    ("", Help()),
    ("   ", Help()),
    ("help", Help()),
    ("HELP", Help()),
    ("help ack", Help(topic="ack")),
    ("help Digest", Help(topic="digest")),
    ("help public", Help(public=True)),
    ("public", Help(public=True)),
    # public is uniform
    ("list PUBLIC", ListIncidents(public=True)),
    ("status public", Status(public=True)),
    ("ack 42 public", Ack(numbers=("42",), public=True)),
    ("ack 42: done public", Ack(numbers=("42",), message="done", public=True)),
    ("whoami Public", WhoAmI(public=True)),
    # list
    ("list", ListIncidents()),
    ("list all", ListIncidents(scope="open")),
    ("list open", ListIncidents(scope="open")),
    ("list mine", ListIncidents(scope="mine")),
    ("list triggered", ListIncidents(scope="triggered")),
    ("list unacked", ListIncidents(scope="triggered")),
    ("list acked", ListIncidents(scope="acked")),
    ("list Acknowledged", ListIncidents(scope="acked")),
    ("LIST MINE", ListIncidents(scope="mine")),
    ("list route:db", ListIncidents(routes=("db",))),
    ("list route:db route:web route:db", ListIncidents(routes=("db", "web"))),
    ("list team:team-Ab12 triggered", ListIncidents(scope="triggered", teams=("team-Ab12",))),
    ("list acked Route:db TEAM:ops", ListIncidents(scope="acked", routes=("db",), teams=("ops",))),
    ("list mine mine", ListIncidents(scope="mine")),
    # ack / resolve
    ("ack 42", Ack(numbers=("42",))),
    ("ack #42", Ack(numbers=("42",))),
    ("ACK 42 43", Ack(numbers=("42", "43"))),
    ("ack 42,43", Ack(numbers=("42", "43"))),
    ("ack #42,#43 :x", Ack(numbers=("42", "43"), message="x")),
    ("ack 42, 43 ,44", Ack(numbers=("42", "43", "44"))),
    ("ack 007", Ack(numbers=("7",))),
    ("ack 42 042 #42 43", Ack(numbers=("42", "43"))),
    ("ack 1:", Ack(numbers=("1",))),
    ("ack 1 :   ", Ack(numbers=("1",))),
    ("ack 42: looking into it", Ack(numbers=("42",), message="looking into it")),
    ("ack 42 : looking", Ack(numbers=("42",), message="looking")),
    ("ack 42: see https://x.example/a:b", Ack(numbers=("42",), message="see https://x.example/a:b")),
    ("ack mine", Ack(mine=True)),
    ("ack MINE: on it", Ack(mine=True, message="on it")),
    ("ack mine:", Ack(mine=True)),
    ("ack " + " ".join(str(n) for n in range(1, 51)), Ack(numbers=tuple(str(n) for n in range(1, 51)))),
    ("ack " + " ".join(["5"] * 80), Ack(numbers=("5",))),
    ("resolve 42", Resolve(numbers=("42",))),
    ("resolve #42 #43: fixed by restart", Resolve(numbers=("42", "43"), message="fixed by restart")),
    ("resolve mine", Resolve(mine=True)),
    ("Resolve mine : all good", Resolve(mine=True, message="all good")),
    # reroute
    ("reroute 42", Reroute(numbers=("42",))),
    ("reroute 42 to", Reroute(numbers=("42",))),
    ("reroute 42 to <@U123>", Reroute(numbers=("42",), targets=(U1,))),
    ("reroute 42 to <@U123|bob>", Reroute(numbers=("42",), targets=(U1,))),
    ("reroute 42 to <@U123|Bob Smith>", Reroute(numbers=("42",), targets=(U1,))),
    ("reroute #42,#43 TO user:bob policy:pol-x", Reroute(numbers=("42", "43"), targets=(BOB, POL))),
    (
        "reroute 42 to <@W9ABC> user:bob, policy:pol-x",
        Reroute(numbers=("42",), targets=(Target("slack", "W9ABC"), BOB, POL)),
    ),
    ("reroute 42 to user:bob user:bob", Reroute(numbers=("42",), targets=(BOB,))),
    ("reroute 42 to USER:Bob.Smith", Reroute(numbers=("42",), targets=(Target("user", "Bob.Smith"),))),
    # create
    ("create", Create()),
    ("create DB down", Create(summary="DB down")),
    ("create DB down to policy:pol-x : df says 97%", Create(summary="DB down", targets=(POL,), details="df says 97%")),
    ("create Error: disk full", Create(summary="Error", details="disk full")),
    ("create Error : disk full", Create(summary="Error", details="disk full")),
    ("create Error :disk full", Create(summary="Error", details="disk full")),
    ("create Error:disk full", Create(summary="Error:disk full")),
    ("create Failover to DR site to <@U123>", Create(summary="Failover to DR site", targets=(U1,))),
    ("create Failover to DR site", Create(summary="Failover to DR site")),
    ("create Send mail to user:bob fails", Create(summary="Send mail to user:bob fails")),
    ("create Login broken for user:bob", Create(summary="Login broken for user:bob")),
    ("create see https://x.example/a to user:bob", Create(summary="see https://x.example/a", targets=(BOB,))),
    ("create API down TO user:bob <@U123|b>: 500s", Create(summary="API down", targets=(BOB, U1), details="500s")),
    ("create API down to policy:pol-x: 500s", Create(summary="API down", targets=(POL,), details="500s")),
    ("create DB   down", Create(summary="DB down")),
    ("create DB down:", Create(summary="DB down")),
    ("create DB down: line one\nline two", Create(summary="DB down", details="line one\nline two")),
    ("create to", Create(summary="to")),
    ("create " + "x" * 255, Create(summary="x" * 255)),
    ("create DB down: details public", Create(summary="DB down", details="details", public=True)),
    # history
    ("history", History(since=WEEK_AGO)),
    ("history phase:resolved", History(since=WEEK_AGO, phases=(Phase.RESOLVED,))),
    ("history phase:RESOLVED,triggered", History(since=WEEK_AGO, phases=(Phase.UNACKED, Phase.RESOLVED))),
    ("history phase:ACKED phase:unacked", History(since=WEEK_AGO, phases=(Phase.UNACKED, Phase.ACKED))),
    ("history phase:acknowledged", History(since=WEEK_AGO, phases=(Phase.ACKED,))),
    ("history phase:all", History(since=WEEK_AGO)),
    ("history service:db service:web,db", History(since=WEEK_AGO, services=("db", "web"))),
    ("history host:db01 host:db02", History(since=WEEK_AGO, hosts=("db01", "db02"))),
    ("history route:db", History(since=WEEK_AGO, route="db")),
    ("history since:30m", History(since=NOW - timedelta(minutes=30))),
    ("history since:12h", History(since=NOW - timedelta(hours=12))),
    ("history SINCE:7D", History(since=WEEK_AGO)),
    ("history since:2w", History(since=NOW - timedelta(weeks=2))),
    ("history since:2024-05-01", History(since=datetime(2024, 5, 1, tzinfo=UTC))),
    ("history since:2024-05-01T10:00:00Z", History(since=datetime(2024, 5, 1, 10, tzinfo=UTC))),
    ("history since:2024-05-01t10:00z", History(since=datetime(2024, 5, 1, 10, tzinfo=UTC))),
    ("history since:2024-05-01T10:00+02:00", History(since=datetime(2024, 5, 1, 8, tzinfo=UTC))),
    ("history since:2024-05-01T10:00:30.5", History(since=datetime(2024, 5, 1, 10, 0, 30, 500000, tzinfo=UTC))),
    (
        "history since:2024-05-01 before:2024-05-10",
        History(since=datetime(2024, 5, 1, tzinfo=UTC), before=datetime(2024, 5, 10, tzinfo=UTC)),
    ),
    (
        "history before:2024-05-10",
        History(since=datetime(2024, 5, 3, tzinfo=UTC), before=datetime(2024, 5, 10, tzinfo=UTC)),
    ),
    ("history before:2024-07-01", History(since=WEEK_AGO, before=datetime(2024, 7, 1, tzinfo=UTC))),
    ("history since:2d before:1d", History(since=NOW - timedelta(days=2), before=NOW - timedelta(days=1))),
    ("history number:4,5,20:50", History(since=WEEK_AGO, numbers="4,5,20:50")),
    ("history number:004,#5,7:7", History(since=WEEK_AGO, numbers="4,5,7:7")),
    ("history page:3", History(since=WEEK_AGO, page=3)),
    (
        "history phase:triggered service:db host:h1 route:r since:1d number:9 page:2 public",
        History(
            since=NOW - timedelta(days=1),
            phases=(Phase.UNACKED,),
            services=("db",),
            hosts=("h1",),
            route="r",
            numbers="9",
            page=2,
            public=True,
        ),
    ),
    # oncall
    ("oncall", OnCall()),
    ("oncall ops", OnCall(team="ops")),
    ("oncall Database  Ops", OnCall(team="Database Ops")),
    ("oncall team:team-Ab12", OnCall(team="team-Ab12")),
    ("oncall ops public", OnCall(team="ops", public=True)),
    # link / unlink / whoami
    ("link jdoe", Link(vo_username="jdoe")),
    ("link user:jdoe", Link(vo_username="jdoe")),
    ("link <@U123> jdoe", Link(vo_username="jdoe", slack_user="U123")),
    ("link <@U123|dana> d.smith", Link(vo_username="d.smith", slack_user="U123")),
    ("unlink", Unlink()),
    ("unlink <@U123>", Unlink(slack_user="U123")),
    ("unlink <@W42|x>", Unlink(slack_user="W42")),
    ("whoami", WhoAmI()),
    ("status", Status()),
    # digest
    ("digest now", DigestNow()),
    ("digest NOW public", DigestNow(public=True)),
    ("digest list", DigestList()),
    ("digest add morning 0 9 * * 1-5", DigestAdd(name="morning", schedule="0 9 * * 1-5")),
    ('digest add morning "0 9 * * 1-5"', DigestAdd(name="morning", schedule="0 9 * * 1-5")),
    ("digest add morning “0 9 * * MON-FRI”", DigestAdd(name="morning", schedule="0 9 * * MON-FRI")),
    ('digest add m.1_x "*/15  *  * * *"tz:UTC', DigestAdd(name="m.1_x", schedule="*/15 * * * *", timezone="UTC")),
    (
        'digest add morning "0 9 * * 1-5" tz:Europe/Berlin route:db team:team-Ab route:web phase:triggered,acked '
        "empty:SKIP",
        DigestAdd(
            name="morning",
            schedule="0 9 * * 1-5",
            timezone="Europe/Berlin",
            routes=("db", "web"),
            teams=("team-Ab",),
            phases=(Phase.UNACKED, Phase.ACKED),
            when_empty="skip",
        ),
    ),
    ("digest add n 0 0 ? * * empty:post", DigestAdd(name="n", schedule="0 0 ? * *", when_empty="post")),
    ("digest remove morning", DigestRemove(name="morning")),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[repr(t[:50]) for t, _ in VALID])
def test_valid(text: str, expected: object) -> None:
    assert p(text) == expected


INVALID: list[tuple[str, str]] = [
    ("frobnicate", "`frobnicate` is not a command; `/vo help` lists them all"),
    ("akc 42", "try `/vo ack`"),
    ("histroy", "try `/vo history`"),
    (": ack 42", "is not a command"),
    ("help frobnicate", "is not a command"),
    ("list publicity", "`publicity` is not a `list` filter"),
    ("list resolved", "`/vo history phase:resolved`"),
    ("list mine triggered", "takes one of mine, triggered, acked or all"),
    ("list foo:bar", "`foo:` is not a `list` filter; the filters are `route:`, `team:`"),
    ("list route:", "needs a value right after the colon"),
    ("list team:<@U1>", "not a valid `team:` slug"),
    ("ack", "`ack` needs incident numbers, like `/vo ack 42` or `/vo ack mine`."),
    ("ack: hi", "`ack` needs incident numbers"),
    ("ack abc", "`abc` is not an incident number"),
    ("ack ٤٢", "with the digits 0-9"),
    ("ack 4\uff12", "digits 0-9"),
    ("ack 0", "start at 1"),
    ("ack 000", "start at 1"),
    ("ack #", "`#` is not an incident number"),
    ("ack ##4", "is not an incident number"),
    ("ack 4#", "is not an incident number"),
    ("ack -4", "is not an incident number"),
    ("ack 1234567890123", "too long"),
    ("ack 1 mine", "cannot be combined"),
    ("ack mine 1", "cannot be combined"),
    ("resolve", "`resolve` needs incident numbers, like `/vo resolve 42` or `/vo resolve mine`."),
    ("ack " + " ".join(str(n) for n in range(1, 52)), "more than 50"),
    ("reroute", "`reroute` needs incident numbers"),
    ("reroute to policy:x", "needs incident numbers before `to`"),
    ("reroute 5 to @bob", "`@bob` did not arrive as a Slack mention; pick the person from Slack's autocomplete"),
    ("reroute 5 to bob", "`bob` is not a target"),
    ("reroute 5 to user:", "is not a VictorOps user"),
    ("reroute 5 to policy:", "is not a policy"),
    ("reroute 5 to <@u123>", "is not a Slack user mention"),
    ("reroute 5 to <!subteam^S1|@oncall>", "user group"),
    ("reroute 5 <@U123>", "Put `to` between"),
    ("reroute 5 to <@U1> to <@U2>", "`to` is not a target"),
    ("create : details only", "needs a summary first"),
    ("create to <@U123>", "needs a summary first"),
    ("create " + "x" * 256, "The summary is 256 characters; keep it to 255"),
    ("create DB down to @bob", "did not arrive as a Slack mention"),
    ("create DB down to user:b~b", "is not a VictorOps user"),
    ("history x", "`x` is not a `history` filter; write filters as key:value"),
    ("history foo:bar", "`foo:` is not a `history` filter; the filters are `phase:`, `service:`"),
    ("history since:", "needs a value"),
    ("history since:tomorrow", "`tomorrow` is not a time"),
    ("history since:7y", "is not a time"),
    ("history since:0d", "no time ago"),
    ("history since:999999w", "too far back"),
    ("history since:2024-13-01", "not a real date"),
    ("history since:2024-05-01T25:00", "not a real date"),
    ("history since:٢٠٢٤-05-01", "is not a time"),
    ("history since:2099-01-01", "`since:` is in the future"),
    ("history since:2024-05-10 before:2024-05-01", "must be earlier than `before:`"),
    ("history since:2024-05-10 before:2024-05-10", "must be earlier than `before:`"),
    ("history since:1d since:2d", "`since:` can be given only once"),
    ("history page:1 page:2", "`page:` can be given only once"),
    ("history route:a route:b", "`route:` can be given only once"),
    ("history page:0", "pages are numbered from 1"),
    ("history page:x", "is not a page"),
    ("history page:-1", "is not a page"),
    ("history page:1234567", "is not a page"),
    ("history number:5:3", "`5:3` is backwards"),
    ("history number:a", "is not an incident number or range"),
    ("history number:0", "start at 1"),
    ("history number:1:2:3", "is not an incident number or range"),
    ("history number:,", "needs incident numbers"),
    ("history phase:open", "`open` is not a phase"),
    ("history phase:,", "needs a phase"),
    ("history service:,", "`service:` needs a name"),
    ("history service:<x>", "not a valid `service:` value"),
    ("oncall " + "x" * 101, "team name is 101 characters"),
    ("link", "`link` needs a VictorOps username"),
    ("link a b c", "optionally after a mention"),
    ("link <@U123>", "Put the VictorOps username last"),
    ("link jdoe <@U123>", "Put the VictorOps username last"),
    ("link @bob jdoe", "pick the person from Slack's autocomplete so that it arrives as a mention"),
    ("link @jdoe", "`@jdoe` is not a VictorOps username"),
    ("link bob jdoe", "`bob` is not a Slack mention"),
    ("link <@U123> <b>", "is not a VictorOps username"),
    ("unlink @bob", "so that it arrives as a mention"),
    ("unlink bob", "`bob` is not a Slack mention"),
    ("unlink <@U1> <@U2>", "at most one mention"),
    ("whoami now", "`whoami` takes nothing after it; just type `/vo whoami`."),
    ("status please", "`status` takes nothing after it"),
    ("digest", "`digest` needs now, list, add or remove"),
    ("digest ad", "try `/vo digest add`"),
    ("digest frobnicate", "is not a `digest` command"),
    ("digest now please", "`digest now` takes nothing after it"),
    ("digest list x", "`digest list` takes nothing after it"),
    ("digest add", "needs a name and a cron schedule"),
    ("digest add x 0 9 *", "exactly 5 cron fields (minute hour day month weekday), got 3"),
    ("digest add x 0 9 * * * *", "got 6"),
    ('digest add x "0 9 * *"', "got 4"),
    ('digest add x "0 9 * * *', "closing quote is missing"),
    ("digest add x 0 9 * * @", "`@` is not a cron field"),
    ("digest add bad/name 0 9 * * *", "is not a digest name"),
    ("digest add " + "n" * 41 + " 0 9 * * *", "is not a digest name"),
    ("digest add x 0 9 * * * tz:", "needs a value"),
    ("digest add x 0 9 * * * tz:Europe/Berlin tz:UTC", "`tz:` can be given only once"),
    ("digest add x 0 9 * * * tz:9", "is not a time zone"),
    ("digest add x 0 9 * * * empty:maybe", "use `empty:post` or `empty:skip`"),
    ("digest add x 0 9 * * * owner:me", "`owner:` is not a digest filter; the filters are `tz:`"),
    ("digest add x 0 9 * * * tz:UTC daily", "`daily` is not a digest filter"),
    ("digest remove", "needs the digest's name"),
    ("digest remove a b", "needs the digest's name"),
    ("digest remove a/b", "is not a digest name"),
    ("ack 1\x00", "control character (U+0000)"),
    ("x" * 5000, "keep it under 4000"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[repr(t[:50]) for t, _ in INVALID])
def test_invalid(text: str, fragment: str) -> None:
    result = p(text)
    assert isinstance(result, ParseError), result
    assert fragment in result.message
    assert_good_message(result.message)


def assert_good_message(message: str) -> None:
    assert message
    assert len(message) <= 300
    assert len(message.splitlines()) == 1
    assert "Traceback" not in message


# ---- the corpus other tests reuse ------------------------------------------------------------------------

MALFORMED: list[str] = [
    "ack",
    "ack abc",
    "ack ٤٢",
    "ack 4\uff12",
    "ack 0",
    "ack #",
    "ack 1 mine",
    "ack mine 2: x",
    "ack -1",
    "ack 1.5",
    "ack " + " ".join(str(n) for n in range(1, 60)),
    "resolve",
    "resolve x,y",
    "reroute",
    "reroute 5 to @bob",
    "reroute to policy:x",
    "reroute 5 to bob",
    "reroute 5 <@U123>",
    "create : only details",
    "create " + "long summary " * 30,
    "create Outage to @bob",
    "history since:tomorrow",
    "history page:0",
    "history number:5:3",
    "history since:2099-01-01",
    "history since:1d since:2d",
    "history colour:red",
    "history resolved",
    "list resolved",
    "list everything",
    "list route:",
    "digest add x 0 9 *",
    "digest add",
    'digest add x "0 9 * * *',
    "digest remove",
    "digest",
    "digest explode",
    "link",
    "link a b c",
    "unlink bob",
    "whoami please",
    "status now",
    "frobnicate",
    "help frobnicate",
    ":",
    "x" * 5000,
    "ack " + "9" * 4000,
    "ack 1\x00",
    "list\x07",
    "history since:\x1b[31m",
    "create DB\x7f down",
    "oncall " + "team " * 30,
]


@pytest.mark.parametrize("text", MALFORMED, ids=[repr(t[:40]) for t in MALFORMED])
def test_malformed(text: str) -> None:
    result = p(text)
    assert isinstance(result, ParseError), result
    assert_good_message(result.message)
    assert result.message.endswith("."), "one whole sentence, not a clamped one"


def test_malformed_corpus_is_big_enough() -> None:
    assert len(MALFORMED) >= 40


# ---- details ---------------------------------------------------------------------------------------------


def test_command_name_appears_in_messages_and_usage() -> None:
    result = parse("ack", now=NOW, command="/oncall")
    assert isinstance(result, ParseError)
    assert "`/oncall ack 42`" in result.message
    assert "/vo" not in result.message
    assert "`/oncall help <command>`" in usage("/oncall")


def test_user_text_in_messages_is_truncated() -> None:
    result = p("reroute 5 to " + "b" * 3000)
    assert isinstance(result, ParseError)
    assert "b" * 40 not in result.message
    assert "…" in result.message


def test_naive_now_is_utc_and_results_are_utc() -> None:
    result = parse("history since:1d", now=NOW.replace(tzinfo=None))
    assert result == History(since=NOW - timedelta(days=1))
    assert isinstance(result, History)
    assert result.since.tzinfo is UTC


def test_results_are_frozen_and_hashable() -> None:
    command = p("reroute 1 to <@U123>")
    assert isinstance(command, Reroute)
    with pytest.raises(AttributeError):
        command.numbers = ()  # type: ignore[misc]
    assert hash(command) == hash(p("reroute 1 to <@U123>"))


def test_usage_lists_every_command() -> None:
    text = usage()
    for word in grammar.COMMAND_WORDS:
        assert f"`/vo {word}" in text, word
    assert "public" in text


@pytest.mark.parametrize("topic", grammar.COMMAND_WORDS)
def test_usage_has_a_topic_for_every_command(topic: str) -> None:
    text = usage("/vo", topic)
    assert f"/vo {topic}" in text
    assert "{" not in text
    assert usage("/vo", topic.upper()) == text


def test_usage_unknown_topic_is_general() -> None:
    assert usage("/vo", "frobnicate") == usage("/vo") == usage("/vo", None)


def test_usage_examples_parse() -> None:
    """Every backticked example in the help text that starts with the command must parse."""
    import re

    for topic in (None, *grammar.COMMAND_WORDS):
        for example in re.findall(r"`/vo ([^`]*)`", usage("/vo", topic)):
            if "<" in example or "[" in example or "|" in example or "…" in example:
                continue  # a form, not an example
            result = p(example.replace("@dana", "<@U123>").replace("@person", "<@U123>"))
            assert not isinstance(result, ParseError), (example, result)


# ---- properties ------------------------------------------------------------------------------------------

WORDS = [
    *grammar.COMMAND_WORDS,
    "mine",
    "all",
    "open",
    "to",
    "TO",
    "public",
    "PUBLIC",
    "now",
    "add",
    "remove",
    "list",
    "42",
    "#42",
    "0",
    "007",
    "1,2",
    "#1,#2",
    ",",
    "#",
    "٤٢",
    "4\uff12",
    "9" * 30,
    ":",
    "::",
    "x:",
    ":x",
    "a:b",
    "https://x.example:8080/a",
    "<@U123>",
    "<@U123|bob>",
    "<@W1|Bo b>",
    "<@u1>",
    "<@",
    "<@U1",
    ">",
    "@bob",
    "<!subteam^S1|@g>",
    "user:bob",
    "user:",
    "policy:pol-x",
    "policy:",
    "route:db",
    "team:t",
    "phase:resolved",
    "phase:ACKED,triggered",
    "phase:x",
    "service:a,b",
    "host:h",
    "since:7d",
    "since:0m",
    "since:2024-05-01",
    "since:2024-05-01T10:00Z",
    "since:2099-01-01",
    "since:999999w",
    "before:1d",
    "before:2024-13-45",
    "number:4,5,20:50",
    "number:5:3",
    "page:2",
    "page:0",
    "page:",
    "tz:UTC",
    "empty:skip",
    "empty:x",
    '"',
    "“",
    "”",
    '"0 9 * * *"',
    "*",
    "*/5",
    "1-5",
    "?",
    "\n",
    "\t",
    "\x00",
    "é",
    "`",
    "```",
    "",
    " ",
]


def grammar_texts() -> st.SearchStrategy[str]:
    words = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
    glued = st.lists(st.sampled_from(WORDS), max_size=8).map("".join)
    chars = st.text(alphabet=st.sampled_from(list('ack 0123456789#:,@<>|UW"“” \n\t-*/to')), max_size=40)
    return st.one_of(words, glued, chars, st.text(max_size=200))


def check(result: object) -> None:
    if isinstance(result, ParseError):
        assert_good_message(result.message)
    else:
        assert type(result).__name__ in {c.__name__ for c in COMMAND_TYPES}


COMMAND_TYPES = (
    Help, ListIncidents, Ack, Resolve, Reroute, Create, History, OnCall,
    Link, Unlink, WhoAmI, DigestNow, DigestList, DigestAdd, DigestRemove, Status,
    grammar.Subscribe, grammar.Unsubscribe, grammar.Subscriptions,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    # _parse is parse without its safety net, so a bug shows here instead of hiding behind a generic message.
    try:
        grammar._parse(text, grammar._Ctx("/vo", NOW))
    except grammar._Invalid as exc:
        assert_good_message(grammar._one_line(exc.message))
    check(p(text))


@settings(max_examples=600, deadline=None)
@given(grammar_texts())
def test_never_raises_on_grammar_like_text(text: str) -> None:
    try:
        grammar._parse(text, grammar._Ctx("/vo", NOW))
    except grammar._Invalid as exc:
        assert exc.message == " ".join(exc.message.split()), "messages are built on one line"
        assert len(exc.message) <= 300
    check(p(text))


@settings(max_examples=300, deadline=None)
@given(grammar_texts())
def test_public_suffix_only_sets_public(text: str) -> None:
    words = text.split()
    if words and words[-1].lower() == "public":
        return
    plain, loud = p(text), p(text + " public")
    if isinstance(plain, ParseError):
        assert isinstance(loud, ParseError)
    else:
        assert loud == replace(plain, public=True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 10**12 - 1), min_size=1, max_size=50),
    st.lists(st.sampled_from([" ", ",", ", ", " ,", "  "]), min_size=50, max_size=50),
    st.booleans(),
    st.sampled_from(["", ":", ": msg", " : on it"]),
)
def test_ack_numbers_round_trip(numbers: list[int], seps: list[str], hashes: bool, tail: str) -> None:
    body = "".join(("#" if hashes else "") + str(n) + sep for n, sep in zip(numbers, seps, strict=False))
    result = p(f"ack {body}{tail}")
    expected = tuple(dict.fromkeys(str(n) for n in numbers))
    message = tail.partition(":")[2].strip() or None
    assert result == Ack(numbers=expected, message=message)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6 - 1), st.sampled_from("mhdw"))
def test_relative_since(amount: int, unit: str) -> None:
    result = p(f"history since:{amount}{unit}")
    if isinstance(result, ParseError):
        assert "too far back" in result.message
    else:
        assert isinstance(result, History)
        assert result.since < NOW
