"""Reroute and create targets as typed by a user, checked against VictorOps before any incident call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.directory import Directory
from bot.core.errors import ActionError
from bot.core.identity import Identity
from bot.victorops.models import Target

TargetKind = Literal["slack", "user", "policy"]
# The shapes VictorOps gives usernames and policy slugs; anything else is refused before VictorOps is asked.
VO_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
SLUG = re.compile(r"[A-Za-z0-9_.-]{1,80}")


@dataclass(eq=False)
class NoSuchPolicy(ActionError):
    slug: str


@dataclass(eq=False)
class TargetNotLinked(ActionError):
    """The Slack user named as a target is linked to no VictorOps user."""

    slack_user_id: str


@dataclass(eq=False)
class NoSuchTarget(ActionError):
    """VictorOps has no user `vo_username` to page."""

    vo_username: str


async def resolve_targets(
    wanted: Sequence[tuple[TargetKind, str]], identity: Identity, directory: Directory
) -> list[Target]:
    """Slack users become their VictorOps usernames; users and policies must exist. Raises ActionError."""
    targets: list[Target] = []
    for kind, value in wanted:
        if kind == "policy":
            if await directory.policy(value) is None:
                raise NoSuchPolicy(value)
            targets.append(Target(type="EscalationPolicy", slug=value))
            continue
        username = await identity.vo_username(value) if kind == "slack" else value
        if username is None:
            raise TargetNotLinked(value)
        user = await directory.user(username)
        if user is None:
            raise NoSuchTarget(username)
        targets.append(Target(type="User", slug=user.username))
    return list({(t.type, t.slug): t for t in targets}.values())
