"""`/vo status`: the bot's health from the user's side, in a few lines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Protocol

from bot.core.digests import Digests
from bot.core.directory import Directory
from bot.core.identity import Identity
from bot.core.refusals import EVERYWHERE
from bot.core.text import escape
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import Family, Gate, RateSpec


class Depth(Protocol):
    async def depth(self) -> int: ...


async def status_report(
    *,
    command: str,
    configured: Mapping[Family, RateSpec],
    budgets: Mapping[Family, Gate],
    directory: Directory,
    queue: Depth,
    digests: Digests,
    identity: Identity,
) -> str:
    lines = []
    oncall_names: list[str] = []
    try:
        oncall = await directory.oncall.get()
        oncall_names = sorted({name for team in oncall for name in team.usernames})
        lines.append(":large_green_circle: VictorOps answers.")
    except VictorOpsError as exc:
        lines.append(f":red_circle: VictorOps does not answer: {escape(str(exc))}")
    budget = []
    for family, spec in configured.items():
        left = await budgets[family].remaining()
        budget.append(f"{family.value} {'unlimited' if left is None else f'{left} of {spec}'} left")
    lines.append("Budget: " + ", ".join(budget) + ".")
    depth = await queue.depth()
    lines.append(f"Queued actions waiting for VictorOps: {depth}.")
    for digest in await digests.store.all():
        last = await digests.last_posted(digest.name)
        when = f"last posted {last} ({digest.timezone})" if last else "not posted yet"
        lines.append(f"Digest *{escape(digest.name)}* in <#{digest.channel}>: {when}.")
    for hold in digests.refusals.current():
        where = "Every digest" if hold.refusal.channel == EVERYWHERE else f"Digests to <#{hold.refusal.channel}>"
        lines.append(f":red_circle: {where} held until {hold.until.astimezone(UTC):%H:%M} UTC: {hold.refusal.sentence}")
    linked = await identity.linked_usernames()
    unlinked = [name for name in oncall_names if name.lower() not in linked]
    if unlinked:
        lines.append(
            f"On call but not linked to Slack: {', '.join(f'`{escape(n)}`' for n in unlinked)} "
            f"(`{command} link @someone <victorops-username>` links them)."
        )
    elif oncall_names:
        lines.append("Everyone on call is linked to Slack.")
    return "\n".join(lines)
