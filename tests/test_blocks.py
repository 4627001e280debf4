"""Rendering is pure: cards follow the state, and every message stays within Slack's limits at any size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.core.outcomes import Did, Outcome, Refused, Said, Verb
from bot.slack.blocks import (
    MAX_BLOCKS,
    ActionId,
    CardRef,
    ListSpec,
    MessageTooLarge,
    card,
    check_message,
    incident_list,
    outcomes_message,
    replace_card,
    within_limit,
)
from bot.slack.cards import listing_message
from bot.slack.modals import reroute_view
from bot.slack.names import Names, when
from bot.slack.sentences import said
from bot.victorops.models import Incident, Named, PagedPolicy, PolicyInfo, Target, Transition, User

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def incident(n: int, phase: str = "UNACKED", title: str | None = None, **extra: Any) -> Incident:
    transitions = []
    if phase != "UNACKED":
        transitions.append(Transition(name=phase, at=NOW - timedelta(minutes=5), by="jdoe", message="on it"))
    return Incident(
        incident_number=str(n),
        start_time=NOW - timedelta(hours=n % 50, minutes=7),
        current_phase=phase,  # type: ignore[arg-type]
        entity_display_name=title or f"Disk usage 95% on db{n:03d}",
        routing_key="database",
        paged_users=["alice", "bob"] if phase == "UNACKED" else [],
        paged_policies=[PagedPolicy(policy=Named(name="Primary", slug="pol-x"), team=Named(name="Ops", slug="team-x"))],
        transitions=transitions,
        incident_link=f"https://portal.victorops.com/ui/acme/incident/{n}/details",
        **extra,
    )


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("UNACKED", [ActionId.ACK, ActionId.RESOLVE, ActionId.REROUTE]),
        ("ACKED", [ActionId.RESOLVE, ActionId.REROUTE]),
        ("RESOLVED", []),
    ],
)
def test_buttons_follow_the_state(phase: str, expected: list[str]) -> None:
    assert action_ids(card(incident(7, phase))) == expected


def test_card_shows_the_facts() -> None:
    text = card(incident(7))[0]["text"]["text"]
    assert "<https://portal.victorops.com/ui/acme/incident/7/details|#7>" in text
    assert "Disk usage 95% on db007" in text and "*Triggered*" in text and "route `database`" in text
    assert "Ops" in text and f"started {when(NOW - timedelta(hours=7, minutes=7))}" in text
    assert "Paging alice, bob" in text
    acked = card(incident(7, "ACKED"))[0]["text"]["text"]
    assert f"Acknowledged by jdoe, {when(NOW - timedelta(minutes=5))} — “on it”" in acked


def test_resolve_asks_for_confirmation_and_buttons_carry_the_incident() -> None:
    blocks = card(incident(7), listing=ListSpec(s="triggered", r=("db",)))
    resolve = next(
        e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "incident.resolve"
    )
    assert resolve["confirm"]["confirm"]["text"] == "Resolve"
    assert CardRef.decode(resolve["value"]) == CardRef(n="7", l=ListSpec(s="triggered", r=("db",)))


def test_titles_are_escaped_and_clipped() -> None:
    text = card(incident(1, title="<script> & " + "x" * 500))[0]["text"]["text"]
    assert "&lt;script&gt; &amp; " in text and "<script>" not in text and "…" in text


def test_times_are_slack_date_tokens_right_whenever_read() -> None:
    assert when(NOW) == "<!date^1714564800^{date_short_pretty} {time}|2024-05-01 12:00 UTC>"
    two_hours_east = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    assert when(two_hours_east) == "<!date^1714566600^{date_short_pretty} {time}|2024-05-01 12:30 UTC>"
    text = json.dumps(card(incident(7, "ACKED")), ensure_ascii=False)
    assert " ago" not in text and text.count("<!date^") == 2  # started, and acknowledged


PEOPLE = Names(
    slack_ids={"heidi": "U0HEIDI", "alice": "U0ALICE"},
    full_names={"gkim": "Grace Kim", "heidi": "Heidi Ho"},
    policies={"pol-x": "Ops Primary"},
)


def test_people_and_policies_are_named_as_people_know_them() -> None:
    paging = card(incident(7).model_copy(update={"paged_users": ["heidi", "gkim", "nobody"]}), names=PEOPLE)
    assert "Paging <@U0HEIDI>, Grace Kim, nobody" in paging[0]["text"]["text"]
    policy_only = incident(7).model_copy(update={"paged_users": []})
    assert "Paging Ops Primary" in card(policy_only, names=PEOPLE)[0]["text"]["text"]
    acked = incident(7, "ACKED").model_copy(
        update={"transitions": [Transition(name="ACKED", at=NOW, by="alice", message="on it")]}
    )
    assert "Acknowledged by <@U0ALICE>," in card(acked, names=PEOPLE)[0]["text"]["text"]
    # "you" only in a message the person alone sees
    assert "Acknowledged by you," in card(acked, names=PEOPLE.seen_by("U0ALICE"))[0]["text"]["text"]
    assert "Acknowledged by <@U0ALICE>," in card(acked, names=PEOPLE.seen_by("U0BOB"))[0]["text"]["text"]


def test_notes_say_what_happened_in_names() -> None:
    targets = (Target(type="EscalationPolicy", slug="pol-x"), Target(type="User", slug="heidi"),
               Target(type="User", slug="gkim"))  # fmt: skip
    rerouted = Outcome("7", Did(Verb.REROUTE, "U0ALICE", targets))
    assert said(rerouted, PEOPLE) == "Rerouted to Ops Primary, <@U0HEIDI>, Grace Kim by <@U0ALICE>."
    assert said(rerouted, PEOPLE.seen_by("U0ALICE")) == "Rerouted to Ops Primary, <@U0HEIDI>, Grace Kim by you."
    acked = Outcome("7", Did(Verb.ACK, "U0ALICE"), incident(7, "ACKED"))
    assert said(acked, PEOPLE.seen_by("U0ALICE")) == "Acknowledged by you."
    refused = Outcome("7", Refused(Verb.ACK, "closed"))
    assert said(refused, PEOPLE) == "VictorOps did not ack #7: closed."
    text, blocks = outcomes_message([acked], PEOPLE.seen_by("U0ALICE"))
    assert text == "Acknowledged by you." and "Acknowledged by you." in json.dumps(blocks)


def shown_numbers(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["block_id"].removeprefix("inc-") for b in blocks if b["type"] == "section" and "block_id" in b]


def test_headers_count_only_what_there_is() -> None:
    text, blocks = incident_list([incident(1), incident(2)], title="Triggered incidents", empty=".", more_hint=".")
    assert text == "Triggered incidents: 2 triggered" and "acknowledged" not in json.dumps(blocks)
    text, _ = incident_list([incident(1, "ACKED"), incident(2, "RESOLVED")], title="T", empty=".", more_hint=".")
    assert text == "T: 1 acknowledged, 1 resolved"


def test_a_redrawn_listing_keeps_its_cards_in_place() -> None:
    triggered = [incident(n) for n in range(1, 40)]
    fresh = ListSpec(s="triggered")
    _, blocks = incident_list(triggered, title="T", empty=".", more_hint=".", listing=fresh)
    order = shown_numbers(blocks)
    assert 20 <= len(order) < 39 and "more not shown" in json.dumps(blocks)
    value = next(b for b in blocks if b["type"] == "actions")["elements"][0]["value"]
    remembered = CardRef.decode(value)
    assert remembered is not None and remembered.l is not None and list(remembered.l.o) == order
    assert len(value) < 500  # far from Slack's 2000
    # the 20th card acknowledged, and an incident triggered since: nothing moves, the new one is not drawn
    twentieth = order[19]
    now = [i if i.incident_number != twentieth else incident(int(twentieth), "ACKED") for i in triggered]
    _, again = incident_list(
        [*now, incident(99)], title="T", empty=".", more_hint=".", listing=remembered.l,
        notes={twentieth: "Acknowledged by you."},
    )  # fmt: skip
    assert shown_numbers(again) == order
    acked = next(b for b in again if b.get("block_id") == f"inc-{twentieth}")["text"]["text"]
    assert "*Acknowledged*" in acked
    assert any(b.get("block_id") == f"inc-{twentieth}-note" for b in again)
    check_message(again)
    refresh = again[-1]["elements"][-1]
    assert refresh["action_id"] == ActionId.REFRESH and ListSpec.decode(refresh["value"]) == fresh


@pytest.mark.parametrize("count", [0, 1, 15, 120, 2000])
def test_listings_fit_slack_at_any_size(count: int) -> None:
    incidents = [incident(n, "ACKED" if n % 3 == 0 else "UNACKED") for n in range(1, count + 1)]
    text, blocks = incident_list(
        incidents, title="Open incidents", empty="All clear.", more_hint="Try `/vo list triggered`.",
        listing=ListSpec(),
    )  # fmt: skip
    check_message(blocks, text)
    digest_text, digest = listing_message(ListSpec(d="morning", r=("database",)), incidents, "/vo")
    check_message(digest, digest_text)
    assert "Digest “morning”" in json.dumps(digest, ensure_ascii=False)
    if count > 23:
        assert "See them all with `/vo list route:database`" in json.dumps(digest, ensure_ascii=False)
    check_message(blocks, text)
    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 40000
    shown = sum(1 for b in blocks if b.get("block_id", "").startswith("inc-") and b["type"] == "section")
    if count == 0:
        assert "All clear." in json.dumps(blocks, ensure_ascii=False)
    elif shown < count:
        assert f"…and {count - shown} more not shown. Try `/vo list triggered`." in json.dumps(
            blocks, ensure_ascii=False
        )
    else:
        assert shown == count
    first = [b for b in blocks if b["type"] == "section" and b.get("block_id", "").startswith("inc-")]
    if first:
        assert "Triggered" in first[0]["text"]["text"]  # triggered before acknowledged


def test_check_message_refuses_what_slack_would() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    with pytest.raises(MessageTooLarge, match="51 blocks"):
        check_message([section] * 51)
    with pytest.raises(MessageTooLarge, match="3000"):
        check_message([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    button = {"type": "button", "action_id": "a", "value": "v" * 2001, "text": {"type": "plain_text", "text": "b"}}
    with pytest.raises(MessageTooLarge, match="button value"):
        check_message([{"type": "actions", "elements": [button]}])
    with pytest.raises(MessageTooLarge, match="block text"):
        check_message([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5)


def test_replace_card_swaps_one_incident_only() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h"}},
        *card(incident(1)),
        *card(incident(2)),
    ]
    new = card(incident(1, "ACKED"), note="Acknowledged by <@U1>.")
    swapped = replace_card(blocks, "1", new)
    assert swapped[0] == blocks[0] and swapped[1 : 1 + len(new)] == new and swapped[-2:] == blocks[-2:]


def test_outcomes_are_cut_to_fit() -> None:
    outcomes = [Outcome(str(n), Said("Acknowledged.", True), incident(n, "ACKED")) for n in range(1, 40)]
    text, blocks = outcomes_message(outcomes)
    check_message(blocks, text)
    assert text == "39 of 39 done." and "more." in json.dumps(blocks[-1], ensure_ascii=False)


def test_reroute_modal_caps_options_and_lengths() -> None:
    users = [User(username=f"user{n}", first_name="Firstname" * 5, last_name=str(n)) for n in range(150)]
    policies = [PolicyInfo(policy=Named(name=f"Policy {n}", slug=f"pol-{n}"), team=Named(name="Ops", slug="team-x"))
                for n in range(120)]  # fmt: skip
    view = reroute_view("the-token", [incident(7)], policies, users, {"team-x": ["alice"] * 30})
    selects = {b["block_id"]: b["element"]["options"] for b in view["blocks"] if b["type"] == "input"}
    assert len(selects["policy"]) == 100 and len(selects["users"]) == 100
    assert all(len(o["text"]["text"]) <= 75 for options in selects.values() for o in options)
    assert view["private_metadata"] == "the-token"  # the context itself stays server-side


def test_a_listing_whose_every_card_got_a_note_stays_within_slacks_blocks() -> None:
    """Twenty clicks on one channel listing each add a note; the newest clicks' notes and every card stay."""
    incidents = [incident(n) for n in range(1, 21)]
    _, blocks = listing_message(ListSpec(), incidents, "/vo")
    shown = [b["block_id"].removeprefix("inc-") for b in blocks if b.get("block_id", "").startswith("inc-")]
    numbers = [n for n in shown if n.isdigit()]
    for number in numbers:
        acked = incident(int(number), "ACKED")
        blocks = within_limit(replace_card(blocks, number, card(acked, f"Acknowledged #{number}.")), [number])
        assert len(blocks) <= MAX_BLOCKS
        check_message(blocks, "text")
    ids = [str(b.get("block_id", "")) for b in blocks]
    assert all(f"inc-{n}" in ids for n in numbers)  # no card lost
    assert f"inc-{numbers[-1]}-note" in ids  # the last click's note is shown
