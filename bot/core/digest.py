"""A digest — which open incidents, posted to which channel, on which schedule — and the rules its definition
follows, the same for the YAML file and for `/vo digest add`.

Each rule takes a value and returns it, or raises ValueError with the problem (a pydantic validator as it
stands); `checked` applies them all to a digest and names the first field that breaks one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.errors import ActionError
from bot.core.schedule import next_slot

WhenEmpty = Literal["post", "skip"]
Source = Literal["config", "slack"]  # the YAML file, or `/vo digest add`

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
OPEN_PHASES = ("UNACKED", "ACKED")  # a digest lists open incidents
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # a cron parses, or not, whenever it is asked


@dataclass(frozen=True)
class Digest:
    name: str
    channel: str
    schedule: str  # five-field cron
    timezone: str  # IANA name
    when_empty: WhenEmpty
    routes: tuple[str, ...]
    teams: tuple[str, ...]
    phases: tuple[str, ...]  # UNACKED and/or ACKED; empty means both
    source: Source
    created_by: str | None  # the Slack user who added it, for source "slack"


@dataclass(eq=False)
class InvalidDigest(ActionError):
    """A digest breaking a rule: `field` as the YAML file names it (`filter.phases`), `problem` what is wrong."""

    field: str
    problem: str


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"String should match pattern '{NAME.pattern}'")  # pydantic's words, as the file had them
    return value


def check_channel(value: str) -> str:
    if not CHANNEL_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack channel ID (like C0123ABCD)")
    return value


def check_schedule(value: str) -> str:
    try:
        next_slot(value, "UTC", _ANY_TIME)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a five-field cron expression: {exc}") from None
    return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
    return value


def check_when_empty(value: str) -> str:
    if value not in get_args(WhenEmpty):
        raise ValueError("Input should be 'post' or 'skip'")  # pydantic's words, as the file had them
    return value


def check_phases(phases: Collection[str]) -> Collection[str]:
    if any(phase not in OPEN_PHASES for phase in phases):
        raise ValueError("a digest lists open incidents: use UNACKED and/or ACKED")
    return phases


Rules = list[tuple[str, Callable[[Any], object], object]]  # (field as the YAML file names it, rule, value)


def first_broken(rules: Rules) -> tuple[str, str] | None:
    """The first field whose rule refuses its value, and why; None when every rule holds."""
    for field, rule, value in rules:
        try:
            rule(value)
        except ValueError as exc:
            return field, str(exc)
    return None


def checked(digest: Digest) -> Digest:
    """The digest when it follows every rule, else InvalidDigest for the first field (in the file's order)."""
    rules: Rules = [
        ("name", check_name, digest.name),
        ("channel", check_channel, digest.channel),
        ("schedule", check_schedule, digest.schedule),
        ("timezone", check_timezone, digest.timezone),
        ("when_empty", check_when_empty, digest.when_empty),
        ("filter.phases", check_phases, digest.phases),
    ]
    if broken := first_broken(rules):
        raise InvalidDigest(*broken)
    return digest
