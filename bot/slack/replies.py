"""Replies that are not incident cards: history, on-call, who am I. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.slack.blocks import PHASE_STYLE, Block, clip, linked
from bot.slack.mrkdwn import escape
from bot.victorops.models import HistoryPage, Incident, Phase, TeamOnCall

HISTORY_PAGE_SIZE = 20


def history_line(incident: Incident) -> str:
    emoji, label = PHASE_STYLE[incident.current_phase]
    heading = linked(incident.incident_link, f"#{escape(incident.incident_number)}")
    started = f"started {incident.start_time:%Y-%m-%d %H:%M} UTC" if incident.start_time else "start time unknown"
    facts = [label.lower(), started]
    if incident.routing_key:
        facts.append(f"route `{escape(incident.routing_key)}`")
    last = incident.last_transition(incident.current_phase) if incident.current_phase is not Phase.UNACKED else None
    if last and last.by:
        facts.append(f"by {escape(last.by)}")
    return f"{emoji} *{heading}* {escape(clip(incident.title, 120))} — {' · '.join(facts)}"


def history_message(page: HistoryPage, page_number: int, command: str) -> tuple[str, list[Block]]:
    pages = max(1, -(-page.total // HISTORY_PAGE_SIZE))
    title = f"Incident history: {page.total} found"
    if not page.incidents:
        text = "Nothing matches. Widen the search, e.g. `since:30d` or another `phase:`."
        if page.total:
            text = f"There is no page {page_number}; the last is {pages}."
        return title, [HeaderBlock(text=title).to_dict(), SectionBlock(text=text).to_dict()]
    blocks: list[Block] = [HeaderBlock(text=title).to_dict()]
    lines = [history_line(i) for i in page.incidents]
    # a section holds 3000 characters; pack the lines into as few sections as fit
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))).to_dict())
            chunk = []
        chunk.append(line)
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))).to_dict())
    footer = f"Page {page_number} of {pages}."
    if page_number < pages:
        footer += f" Next: `{command} history … page:{page_number + 1}`."
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=footer)]).to_dict())
    return title, blocks


def oncall_message(teams: Sequence[TeamOnCall], wanted: str | None, command: str) -> tuple[str, list[Block]]:
    """Who is on call now, per team; `wanted` matches a team's name or slug (case-insensitive, partial)."""
    if wanted:
        key = wanted.lower()
        teams = [t for t in teams if key in t.team.name.lower() or key == t.team.slug.lower()]
        if not teams:
            text = f"No VictorOps team matches “{escape(clip(wanted, 40))}”. `{command} oncall` lists every team."
            return text, [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()]
    lines = []
    for team in sorted(teams, key=lambda t: t.team.name.lower()):
        parts = []
        for policy in team.oncall_now:
            names = ", ".join(escape(e.on_call_user.username) for e in policy.users) or "nobody"
            name = policy.escalation_policy.name if policy.escalation_policy else "?"
            parts.append(f"{names} ({escape(name)})")
        lines.append(f"*{escape(team.team.name)}*: {'; '.join(parts) if parts else 'nobody on call'}")
    text = "\n".join(lines) or "VictorOps lists no teams."
    return "Who is on call now", [
        HeaderBlock(text="On call now").to_dict(),
        SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))).to_dict(),
    ]
