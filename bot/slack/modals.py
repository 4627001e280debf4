"""Modals for reroute and create: pure builders, and reading what the user picked back out of a submission."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field
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

from bot.core.outcomes import Verb
from bot.core.targets import SLUG, VO_USERNAME, TargetKind
from bot.core.text import MAX_DETAILS, MAX_NOTE, MAX_SUMMARY
from bot.slack.blocks import NUMBER, clip
from bot.slack.mrkdwn import escape
from bot.slack.place import Place, Wire
from bot.slack.sentences import incidents_word
from bot.victorops.models import Incident, Phase, PolicyInfo, User

MAX_OPTIONS = 100  # Slack's cap per select


class ViewId(StrEnum):
    REROUTE = "reroute"
    CREATE = "create"
    BULK = "bulk"  # "Select…" on a listing: incidents, and what to do with them
    BULK_RESOLVE = "bulk_resolve"  # the bulk resolve's confirmation, pushed over it


class ModalMeta(Wire):
    """What a submission needs to finish the job, kept server-side (`bot.slack.contexts`): the view's
    private_metadata holds only the token naming it."""

    model_config = ConfigDict(extra="forbid")  # another shape was saved by an older version

    numbers: tuple[str, ...] = Field((), alias="n")
    place: Place = Field(Place(), alias="at")  # where to answer, and the card to redraw
    note: str | None = Field(None, alias="m")  # a bulk resolve's message, while it waits for its confirmation
    window: ViewId | None = Field(None, alias="w")  # the modal it was saved for: a submission of another is refused
    offered: tuple[str, ...] = Field((), alias="o")  # Select…'s choices: only ever picked from, never acted on


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
    listed = "\n".join(f"*#{escape(i.incident_number)}* {escape(clip(i.title, 150))}" for i in incidents[:10])
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
    summary: str = "",
    details: str = "",
) -> dict[str, Any]:
    """`summary` and `details` prefill it (a message shortcut's message); they are the person's to change."""
    blocks: list[Any] = [
        InputBlock(
            block_id="summary",
            label="Summary",
            element=PlainTextInputElement(
                action_id="summary",
                max_length=MAX_SUMMARY,
                placeholder="What is wrong?",
                initial_value=clip(summary, MAX_SUMMARY) or None,
            ),
        ),
        InputBlock(
            block_id="details",
            optional=True,
            label="Details",
            element=PlainTextInputElement(
                action_id="details",
                multiline=True,
                max_length=MAX_DETAILS,
                initial_value=clip(details, MAX_DETAILS) or None,
            ),
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


Values = Mapping[str, Any]  # a submitted view's `state.values`: block_id -> action_id -> state


def _state(values: Values, block_id: str) -> Mapping[str, Any]:
    """One input's state; anything not shaped as Slack sends it reads as nothing picked."""
    block = values.get(block_id)
    state = block.get(block_id) if isinstance(block, Mapping) else None
    return state if isinstance(state, Mapping) else {}


def _option_value(option: object) -> str:
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else ""


def picked_targets(values: Values) -> tuple[list[tuple[TargetKind, str]], dict[str, str]]:
    """The policy and people chosen, and an error per input (by block_id) holding a value no list offers.

    Slack sends only options the modal offered, and those have VictorOps' shapes; anything else was crafted,
    and is refused before anything is queued. Whether VictorOps still has them is `resolve_targets`' to say.
    """
    targets: list[tuple[TargetKind, str]] = []
    errors: dict[str, str] = {}
    policy = _state(values, "policy").get("selected_option")
    if policy is not None:
        if SLUG.fullmatch(slug := _option_value(policy)):
            targets.append(("policy", slug))
        else:
            errors["policy"] = "That is not a policy from this list; pick one of the policies offered."
    people = _state(values, "users").get("selected_options") or []
    names = [_option_value(option) for option in people] if isinstance(people, list) else [""]
    if all(VO_USERNAME.fullmatch(name) for name in names):
        targets.extend(("user", name) for name in names)
    else:
        errors["users"] = "Someone picked here is not from this list; pick people from the ones offered."
    return targets, errors


def text_value(values: Values, block_id: str) -> str:
    value = _state(values, block_id).get("value")
    return value.strip() if isinstance(value, str) else ""


def create_errors(summary: str, details: str | None) -> dict[str, str]:
    """The create modal's text, held to the command's limits (Slack enforces max_length only in its clients)."""
    errors = {}
    if not summary:
        errors["summary"] = "Say in a few words what is wrong."
    elif len(summary) > MAX_SUMMARY:
        errors["summary"] = f"The summary is {len(summary)} characters; keep it to {MAX_SUMMARY}."
    if details and len(details) > MAX_DETAILS:
        errors["details"] = f"The details are {len(details)} characters; keep them to {MAX_DETAILS}."
    return errors


# ---- bulk actions on a listing ("Select…") ----------------------------------------------------------------

BULK_VERBS = {Verb.ACK: "Acknowledge", Verb.RESOLVE: "Resolve", Verb.REROUTE: "Reroute"}
BULK_TITLE = "Act on incidents"


def incident_option(incident: Incident) -> Option:
    """#42 Disk full on db-3, or #43 (acked) …: plain_text, so Slack shows the title as it is (nothing in it is
    parsed)."""
    acked = " (acked)" if incident.current_phase is Phase.ACKED else ""
    text = clip(f"#{incident.incident_number}{acked} {incident.title}", 75)
    return Option(text=text, value=incident.incident_number)


def bulk_view(
    token: str,
    title: str,
    incidents: Sequence[Incident],
    policies: Sequence[PolicyInfo],
    users: Sequence[User],
    oncall: Mapping[str, list[str]],
    command: str,
) -> dict[str, Any]:
    """Pick open incidents of a listing (the first 100 in its order: Slack's cap) and an action for them all."""
    offered = incidents[:MAX_OPTIONS]
    intro = f"*{escape(title)}*: pick incidents, and what to do with them. One VictorOps call does them all."
    if len(incidents) > MAX_OPTIONS:
        intro += (
            f"\n:warning: This listing has {len(incidents)} open incidents and Slack offers at most {MAX_OPTIONS} "
            f"here: these are the first {MAX_OPTIONS} as the listing orders them (triggered first, oldest first). "
            f"To reach the others, narrow the list, e.g. `{command} list route:<key>` or `team:<slug>`."
        )
    actions = [Option(text=label, value=verb) for verb, label in BULK_VERBS.items()]
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        InputBlock(
            block_id="incidents",
            label="Incidents",
            element=StaticMultiSelectElement(
                action_id="incidents", placeholder="Pick incidents", options=[incident_option(i) for i in offered]
            ),
        ),
        InputBlock(
            block_id="action",
            label="Action",
            element=StaticSelectElement(action_id="action", options=actions, initial_option=actions[0]),
        ),
        InputBlock(
            block_id="note",
            optional=True,
            label="Message (acknowledge, resolve)",
            element=PlainTextInputElement(action_id="note", max_length=MAX_NOTE, placeholder="Recorded in VictorOps"),
        ),
        *target_inputs(policy_options(policies, oncall), user_options(users)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Reroute sends them to the policy and people picked above, replacing who is paged. "
                    "Resolve asks once more before anything is sent."
                )
            ]
        ),
    ]
    view: dict[str, Any] = View(
        type="modal",
        callback_id=ViewId.BULK,
        title=BULK_TITLE,
        submit="Go",
        close="Cancel",
        private_metadata=token,
        blocks=blocks,
    ).to_dict()
    return view


