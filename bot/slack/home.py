"""A person's App Home, drawn from what the core gathered (bot.core.home): pure, facts in and a `home` view out.

Cards are the incident cards of messages (same buttons, same escaping); past Slack's 100 blocks a view holds,
the cards that do not fit are counted ("…and 3 more"), never cut silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.home import HomeFacts, TeamFacts
from bot.slack.blocks import NO_NAMES, Block, card, clip
from bot.slack.mrkdwn import escape
from bot.slack.names import Names
from bot.slack.sentences import NO_TEAMS, ONCALL_UNKNOWN, TEAMS_PENDING
from bot.victorops.models import Incident

MAX_HOME_BLOCKS = 100  # Slack's limit for a view
MAX_TEAMS = 20  # teams listed; past that, counted
MAX_NOTICE = 2000  # characters of the notice at the top (a context element takes 3000)
REFRESH = "home.refresh"  # the home's Refresh button (action_id)
SECTION_FRAME = 3  # blocks around the cards of "Paging you" or "Acknowledged by you": divider, heading, last line


def home_view(
    facts: HomeFacts,
    command: str,
    names: Names = NO_NAMES,
    notice: str | None = None,
    link_prompt: Sequence[Block] = (),
) -> dict[str, Any]:
    """The home for `facts.slack_user_id`: `notice` says what just happened (mrkdwn, escaped by its maker);
    `link_prompt` is shown, in place of everything else, to a person not linked to VictorOps."""
    top: list[Block] = [HeaderBlock(text="VictorOps on call").to_dict()]
    if notice:
        top.append(_context(clip_mrkdwn(notice, MAX_NOTICE), "home-notice"))
    if facts.vo_username is None:
        return _view([*top, *link_prompt, *_refresh()])
    who = names.full_names.get(facts.vo_username.lower())
    named = f"*{escape(facts.vo_username)}*" + (f" ({escape(who)})" if who else "")
    top.append(_section(f"You are {named} in VictorOps.", "home-who"))
    teams = _teams(facts.teams, facts.teams_pending, names)
    end = [DividerBlock().to_dict(), *teams, *_refresh()]
    room = MAX_HOME_BLOCKS - len(top) - len(end) - 2 * SECTION_FRAME
    paging, room = _cards(facts.paging, room, names, "Paging you", f"`{command} ack mine` acknowledges them all.")
    acked, _ = _cards(facts.acked, room, names, "Acknowledged by you", f"`{command} list mine` lists them all.")
    return _view([*top, *paging, *acked, *end])


def clip_mrkdwn(text: str, limit: int) -> str:
    """`clip` for text escaped already: never cut inside a `<…>` (a mention, a link) or an `&…;` entity, which
    Slack would show broken."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    if (amp := cut.rfind("&")) > cut.rfind(";") and len(cut) - amp < len("&amp;"):
        cut = cut[:amp]
    return cut + "…"


def home_failed(sentence: str) -> dict[str, Any]:
    """The home when what it shows could not be gathered: why (one sentence, mrkdwn), and Refresh."""
    return _view([HeaderBlock(text="VictorOps on call").to_dict(), _section(clip(sentence, 3000)), *_refresh()])


def _cards(incidents: Sequence[Incident], room: int, names: Names, title: str, hint: str) -> tuple[list[Block], int]:
    """A heading and as many cards as fit in `room` blocks, then how many did not; and the room left."""
    blocks: list[Block] = [DividerBlock().to_dict(), _section(f"*{title}* ({len(incidents)})")]
    if not incidents:
        blocks.append(_context("None right now."))
        return blocks, room
    shown = 0
    for incident in incidents:
        drawn = card(incident, names=names)
        if len(drawn) > room:
            break
        blocks.extend(drawn)
        room -= len(drawn)
        shown += 1
    if left := len(incidents) - shown:
        blocks.append(_context(f"…and {left} more not shown. {hint}"))
    return blocks, room


def _teams(teams: Sequence[TeamFacts], pending: bool, names: Names) -> list[Block]:
    if not teams:
        return [_section(f"*Your teams*\n{TEAMS_PENDING if pending else NO_TEAMS}", "home-teams")]
    lines = [_team_line(t, names) for t in teams[:MAX_TEAMS]]
    if len(teams) > MAX_TEAMS:
        lines.append(f"…and {len(teams) - MAX_TEAMS} more teams.")
    if pending:
        lines.append(TEAMS_PENDING)
    return [_section(clip("\n".join(["*Your teams*", *lines]), 3000), "home-teams")]


def _team_line(team: TeamFacts, names: Names) -> str:
    known = team.oncall
    oncall = ONCALL_UNKNOWN if known is None else ", ".join(names.user(u) for u in known[:10]) or "nobody"
    counts = [f"{n} {label}" for n, label in ((team.triggered, "triggered"), (team.acked, "acknowledged")) if n]
    return f"• *{escape(team.team.name)}* — on call: {oncall} · {', '.join(counts) or 'no open incidents'}"


def _refresh() -> list[Block]:
    button = ButtonElement(text="Refresh", action_id=REFRESH, value="home")
    return [ActionsBlock(block_id="home-actions", elements=[button]).to_dict()]


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = SectionBlock(block_id=block_id, text=MarkdownTextObject(text=text)).to_dict()
    return block


def _context(text: str, block_id: str | None = None) -> Block:
    block: Block = ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=text)]).to_dict()
    return block


def _view(blocks: list[Block]) -> dict[str, Any]:
    view: dict[str, Any] = View(type="home", blocks=blocks).to_dict()
    return view
