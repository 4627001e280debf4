"""Incident state -> Block Kit. Pure functions: same input, same message, checked against Slack's limits.

Built with `slack_sdk.models.blocks`, whose `to_dict()` validates element limits (button value 2000,
action_id 255, section text 3000 …); `check_message` adds the message-level ones Slack enforces server-side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks import (
    Block as SdkBlock,
)
from slack_sdk.models.blocks.basic_components import ConfirmObject, PlainTextObject

from bot.core.outcomes import Outcome
from bot.slack.mrkdwn import escape
from bot.slack.names import Names, when
from bot.slack.sentences import incidents_word, said
from bot.victorops.models import Incident, Phase

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_TOTAL_TEXT = 12000  # undocumented: Slack answers msg_blocks_too_long somewhere past ~12k characters

NUMBER = re.compile(r"[0-9]{1,12}")  # an incident number as vobot writes it (button values, modal options)
IncidentNumber = Annotated[str, StringConstraints(pattern=f"^{NUMBER.pattern}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class ActionId(StrEnum):
    """Shared by the builders here and the listeners that handle the clicks."""

    ACK = "incident.ack"
    RESOLVE = "incident.resolve"
    REROUTE = "incident.reroute"
    LINK_AND_RETRY = "identity.link_and_retry"
    REFRESH = "listing.refresh"
    REMIND_ACK = "reminder.ack"  # a reminder's buttons: its message is edited, not replaced by a card
    REMIND_RESOLVE = "reminder.resolve"
    REMIND_SNOOZE = "reminder.snooze"
    REMIND_STOP = "reminder.stop"
    ACK_TRIGGERED = "listing.ack_triggered"
    SELECT = "listing.select"


class ListSpec(BaseModel):
    """The listing a card belongs to, so a click can re-render the whole message (Slack does not send the
    blocks of an ephemeral message back with a click)."""

    # Bounded and closed: a button's value comes back from the client and may have been changed.
    model_config = ConfigDict(frozen=True, extra="forbid")

    s: Name = "open"  # scope: open | mine | triggered | acked
    r: tuple[Name, ...] = Field((), max_length=100)  # routing keys
    t: tuple[Name, ...] = Field((), max_length=100)  # teams
    u: Name | None = None  # for "mine": whose incidents (a VictorOps username)
    d: Name | None = None  # the digest this listing is
    # The cards the message shows, in order: a redraw keeps them where they are, in their new state, until the
    # reader asks for a fresh listing (Refresh, or the command again). Empty: a fresh listing.
    o: tuple[IncidentNumber, ...] = Field((), max_length=MAX_BLOCKS)
    # When it was drawn, as the newest start among its incidents (whole epoch seconds, VictorOps' clock; its
    # report and its webhooks differ below the second): "Acknowledge all triggered" leaves out the incidents
    # started after it, so a click never acks more than it counted. Round-tripped: a change only leaves more out.
    w: int | None = Field(None, ge=0)

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def decode(cls, value: object) -> ListSpec | None:
        return decode(cls, value)

    def fresh(self) -> ListSpec:
        """The same listing drawn anew from the incidents as they are."""
        return self.model_copy(update={"o": (), "w": None})

    def since(self, incident: Incident) -> bool:
        """Whether `incident` started after the listing was drawn (unknown start: it was there)."""
        return self.w is not None and incident.start_time is not None and int(incident.start_time.timestamp()) > self.w


class CardRef(BaseModel):
    """What a button carries: the incident, and the listing its card is in (None: a card on its own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: IncidentNumber
    l: ListSpec | None = None  # noqa: E741 - short keys keep button values small

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def decode(cls, value: object) -> CardRef | None:
        return decode(cls, value)


M = TypeVar("M", bound=BaseModel)


def decode(model: type[M], value: object) -> M | None:
    """A button's value as this version writes it, or None for anything else (strict: no coercion)."""
    if not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE:
        return None
    try:
        return model.model_validate_json(value, strict=True)
    except ValidationError:
        return None


PHASE_STYLE = {
    Phase.UNACKED: (":red_circle:", "Triggered"),
    Phase.ACKED: (":large_yellow_circle:", "Acknowledged"),
    Phase.RESOLVED: (":large_green_circle:", "Resolved"),
}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def block_prefix(number: str) -> str:
    """Every block of one incident's card has an id starting with this, so a card can be swapped in a list."""
    return f"inc-{number}"


def teams_of(incident: Incident) -> list[str]:
    names = [p.team.name for p in incident.paged_policies if p.team and p.team.name]
    return list(dict.fromkeys(names)) or incident.paged_teams


def linked(url: str | None, label: str) -> str:
    """`label` (mrkdwn) linked to a VictorOps address; an address that could break out of the link is left out."""
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> \n"):
        return label
    return f"<{escape(url)}|{label}>"


MAX_PAGED = 10  # names on a card's "Paging" line
NO_NAMES = Names()  # VictorOps usernames and slugs as they are, and nobody is "you"


def who_line(incident: Incident, names: Names = NO_NAMES) -> str:
    """Who is being paged, or who acknowledged / resolved and when (mrkdwn: names are escaped by `names`)."""
    if incident.current_phase is Phase.UNACKED:
        paged = [names.user(u) for u in incident.paged_users] or [
            names.policy(p.policy.slug, p.policy.name) for p in incident.paged_policies if p.policy.name
        ]
        # cut by names, not characters: a cut inside a mention or an entity would show broken
        more = f" and {len(paged) - MAX_PAGED} more" if len(paged) > MAX_PAGED else ""
        return f"Paging {', '.join(paged[:MAX_PAGED])}{more}" if paged else "Nobody is being paged"
    transition = incident.last_transition(incident.current_phase)
    verb = "Acknowledged" if incident.current_phase is Phase.ACKED else "Resolved"
    if transition is None:
        return verb
    by = f" by {names.user(transition.by)}" if transition.by else ""
    note = f" — “{escape(clip(transition.message, 200))}”" if transition.message else ""
    return f"{verb}{by}, {when(transition.at)}{note}"


def card_text(incident: Incident, names: Names = NO_NAMES) -> str:
    emoji, label = PHASE_STYLE[incident.current_phase]
    title = escape(clip(incident.title, 200))
    heading = linked(incident.incident_link, f"#{escape(incident.incident_number)}")
    facts = [f"*{label}*"]
    if incident.routing_key:
        facts.append(f"route `{escape(incident.routing_key)}`")
    if teams := teams_of(incident):
        facts.append(escape(", ".join(teams)))
    facts.append(f"started {when(incident.start_time)}" if incident.start_time else "start time unknown")
    return "\n".join([f"{emoji} *{heading}* {title}", " · ".join(facts), who_line(incident, names)])


def buttons(incident: Incident, listing: ListSpec | None) -> list[ButtonElement]:
    """Buttons follow the state: Acknowledge while unacked, Resolve (confirmed) and Reroute while open."""
    if incident.current_phase is Phase.RESOLVED:
        return []
    value = CardRef(n=incident.incident_number, l=listing).encode()
    found = []
    if incident.current_phase is Phase.UNACKED:
        found.append(ButtonElement(text="Acknowledge", action_id=ActionId.ACK, value=value, style="primary"))
    found.append(
        ButtonElement(text="Resolve", action_id=ActionId.RESOLVE, value=value, confirm=resolve_confirm(incident))
    )
    found.append(ButtonElement(text="Reroute…", action_id=ActionId.REROUTE, value=value))
    return found


def resolve_confirm(incident: Incident) -> ConfirmObject:
    """The question every Resolve button asks first."""
    return ConfirmObject(
        title="Resolve this incident?",
        # plain_text: Slack parses no mentions in it, so the title shows as it is
        text=PlainTextObject(text=f"Resolve #{incident.incident_number} {clip(incident.title, 200)} in VictorOps?"),
        confirm="Resolve",
        deny="Cancel",
    )


def card(
    incident: Incident, note: str | None = None, listing: ListSpec | None = None, names: Names = NO_NAMES
) -> list[Block]:
    """One incident: its facts, an optional note (who just acted, or why VictorOps refused), its buttons."""
    prefix = block_prefix(incident.incident_number)
    text = clip(card_text(incident, names), MAX_SECTION_TEXT)
    blocks: list[SdkBlock] = [SectionBlock(block_id=prefix, text=MarkdownTextObject(text=text))]
    if note:
        blocks.append(ContextBlock(block_id=f"{prefix}-note", elements=[MarkdownTextObject(text=clip(note, 2000))]))
    if found := buttons(incident, listing):
        blocks.append(ActionsBlock(block_id=f"{prefix}-actions", elements=found))
    return [block.to_dict() for block in blocks]


def replace_card(blocks: Sequence[Block], number: str, new_card: list[Block]) -> list[Block]:
    """Swap one incident's card inside a message of several, keeping the others as they are."""
    prefix = block_prefix(number)
    result: list[Block] = []
    inserted = False
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if block_id == prefix or block_id.startswith(prefix + "-"):
            if not inserted:
                result.extend(new_card)
                inserted = True
            continue
        result.append(block)
    return result if inserted else [*result, *new_card]


def within_limit(blocks: Sequence[Block], keep: Iterable[str]) -> list[Block]:
    """The message under Slack's 50 blocks: each click's note adds a block, so past the limit the notes of the
    other cards (not `keep`, the incidents just acted on) go, from the top; each card stays."""
    kept = {f"{block_prefix(number)}-note" for number in keep}
    result = list(blocks)
    for block in list(result):
        if len(result) <= MAX_BLOCKS:
            break
        block_id = str(block.get("block_id", ""))
        if block_id.endswith("-note") and block_id not in kept:
            result.remove(block)
    return result


def open_sort_key(incident: Incident) -> tuple[int, datetime]:
    """Triggered before acknowledged, oldest first (an unknown start last)."""
    return (
        0 if incident.current_phase is Phase.UNACKED else 1,
        incident.start_time or datetime.max.replace(tzinfo=UTC),
    )


# Blocks a fresh listing leaves free, so that a redraw adding notes to acted-on cards still shows every card.
NOTE_ROOM = 4


def incident_list(
    incidents: Iterable[Incident],
    *,
    title: str,
    empty: str,
    more_hint: str,
    listing: ListSpec | None = None,
    notes: Mapping[str, str] | None = None,
    names: Names = NO_NAMES,
) -> tuple[str, list[Block]]:
    """A message of cards: header with counts, as many cards as fit, how many were left out, and Refresh.

    Fresh, the cards come triggered first, oldest first. A redraw (`listing.o`, the cards the message showed)
    keeps those where they were, each as it is now, so nothing moves under the reader's cursor; an incident
    new since comes after them."""
    ordered = listed_order(incidents, listing)
    counts = phase_counts(ordered)
    fallback = f"{escape(title)}: {counts}" if ordered else f"{escape(title)}: {empty}"  # mrkdwn; the header is not
    blocks: list[Block] = [HeaderBlock(text=clip(title, 150)).to_dict()]
    if not ordered:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=empty)).to_dict())
        return fallback, [*blocks, *listing_actions(listing, ordered)]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=counts)]).to_dict())
    # Which cards fit is decided without notes (and the line "left out" and Refresh kept free), so the same
    # cards fit again when a redraw adds a note; buttons' values do not count towards Slack's text limit.
    size, text, fitting = len(blocks) + 2 + NOTE_ROOM, text_size(blocks), 0
    for incident in ordered:
        plain = card(incident, names=names)
        size, text = size + len(plain), text + text_size(plain)
        if size > MAX_BLOCKS or text > 10000:
            break
        fitting += 1
    shown = ordered[:fitting]
    newest = max((int(i.start_time.timestamp()) for i in ordered if i.start_time), default=None)
    drawn = listing.model_copy(update={"o": tuple(i.incident_number for i in shown), "w": newest}) if listing else None
    for incident in shown:
        blocks.extend(card(incident, (notes or {}).get(incident.incident_number), drawn, names))
    if left := len(ordered) - fitting:
        line = f"…and {left} more not shown. {more_hint}"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line)]).to_dict())
    return fallback, [*blocks, *listing_actions(drawn or listing, ordered)]