def bulk_errors(values: Values, offered: Sequence[str]) -> tuple[list[str], Verb | None, str, dict[str, str]]:
    """The incidents picked, the action and the message, and an error per input (by block_id). Slack sends only
    options the modal offered: a number it did not offer was crafted, and is named, not sent."""
    errors: dict[str, str] = {}
    picked = _state(values, "incidents").get("selected_options")
    numbers = [_option_value(o) for o in picked] if isinstance(picked, list) else []
    unknown = [n for n in numbers if not NUMBER.fullmatch(n) or n not in offered]
    if unknown:
        named = ", ".join(f"#{n}" for n in unknown[:5] if NUMBER.fullmatch(n)) or "some"
        errors["incidents"] = f"{named}: not among the incidents offered here, so nothing was sent; pick from the list."
    elif not numbers:
        errors["incidents"] = "Pick at least one incident."
    value = _option_value(_state(values, "action").get("selected_option"))
    verb = next((v for v in BULK_VERBS if v == value), None)
    if verb is None:
        errors["action"] = "Pick what to do: acknowledge, resolve or reroute."
    note = text_value(values, "note")
    if len(note) > MAX_NOTE:
        errors["note"] = f"The message is {len(note)} characters; keep it to {MAX_NOTE}."
    return list(dict.fromkeys(numbers)), verb, note, errors


def resolve_confirm_view(token: str, incidents: Sequence[Incident], numbers: Sequence[str]) -> dict[str, Any]:
    """Resolve keeps its confirmation when it is many at once: the incidents are named before anything is sent."""
    titles = {i.incident_number: i.title for i in incidents}
    shown = [f"*#{escape(n)}* {escape(clip(titles.get(n, ''), 100))}" for n in numbers[:20]]
    if len(numbers) > 20:
        shown.append(f"…and {len(numbers) - 20} more.")
    text = f"Resolve {'these' if len(numbers) > 1 else 'this'} {incidents_word(len(numbers))} in VictorOps?\n"
    text += "\n".join(shown)
    view: dict[str, Any] = View(
        type="modal",
        callback_id=ViewId.BULK_RESOLVE,
        title="Resolve incidents?",
        submit="Resolve",
        close="Back",
        private_metadata=token,
        blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))],
    ).to_dict()
    return view
