"""`/vo status`: the bot's health from the user's side, in a few lines."""

from __future__ import annotations

from datetime import UTC

from bot.core.refusals import EVERYWHERE
from bot.core.text import escape
from bot.services import Services
from bot.victorops.errors import VictorOpsError
from bot.victorops.limits import Family


async def status_report(services: Services) -> str:
    settings = services.settings
    lines = []
    oncall_names: list[str] = []
    try:
        oncall = await services.directory.oncall.get()
        oncall_names = sorted({name for team in oncall for name in team.usernames})
        lines.append(":large_green_circle: VictorOps answers.")
    except VictorOpsError as exc:
        lines.append(f":red_circle: VictorOps does not answer: {escape(str(exc))}")
    configured = {
        Family.INCIDENTS: settings.victorops_rate_limit,
        Family.REPORTING: settings.victorops_reporting_rate_limit,
        Family.LOOKUPS: settings.victorops_lookup_rate_limit,
    }
    budget = []
    for family, spec in configured.items():
        left = await services.vo.budgets[family].remaining()
        budget.append(f"{family.value} {'unlimited' if left is None else f'{left} of {spec}'} left")
    lines.append("Budget: " + ", ".join(budget) + ".")
    depth = await services.queue.depth()
    lines.append(f"Queued actions waiting for VictorOps: {depth}.")
    for digest in await services.digest_store.all():
        last = await services.digests.last_posted(digest.name)
        when = f"last posted {last} ({digest.timezone})" if last else "not posted yet"
        lines.append(f"Digest *{escape(digest.name)}* in <#{digest.channel}>: {when}.")
    for hold in services.digests.refusals.current():
        where = "Every digest" if hold.refusal.channel == EVERYWHERE else f"Digests to <#{hold.refusal.channel}>"
        lines.append(f":red_circle: {where} held until {hold.until.astimezone(UTC):%H:%M} UTC: {hold.refusal.sentence}")
    linked = await services.identity.linked_usernames()
    unlinked = [name for name in oncall_names if name.lower() not in linked]
    if unlinked:
        lines.append(
            f"On call but not linked to Slack: {', '.join(f'`{escape(n)}`' for n in unlinked)} "
            f"(`{settings.command} link @someone <victorops-username>` links them)."
        )
    elif oncall_names:
        lines.append("Everyone on call is linked to Slack.")
    return "\n".join(lines)