def phase_counts(incidents: Iterable[Incident]) -> str:
    """ "2 triggered, 1 acknowledged": only what there is, since "0 triggered" says nothing."""
    listed = list(incidents)
    return ", ".join(
        f"{count} {label.lower()}"
        for phase, (_, label) in PHASE_STYLE.items()
        if (count := sum(1 for i in listed if i.current_phase is phase))
    )


def listed_order(incidents: Iterable[Incident], listing: ListSpec | None) -> list[Incident]:
    """A listing's order: the cards it showed where they were (`listing.o`), then the rest triggered first,
    oldest first."""
    by_number = {i.incident_number: i for i in incidents}
    remembered = [by_number.pop(n) for n in (listing.o if listing else ()) if n in by_number]
    return [*remembered, *sorted(by_number.values(), key=open_sort_key)]


def listing_actions(listing: ListSpec | None, incidents: Sequence[Incident]) -> list[Block]:
    """The listing's own buttons, in one block (counted in the block budget with the cards): the bulk actions
    over its incidents, and Refresh. Each carries the listing, never numbers: a click recomputes them."""
    if listing is None:
        return []
    found = bulk_buttons(listing, incidents)
    found.append(ButtonElement(text="Refresh", action_id=ActionId.REFRESH, value=listing.fresh().encode()))
    return [ActionsBlock(block_id="listing-actions", elements=found).to_dict()]


