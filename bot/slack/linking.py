"""The prompt an unlinked person gets instead of a silent failure: why nothing happened, who vobot thinks
they are, and one button that links them and then finishes what they were doing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import ConfigDict, Field
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot.core.identity import Identity, Suggestion
from bot.core.outcomes import Verb
from bot.slack.blocks import ActionId, Block
from bot.slack.contexts import Contexts, Kind
from bot.slack.mrkdwn import escape
from bot.slack.place import Place, Wire
from bot.slack.sentences import admins_named

Finish = Verb | Literal["link"]  # what the link button finishes: an action, or only the link
VERBS = {Verb.ACK: "acknowledge", Verb.RESOLVE: "resolve", Verb.REROUTE: "reroute", Verb.CREATE: "create"}
NOT_SENT = "You are not linked to a VictorOps user yet, so nothing was sent to VictorOps."


class NotLinked(Exception):
    """The person acting has no VictorOps user: they get the link prompt, whose button finishes `finish`."""

    def __init__(
        self, slack_user_id: str, finish: Finish = "link", numbers: Sequence[str] = (), mine: bool = False,
        place: Place | None = None, prefill: tuple[str, str] = ("", ""),
    ) -> None:  # fmt: skip
        super().__init__(f"{slack_user_id} is not linked to a VictorOps user")
        self.slack_user_id = slack_user_id
        self.finish = finish
        self.numbers = tuple(numbers)
        self.mine = mine
        self.place = place or Place()
        self.prefill = prefill  # a create's summary and details, for the modal the link opens


class Pending(Wire):
    """The action to finish once linked, kept server-side (`bot.slack.contexts`): the prompt's button carries
    only the token naming it."""

    model_config = ConfigDict(extra="forbid")  # another shape was saved by an older version

    finish: Finish = Field(alias="f")
    username: str = Field(alias="u")  # the VictorOps user to link
    numbers: tuple[str, ...] = Field((), alias="n")
    mine: bool = Field(False, alias="m")  # "mine" (byUser) instead of numbers
    place: Place = Field(Place(), alias="at")  # the message holding the original card
    summary: str = Field("", alias="s")  # a create's modal, prefilled
    details: str = Field("", alias="d")

    def button_text(self) -> str:
        if self.finish == "link":
            return f"Link me as {self.username}"
        if self.finish == Verb.CREATE:
            return f"Link me as {self.username} and create the incident"
        what = "mine" if self.mine else ", ".join(f"#{n}" for n in self.numbers)
        if len(self.numbers) > 3:  # a bulk action's: its numbers would not fit a button
            what = f"{len(self.numbers)} incidents"
        return f"Link me as {self.username} and {VERBS[self.finish]} {what}"


async def link_prompt(
    identity: Identity, contexts: Contexts, command: str, unlinked: NotLinked, why: str = NOT_SENT
) -> tuple[str, list[Block]]:
    """What an unlinked person sees (`why`, then how to link), with a one-click link when the rules allow one."""
    how = (
        f"Link yourself with `{command} link <victorops-username>` (its email must match your Slack email), "
        f"or ask an admin ({admins_named(identity.admins)}) to link you."
    )
    suggestion = await identity.suggest(unlinked.slack_user_id)
    if suggestion is None:
        return why, [_section(f"{why}\n{how}")]
    allowed = suggestion.verified or identity.allow_unverified
    if not allowed:
        guess = f"If you are VictorOps user {_who(suggestion)}, {how[0].lower()}"
        return why, [_section(f"{why}\n{guess}{how[1:]}")]
    action = Pending(
        finish=unlinked.finish,
        username=suggestion.user.username,
        numbers=unlinked.numbers,
        mine=unlinked.mine,
        place=unlinked.place,
        summary=unlinked.prefill[0],
        details=unlinked.prefill[1],
    )
    token = await contexts.save(Kind.LINK, unlinked.slack_user_id, action)
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
