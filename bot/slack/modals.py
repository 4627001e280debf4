"""Modals for reroute and create: pure builders, and reading what the user picked back out of a submission."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks import ListSpec, clip, escape
from bot.victorops.models import Incident, PolicyInfo, Target, User

MAX_OPTIONS = 100  # Slack's cap per select


class ViewId(StrEnum):
    REROUTE = "reroute"
    CREATE = "create"


class ModalMeta(BaseModel):
    """What a submission needs to finish the job, kept server-side (`bot.slack.contexts`): the view's
    private_metadata holds only the token naming it."""

    numbers: list[str] = []
    channel: str | None = None
    response_url: str | None = None  # where to answer the user (ephemeral) and update an ephemeral card
    message_ts: str | None = None  # a channel message holding the card, updated with chat.update
    listing: ListSpec | None = None  # the listing the card is in, to redraw it


def loading(title: str, callback_id: ViewId) -> dict[str, Any]:
    """Opened at once, inside the trigger's 3 seconds; replaced when the lookups arrive."""
    blocks = [SectionBlock(text=MarkdownTextObject(text=":hourglass_flowing_sand: Loading from VictorOps…"))]
    view: dict[str, Any] = View(type="modal", callback_id=callback_id, title=title, blocks=blocks).to_dict()
    return view


def message_view(title: str, text: str, callback_id: ViewId) -> dict[str, Any]:
    """A modal that only says something (a lookup failed after the modal was opened)."""
    blocks = [SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))]
    view: dict[str, Any] = View(
        type="modal", callback_id=callback_id, title=title, close="Close", blocks=blocks
    ).to_dict()
    return view


def policy_options(policies: Sequence[PolicyInfo], oncall: Mapping[str, list[str]]) -> list[Option]:
    options = []
    for info in sorted(policies, key=lambda p: ((p.team.name if p.team else ""), p.policy.name))[:MAX_OPTIONS]:
        team = info.team.name if info.team else ""
        who = oncall.get(info.team.slug, []) if info.team else []
        label = f"{team} · {info.policy.name}" if team and team != info.policy.name else info.policy.name
        if who:
            label += f" — on call: {', '.join(who)}"
        options.append(Option(text=clip(label, 75), value=info.policy.slug))
    return options


def user_options(users: Sequence[User]) -> list[Option]:
    ordered = sorted(users, key=lambda u: u.full_name.lower())[:MAX_OPTIONS]
    return [Option(text=clip(f"{u.full_name} ({u.username})", 75), value=u.username) for u in ordered]


def target_inputs(policies: list[Option], users: list[Option]) -> list[InputBlock]:
    return [
        InputBlock(
            block_id="policy",
            optional=True,
            label="Escalation policy",
            element=StaticSelectElement(action_id="policy", placeholder="Pick a policy", options=policies),
        ),
        InputBlock(
            block_id="users",
            optional=True,
            label="People",
            element=StaticMultiSelectElement(action_id="users", placeholder="Pick people", options=users),
        ),
    ]


def reroute_view(
    token: str,
    incidents: Sequence[Incident],
    policies: Sequence[PolicyInfo],
    users: Sequence[User],
    oncall: Mapping[str, list[str]],
) -> dict[str, Any]:
    listed = "\n".join(f"*#{i.incident_number}* {escape(clip(i.title, 150))}" for i in incidents[:10])
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=f"Reroute to whom?\n{listed}")),
        *target_inputs(policy_options(policies, oncall), user_options(users)),
        ContextBlock(elements=[MarkdownTextObject(text="Pick a policy, people, or both. They replace who is paged.")]),
    ]
    view: dict[str, Any] = View(
        type="modal",
        callback_id=ViewId.REROUTE,
        title="Reroute incident",
        submit="Reroute",
        close="Cancel",
        private_metadata=token,
        blocks=blocks,
    ).to_dict()
    return view


def create_view(
    token: str,
    policies: Sequence[PolicyInfo],
    users: Sequence[User],
    oncall: Mapping[str, list[str]],
    default_targets: str,
) -> dict[str, Any]:
    blocks: list[Any] = [
        InputBlock(
            block_id="summary",
            label="Summary",
            element=PlainTextInputElement(action_id="summary", max_length=255, placeholder="What is wrong?"),
        ),
        InputBlock(
            block_id="details",
            optional=True,
            label="Details",
            element=PlainTextInputElement(action_id="details", multiline=True, max_length=3000),
        ),
        *target_inputs(policy_options(policies, oncall), user_options(users)),
        ContextBlock(elements=[MarkdownTextObject(text=f"Nobody picked: it pages {default_targets}.")]),
    ]
    view: dict[str, Any] = View(
        type="modal",
        callback_id=ViewId.CREATE,
        title="Create incident",
        submit="Create",
        close="Cancel",
        private_metadata=token,
        blocks=blocks,
    ).to_dict()
    return view


def picked_targets(values: Mapping[str, Mapping[str, Any]]) -> list[Target]:
    """The policy and people chosen in a submitted view's state."""
    targets = []
    policy = values.get("policy", {}).get("policy", {}).get("selected_option")
    if policy:
        targets.append(Target(type="EscalationPolicy", slug=policy["value"]))
    for option in values.get("users", {}).get("users", {}).get("selected_options") or []:
        targets.append(Target(type="User", slug=option["value"]))
    return targets


def text_value(values: Mapping[str, Mapping[str, Any]], block_id: str) -> str:
    value = values.get(block_id, {}).get(block_id, {}).get("value")
    return str(value).strip() if value else ""