def bulk_buttons(listing: ListSpec, incidents: Sequence[Incident]) -> list[ButtonElement]:
    """ "Acknowledge all triggered (N)" (confirmed, naming N) while any is triggered; "Select…" while any is open."""
    found = []
    value = listing.encode()
    if triggered := sum(1 for i in incidents if i.current_phase is Phase.UNACKED):
        some = incidents_word(triggered, "triggered")
        found.append(
            ButtonElement(
                text=f"Acknowledge all triggered ({triggered})",
                action_id=ActionId.ACK_TRIGGERED,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title=f"Acknowledge {some}?",
                    text=PlainTextObject(
                        text=f"Acknowledge the {some} of this listing in VictorOps? "
                        "Incidents triggered since it was drawn are left out: Refresh to include them."
                    ),
                    confirm="Acknowledge",
                    deny="Cancel",
                ),
            )
        )
    if any(i.current_phase is not Phase.RESOLVED for i in incidents):
        found.append(ButtonElement(text="Select…", action_id=ActionId.SELECT, value=value))
    return found


def text_size(blocks: Sequence[Block]) -> int:
    """Characters of text across blocks, which Slack caps per message."""
    total = 0
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            total += len(str(text.get("text", "")))
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                total += len(element["text"])
        for field in block.get("fields", []) or []:
            total += len(str(field.get("text", "")))
    return total


