"""`/vo status`: the core's status report in a few lines."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.oncall import GroupReport
from bot.core.refusals import EVERYWHERE
from bot.core.status import BudgetLeft, FeedState, StatusReport
from bot.slack.mrkdwn import escape
from bot.slack.sentences import group_facts


def status_text(report: StatusReport, command: str) -> str:
    if report.victorops_error is None:
        lines = [":large_green_circle: VictorOps answers."]
    else:
        lines = [f":red_circle: VictorOps does not answer: {escape(str(report.victorops_error))}"]
    lines.append("Budget: " + ", ".join(_left(b) for b in report.budgets) + ".")
    lines.append(f"Queued actions waiting for VictorOps: {report.queued}.")
    for posted in report.digests:
        digest, last = posted.digest, posted.last_posted
        when = f"last posted {last} ({digest.timezone})" if last else "not posted yet"
        lines.append(f"Digest *{escape(digest.name)}* in <#{digest.channel}>: {when}.")
    for hold in report.holds:
        where = "Every digest" if hold.refusal.channel == EVERYWHERE else f"Digests to <#{hold.refusal.channel}>"
        lines.append(f":red_circle: {where} held until {hold.until.astimezone(UTC):%H:%M} UTC: {hold.refusal.sentence}")
    if report.unlinked:
        lines.append(
            f"On call but not linked to Slack: {', '.join(f'`{escape(n)}`' for n in report.unlinked)} "
            f"(`{command} link @someone <victorops-username>` links them)."
        )
    elif report.oncall:
        lines.append("Everyone on call is linked to Slack.")
    if report.feed is not None:
        lines += _feed(report.feed)
    lines += [_group(g, command) for g in report.groups]
    return "\n".join(lines)


def _group(group: GroupReport, command: str) -> str:
    """One line per on-call user group: what is wrong first, then who on call is not linked."""
    mark = ":red_circle:" if group.problem else ":large_green_circle:"
    return f"{mark} On-call group <!subteam^{group.group}>: {group_facts(group, command)}."


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%H:%M:%S} UTC" if moment else "never"


def _feed(feed: FeedState) -> list[str]:
    hooks = f"last received {_when(feed.last_webhook)}" if feed.webhooks else "off (VOBOT_WEBHOOK_TOKEN is not set)"
    if feed.poll_interval:
        polls = f"every {feed.poll_interval:g} s, last {_when(feed.last_poll)}"
        polls += f", {feed.poll_failures} failed" if feed.poll_failures else ""
    else:
        polls = "off"
    lag = "no news yet" if feed.lag is None else f"newest news {feed.lag:.0f} s old"
    return [f"Live feed: webhooks {hooks}; polling {polls}; {lag}."]


def _left(budget: BudgetLeft) -> str:
    return f"{budget.family} {'unlimited' if budget.remaining is None else f'{budget.remaining} of {budget.spec}'} left"
