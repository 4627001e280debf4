"""`subscribe`, `unsubscribe` and `subscriptions` in the `/vo` grammar: valid texts with the exact command,
invalid ones with the gist of the error (the properties over arbitrary text are tests/test_grammar.py's)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack.grammar import ParseError, Subscribe, Subscriptions, Unsubscribe, parse

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

VALID = [
    ("subscribe", Subscribe()),
    ("SUBSCRIBE", Subscribe()),
    ("subscribe route:db", Subscribe(routes=("db",))),
    ("subscribe route:db route:DB-prod route:db", Subscribe(routes=("db", "DB-prod"))),
    ("subscribe team:team-AbCd", Subscribe(teams=("team-AbCd",))),
    (
        "subscribe Team:team-a policy:pol-b route:web",
        Subscribe(routes=("web",), teams=("team-a",), policies=("pol-b",)),
    ),
    ("subscribe policy:pol-a policy:pol-b", Subscribe(policies=("pol-a", "pol-b"))),
    ("subscribe route:db public", Subscribe(routes=("db",), public=True)),
    ("  subscribe   route:db  ", Subscribe(routes=("db",))),
    ("unsubscribe", Unsubscribe()),
    ("unsubscribe public", Unsubscribe(public=True)),
    ("subscriptions", Subscriptions()),
    ("subscriptions public", Subscriptions(public=True)),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid(text: str, expected: object) -> None:
    assert parse(text, now=NOW) == expected


INVALID = [
    ("subscribe db", "`db` is not a `subscribe` filter; write filters as key:value, like `/vo subscribe route:db"),
    ("subscribe phase:acked", "`phase:` is not a `subscribe` filter; the filters are `route:`, `team:`, `policy:`."),
    ("subscribe route:", "`route:` needs a value right after the colon"),
    ("subscribe team:a/b", "`a/b` is not a valid `team:` slug"),
    ("subscribe policy:<!here>", "is not a valid `policy:` slug"),
    ("subscribe route:`x`", "is not a valid `route:` value"),
    ("unsubscribe route:db", "`unsubscribe` takes nothing after it; just type `/vo unsubscribe`."),
    ("subscriptions all", "`subscriptions` takes nothing after it"),
    ("subscrib", "`subscrib` is not a command: try `/vo subscribe`"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[t for t, _ in INVALID])
def test_invalid(text: str, fragment: str) -> None:
    result = parse(text, now=NOW)
    assert isinstance(result, ParseError) and fragment in result.message, result


def test_messages_name_the_configured_command() -> None:
    result = parse("subscribe nope", now=NOW, command="/oncall")
    assert isinstance(result, ParseError) and "`/oncall subscribe route:db team:team-AbCd`" in result.message
