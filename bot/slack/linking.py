"""The prompt an unlinked person gets instead of a silent failure: why nothing happened, who vobot thinks
they are, and one button that links them and then finishes what they were doing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot.core.identity import Identity, Suggestion
from bot.core.text import escape
from bot.slack.blocks import ActionId, Block, ListSpec
from bot.slack.contexts import Contexts, Kind
from bot.slack.sentences import admins_named

Finish = Literal["ack", "resolve", "reroute", "link"]
VERBS = {"ack": "acknowledge", "resolve": "resolve", "reroute": "reroute"}


class Pending(BaseModel):
    """The action to finish once linked, kept server-side (`bot.slack.contexts`): the prompt's button carries
    only the token naming it."""

    model_config = ConfigDict(frozen=True)

    f: Finish  # what to finish
    u: str  # the VictorOps username to link
    n: tuple[str, ...] = ()  # incident numbers
    m: bool = False  # "mine" (byUser) instead of numbers
    r: str | None = None  # response_url of the message holding the original card
    ch: str | None = None  # its channel
    ts: str | None = None  # its ts, when it is a channel message
    l: ListSpec | None = None  # noqa: E741 - the listing the card is in

    def button_text(self) -> str:
        if self.f == "link":
            return f"Link me as {self.u}"
        what = "mine" if self.m else ", ".join(f"#{n}" for n in self.n)
        return f"Link me as {self.u} and {VERBS[self.f]} {what}"


async def link_prompt(
    identity: Identity, contexts: Contexts, slack_user_id: str, command: str, finish: Finish, **pending: Any
) -> tuple[str, list[Block]]:
    """What an unlinked person sees, with a one-click link when the rules allow one."""
    why = "You are not linked to a VictorOps user yet, so nothing was sent to VictorOps."
    how = (
        f"Link yourself with `{command} link <victorops-username>` (its email must match your Slack email), "
        f"or ask an admin ({admins_named(identity.admins)}) to link you."
    )
    suggestion = await identity.suggest(slack_user_id)
    if suggestion is None:
        return why, [_section(f"{why}\n{how}")]
    allowed = suggestion.verified or identity.allow_unverified
    if not allowed:
        guess = f"If you are VictorOps user {_who(suggestion)}, {how[0].lower()}"
        return why, [_section(f"{why}\n{guess}{how[1:]}")]
    action = Pending(f=finish, u=suggestion.user.username, **pending)
    token = await contexts.save(Kind.LINK, slack_user_id, action)
    blocks: list[Block] = [
        _section(f"{why}\n{_because(suggestion)}"),
        ActionsBlock(
            block_id="link-prompt",
            elements=[
                ButtonElement(
                    text=action.button_text()[:75],
                    action_id=ActionId.LINK_AND_RETRY,
                    value=token,
                    style="primary",
                )
            ],
        ).to_dict(),
    ]
    return why, blocks


def _because(suggestion: Suggestion) -> str:
    who = _who(suggestion)
    if suggestion.verified:
        return f"Your Slack email matches VictorOps user {who}."
    return f"VictorOps user {who} has your name."


def _who(suggestion: Suggestion) -> str:
    return f"*{escape(suggestion.user.username)}* ({escape(suggestion.user.full_name)})"


def _section(text: str) -> Block:
    section: Block = SectionBlock(text=MarkdownTextObject(text=text)).to_dict()
    return section
