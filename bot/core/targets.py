"""Reroute and create targets as typed by a user, checked against VictorOps before any incident call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from bot.core.actions import ActionError
from bot.core.directory import Directory
from bot.core.identity import Identity
from bot.victorops.models import Target

TargetKind = Literal["slack", "user", "policy"]
# The shapes VictorOps gives usernames and policy slugs; anything else is refused before VictorOps is asked.
VO_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
SLUG = re.compile(r"[A-Za-z0-9_.-]{1,80}")


async def resolve_targets(
    wanted: Sequence[tuple[TargetKind, str]], identity: Identity, directory: Directory
) -> list[Target]:
    """Slack users become their VictorOps usernames; users and policies must exist. Raises ActionError."""
    targets: list[Target] = []
    for kind, value in wanted:
        if kind == "policy":
            if await directory.policy(value) is None:
                raise ActionError(
                    f"VictorOps has no escalation policy `{value}`; leave the target out to pick one from a list."
                )
            targets.append(Target(type="EscalationPolicy", slug=value))
            continue
        username = await identity.vo_username(value) if kind == "slack" else value
        if username is None:
            raise ActionError(
                f"<@{value}> is not linked to a VictorOps user; name them as `user:<victorops-username>` instead."
            )
        user = await directory.user(username)
        if user is None:
            raise ActionError(f"VictorOps has no user `{username}`; check the spelling with `/vo oncall`.")
        targets.append(Target(type="User", slug=user.username))
    return list({(t.type, t.slug): t for t in targets}.values())