class MessageTooLarge(ValueError):
    """A message that Slack would refuse; raised before sending rather than failing at Slack."""


def check_message(blocks: Sequence[Block], text: str = "") -> None:
    """Slack's message-level limits (the element-level ones are checked by slack_sdk at build time)."""
    if len(blocks) > MAX_BLOCKS:
        raise MessageTooLarge(f"{len(blocks)} blocks, Slack allows {MAX_BLOCKS}")
    if text_size(blocks) > MAX_TOTAL_TEXT:
        raise MessageTooLarge(f"{text_size(blocks)} characters of block text, Slack allows about {MAX_TOTAL_TEXT}")
    if len(text) > 40000:
        raise MessageTooLarge("fallback text over 40,000 characters")
    for block in blocks:
        section = block.get("text")
        if isinstance(section, dict) and len(str(section.get("text", ""))) > MAX_SECTION_TEXT:
            raise MessageTooLarge(f"a section of more than {MAX_SECTION_TEXT} characters")
        for element in block.get("elements", []) or []:
            if not isinstance(element, dict):
                continue
            if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
                raise MessageTooLarge(f"a button value of more than {MAX_BUTTON_VALUE} characters")
            if len(str(element.get("action_id", ""))) > MAX_ACTION_ID:
                raise MessageTooLarge(f"an action_id of more than {MAX_ACTION_ID} characters")


def sentence(text: str) -> list[Block]:
    """A one-section reply (errors, confirmations)."""
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT))).to_dict()]


def outcomes_message(
    outcomes: Sequence[Outcome], names: Names = NO_NAMES, listing: ListSpec | None = None
) -> tuple[str, list[Block]]:
    """The reply to an action on several incidents: each card with what happened to it, as many as fit."""
    blocks: list[Block] = []
    for index, outcome in enumerate(outcomes):
        note = said(outcome, names)
        part = card(outcome.incident, note, listing, names) if outcome.incident else sentence(note)
        if len(blocks) + len(part) > MAX_BLOCKS - 1:
            left = len(outcomes) - index
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {left} more.")]).to_dict())
            break
        blocks.extend(part)
    done = sum(1 for o in outcomes if o.done)
    text = said(outcomes[0], names) if len(outcomes) == 1 else f"{done} of {len(outcomes)} done."
    return text, blocks
