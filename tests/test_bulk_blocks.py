"""Bulk actions, rendered: the listing's bulk buttons (N, its confirmation, when they show, that they fit), the
"Select…" modal within Slack's option limits, reading its submission strictly, and the one-message outcome."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.outcomes import Already, Did, NotOpen, Outcome, Queued, Refused, Silent, Verb
from bot.slack.blocks import MAX_BLOCKS, ActionId, ListSpec, check_message, incident_list
from bot.slack.cards import listing_message
from bot.slack.modals import MAX_OPTIONS, bulk_errors, bulk_view, resolve_confirm_view
from bot.slack.names import Names
from bot.slack.sentences import said_all
from bot.victorops.models import Named, Phase, PolicyInfo, Target, User
from tests.mrkdwn_check import live_sequences, plain_texts
from tests.test_blocks import incident

HOSTILE = "<!channel> & <@U0EVIL> <https://evil.example|click> " + "x" * 80


def listing_buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [block] = [b for b in blocks if b.get("block_id") == "listing-actions"]
    elements: list[dict[str, Any]] = block["elements"]
    return elements


def mixed(count: int) -> list[Any]:
    """`count` open incidents, every third acknowledged."""
    return [incident(n, "ACKED" if n % 3 == 0 else "UNACKED") for n in range(1, count + 1)]


def test_the_listing_offers_acknowledge_all_triggered_naming_n_and_select() -> None:
    incidents = mixed(9)  # 6 triggered, 3 acknowledged
    _, blocks = listing_message(ListSpec(r=("database",)), incidents, "/vo")
    ack_all, select, refresh = listing_buttons(blocks)
    assert (ack_all["action_id"], ack_all["text"]["text"]) == (ActionId.ACK_TRIGGERED, "Acknowledge all triggered (6)")
    confirm = ack_all["confirm"]
    assert confirm["title"]["text"] == "Acknowledge 6 triggered incidents?"
    assert "Acknowledge the 6 triggered incidents of this listing" in confirm["text"]["text"]
    assert confirm["confirm"]["text"] == "Acknowledge" and confirm["deny"]["text"] == "Cancel"
    assert (select["action_id"], select["text"]["text"]) == (ActionId.SELECT, "Select…")
    assert refresh["action_id"] == ActionId.REFRESH
    # they carry the listing as drawn (its filter, its cards), never a list of numbers to act on
    carried = ListSpec.decode(ack_all["value"])
    assert carried is not None and carried.r == ("database",) and len(carried.o) == 9
    assert ListSpec.decode(select["value"]) == carried


def test_without_triggered_incidents_only_select_shows_and_an_empty_listing_has_only_refresh() -> None:
    _, acked = listing_message(ListSpec(), [incident(n, "ACKED") for n in range(1, 4)], "/vo")
    assert [b["action_id"] for b in listing_buttons(acked)] == [ActionId.SELECT, ActionId.REFRESH]
    _, empty = listing_message(ListSpec(), [], "/vo")
    assert [b["action_id"] for b in listing_buttons(empty)] == [ActionId.REFRESH]
    _, one = listing_message(ListSpec(), [incident(1)], "/vo")
    assert listing_buttons(one)[0]["confirm"]["title"]["text"] == "Acknowledge 1 triggered incident?"


def test_a_card_on_its_own_has_no_bulk_buttons() -> None:
    _, blocks = incident_list([incident(1)], title="T", empty=".", more_hint=".")
    assert all(b.get("block_id") != "listing-actions" for b in blocks)


@pytest.mark.parametrize("count", [30, 150, 2000])
def test_n_counts_the_whole_listing_and_the_buttons_stay_when_it_is_cut(count: int) -> None:
    incidents = mixed(count)
    text, blocks = listing_message(ListSpec(), incidents, "/vo")
    check_message(blocks, text)
    assert len(blocks) <= MAX_BLOCKS and "more not shown" in text + str(blocks)
    triggered = sum(1 for n in range(1, count + 1) if n % 3)
    assert listing_buttons(blocks)[0]["text"]["text"] == f"Acknowledge all triggered ({triggered})"
    assert blocks[-1]["block_id"] == "listing-actions"  # last, after the line saying how many were left out


def test_a_digest_carries_them_too() -> None:
    _, blocks = listing_message(ListSpec(d="morning"), mixed(5), "/vo")
    assert ListSpec.decode(listing_buttons(blocks)[0]["value"]) is not None
    assert [b["action_id"] for b in listing_buttons(blocks)][:2] == [ActionId.ACK_TRIGGERED, ActionId.SELECT]


# ---- the "Select…" modal -----------------------------------------------------------------------------------

POLICIES = [PolicyInfo(policy=Named(name="Primary", slug="pol-x"), team=Named(name="Ops", slug="team-x"))]
USERS = [User(username="dave", first_name="Dave", last_name="D")]


def view_for(count: int, title: str = "Open incidents") -> dict[str, Any]:
    return bulk_view("t" * 43, title, mixed(count), POLICIES, USERS, {}, "/vo")


def options(view: dict[str, Any], block_id: str) -> list[dict[str, Any]]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    found: list[dict[str, Any]] = block["element"]["options"]
    return found


def test_the_modal_offers_the_open_incidents_and_the_three_actions() -> None:
    view = view_for(5)
    assert [o["value"] for o in options(view, "incidents")] == ["1", "2", "3", "4", "5"]
    assert [o["text"]["text"][:10] for o in options(view, "incidents")][2:4] == ["#3 (acked)", "#4 Disk us"]
    assert [o["value"] for o in options(view, "action")] == ["ack", "resolve", "reroute"]
    assert {b["block_id"] for b in view["blocks"] if b["type"] == "input"} == {
        "incidents",
        "action",
        "note",
        "policy",
        "users",
    }
    assert "showing" not in str(view).lower() and "at most" not in str(view)
    assert view["callback_id"] == "bulk" and view["private_metadata"] == "t" * 43


def test_over_slacks_option_limit_it_says_so_rather_than_cutting_silently() -> None:
    view = view_for(150)
    offered = options(view, "incidents")
    assert len(offered) == MAX_OPTIONS == 100
    assert [o["value"] for o in offered] == [str(n) for n in range(1, 101)]  # the first 100 as given (listed order)
    intro = view["blocks"][0]["text"]["text"]
    assert "This listing has 150 open incidents" in intro and "at most 100" in intro
    assert "`/vo list route:<key>`" in intro


def test_option_text_is_clipped_to_75_and_shown_as_it_is() -> None:
    hostile = incident(7, title=HOSTILE)
    view = bulk_view("t" * 43, HOSTILE, [hostile], POLICIES, USERS, {}, "/vo")
    [option] = options(view, "incidents")
    assert len(option["text"]["text"]) == 75 and option["text"]["text"].startswith("#7 <!channel> & <@U0EVIL>")
    assert option["text"]["type"] == "plain_text"  # Slack parses nothing there: no ping, no link
    assert option["text"]["text"] in list(plain_texts(view))
    assert live_sequences(view) == []  # the title, shown in mrkdwn, is escaped


def values(numbers: list[str], action: str | None = "ack", note: str = "") -> dict[str, Any]:
    picked = [{"text": {"type": "plain_text", "text": f"#{n}"}, "value": n} for n in numbers]
    chosen = {"value": action} if action else None
    return {
        "incidents": {"incidents": {"type": "multi_static_select", "selected_options": picked}},
        "action": {"action": {"type": "static_select", "selected_option": chosen}},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }


def test_a_submission_is_read_strictly() -> None:
    offered = ("1", "2", "3")
    assert bulk_errors(values(["1", "3", "1"], "resolve", " done "), offered) == (["1", "3"], Verb.RESOLVE, "done", {})
    _, _, _, errors = bulk_errors(values(["1", "999"]), offered)
    assert "#999: not among the incidents offered here, so nothing was sent" in errors["incidents"]
    assert "#1" not in errors["incidents"]
    assert "incidents" in bulk_errors(values(["1; DROP"]), offered)[3]
    _, verb, _, errors = bulk_errors(values(["1"], "delete"), offered)
    assert verb is None and errors == {"action": "Pick what to do: acknowledge, resolve or reroute."}
    assert "keep it to 500" in bulk_errors(values(["1"], "ack", "x" * 501), offered)[3]["note"]
    assert bulk_errors({"incidents": "nonsense"}, offered)[3]["incidents"] == "Pick at least one incident."


def test_resolve_is_confirmed_naming_the_incidents() -> None:
    view = resolve_confirm_view("t" * 43, [incident(1, title=HOSTILE), incident(2)], ["1", "2"])
    text = view["blocks"][0]["text"]["text"]
    assert text.startswith("Resolve these 2 incidents in VictorOps?") and "*#2* Disk usage" in text
    assert live_sequences(view) == []
    assert view["submit"]["text"] == "Resolve" and view["close"]["text"] == "Back"


# ---- the outcome, in one message -----------------------------------------------------------------------

ME = Names(viewer="U0ALICE")


def test_the_outcome_names_what_was_done_skipped_and_failed() -> None:
    outcomes = [
        *(Outcome(str(n), Did(Verb.ACK, "U0ALICE")) for n in (1, 2, 4)),
        Outcome("3", Already(Phase.ACKED, "bob")),
        Outcome("7", Already(Phase.ACKED)),
        Outcome("8", NotOpen()),
        Outcome("9", Refused(Verb.ACK, "Incident is <locked>")),
        Outcome("10", Silent()),
    ]
    text = said_all(outcomes, ME)
    assert text.startswith("Acknowledged 3 incidents by you: #1, #2 and #4.")
    assert "#3 and #7 were already acknowledged: skipped." in text
    assert "#8 is not open in VictorOps" in text and "skipped" in text
    assert "VictorOps did not ack #9: Incident is &lt;locked&gt;." in text
    assert "VictorOps said nothing about #10" in text


def test_a_long_outcome_names_the_first_forty_and_how_many_more() -> None:
    text = said_all([Outcome(str(n), Did(Verb.RESOLVE, "U0ALICE")) for n in range(1, 101)], ME)
    assert text.startswith("Resolved 100 incidents by you: #1, #2") and "#40 and 60 more." in text


def test_queued_and_rerouted_outcomes() -> None:
    queued = said_all([Outcome(n, Queued(42, "6/minute")) for n in ("1", "2")], ME)
    assert queued.startswith("Queued #1 and #2: VictorOps allows 6/minute") and "about 42 s" in queued
    to = (Target(type="EscalationPolicy", slug="pol-x"),)
    names = Names(policies={"pol-x": "Primary"}, viewer="U0ALICE")
    rerouted = said_all([Outcome(n, Did(Verb.REROUTE, "U0ALICE", to)) for n in ("1", "2")], names)
    assert rerouted == "Rerouted 2 incidents to Primary by you: #1 and #2."
    single = said_all([Outcome("1", Did(Verb.ACK, "U0ALICE"))], ME)
    assert single == "Acknowledged by you."  # one incident: the card's own sentence
