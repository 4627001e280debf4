"""The rules a feed's definition follows, the same for the YAML file and for `/vo subscribe`.

As in `bot.core.digest`: each rule takes a value and returns it, or raises ValueError with the problem (a
pydantic validator as it stands); `checked` applies them all to a feed and names the first field that breaks one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.digest import Rules, check_channel, first_broken
from bot.core.errors import ActionError
from bot.core.feed import Feed

_DURATION = re.compile(r"^([0-9]{1,6})([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}
OFF = "off"


@dataclass(eq=False)
class InvalidFeed(ActionError):
    """A feed breaking a rule: `field` as the YAML file names it (`remind_unacked`), `problem` what is wrong."""

    field: str
    problem: str


def parse_duration(value: object) -> int | None:
    """`<n>s`, `<n>m`, `<n>h` in seconds, or None for `off` (YAML reads a bare `off` as false)."""
    if value is False or (isinstance(value, str) and value.strip().lower() == OFF):
        return None
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{value!r} is not a duration: use <n>s, <n>m or <n>h (like 15m), or off")
    return int(match.group(1)) * _UNIT[match.group(2)]


def check_reminder(seconds: int | None) -> int | None:
    if seconds is not None and seconds < 1:
        raise ValueError("a reminder needs at least 1s, or off")
    return seconds


def check_max_cards(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{value!r} is not a number of cards: use a whole number of at least 1")
    return value


def check_names(values: tuple[str, ...]) -> tuple[str, ...]:
    if any(not v.strip() for v in values):
        raise ValueError("a filter value cannot be empty")
    return values


def checked(feed: Feed) -> Feed:
    """The feed when it follows every rule, else InvalidFeed for the first field (in the file's order)."""
    rules: Rules = [
        ("channel", check_channel, feed.channel),
        ("filter.routing_keys", check_names, feed.routes),
        ("filter.teams", check_names, feed.teams),
        ("filter.policies", check_names, feed.policies),
        ("remind_unacked", check_reminder, feed.remind_unacked),
        ("remind_acked", check_reminder, feed.remind_acked),
        ("max_cards_per_minute", check_max_cards, feed.max_cards_per_minute),
    ]
    if broken := first_broken(rules):
        raise InvalidFeed(*broken)
    return feed
