"""The App Home view (bot.slack.home): pure, facts in and a `home` view out, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from bot.core.home import HomeFacts, TeamFacts
from bot.slack.blocks import ActionId
from bot.slack.home import MAX_HOME_BLOCKS, MAX_NOTICE, REFRESH, clip_mrkdwn, home_failed, home_view
from bot.slack.names import Names
from bot.victorops.models import Incident, Phase, Team, Transition
from tests.memory import NOW
from tests.mrkdwn_check import live_sequences

NAMES = Names(slack_ids={"bob": "U0BOB", "alice": "U0ALICE"}, full_names={"bob": "Bob Martinez"}, viewer="U0BOB")


def incident(number: str, phase: Phase = Phase.UNACKED, title: str = "Disk full", by: str | None = None) -> Incident:
    transitions = [Transition(name=phase.value, at=NOW, by=by)] if by else []
    return Incident(
        incident_number=number,
        current_phase=phase,
        entity_display_name=title,
        paged_users=["bob"] if phase is Phase.UNACKED else [],
        transitions=transitions,
    )


def text(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def actions(view: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_linked_person_sees_who_they_are_their_incidents_teams_and_refresh() -> None:
    facts = HomeFacts(
        "U0BOB",
        "bob",
        paging=(incident("7"),),
        acked=(incident("8", Phase.ACKED, by="bob"),),
        teams=(TeamFacts(Team(name="Ops", slug="team-ops"), ("alice", "carol"), triggered=2, acked=1),),
    )
    view = home_view(facts, "/vo", NAMES)
    shown = text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_HOME_BLOCKS
    assert "You are *bob* (Bob Martinez) in VictorOps." in shown
    assert "*Paging you* (1)" in shown and "*Acknowledged by you* (1)" in shown
    assert "• *Ops* — on call: <@U0ALICE>, carol · 2 triggered, 1 acknowledged" in shown
    assert actions(view) == [
        ActionId.ACK,
        ActionId.RESOLVE,
        ActionId.REROUTE,
        ActionId.RESOLVE,
        ActionId.REROUTE,
        REFRESH,
    ]
    assert "Acknowledged by you," in shown  # the card names the viewer as "you"


def test_nothing_paging_and_no_team_are_said() -> None:
    shown = text(home_view(HomeFacts("U0BOB", "bob"), "/vo", NAMES))
    assert shown.count("None right now.") == 2 and "You are in no VictorOps team." in shown


def test_teams_not_known_yet_say_so() -> None:
    assert "press Refresh in a minute" in text(home_view(HomeFacts("U0BOB", "bob", teams_pending=True), "/vo", NAMES))


def test_teams_known_so_far_are_shown_with_more_still_loading_and_on_call_unknown() -> None:
    ops = TeamFacts(Team(name="Ops", slug="team-ops"), None, triggered=1, acked=0)
    shown = text(home_view(HomeFacts("U0BOB", "bob", teams=(ops,), teams_pending=True), "/vo", NAMES))
    assert "*Ops* — on call: not known right now · 1 triggered" in shown and "press Refresh in a minute" in shown


def test_the_notice_says_what_just_happened_at_the_top() -> None:
    view = home_view(HomeFacts("U0BOB", "bob"), "/vo", NAMES, notice="Acknowledged #7.")
    assert view["blocks"][1]["block_id"] == "home-notice" and "Acknowledged #7." in text(view["blocks"][1])


def test_an_unlinked_person_sees_the_link_prompt_and_refresh_only() -> None:
    prompt = [{"type": "section", "text": {"type": "mrkdwn", "text": "You are not linked…"}}]
    view = home_view(HomeFacts("U0ERIN", None), "/vo", NAMES, link_prompt=prompt)
    assert view["blocks"][1:] == [*prompt, view["blocks"][-1]] and actions(view) == [REFRESH]


def test_text_from_victorops_is_escaped() -> None:
    hostile = "<!channel> <@U0CEO> <https://evil.example|click> & co"
    facts = HomeFacts(
        "U0BOB",
        "b<!here>",
        paging=(incident("7", title=hostile),),
        teams=(TeamFacts(Team(name="<!everyone>", slug="t"), ("<@U0X>",), 1, 0),),
    )
    view = home_view(facts, "/vo", Names(viewer="U0BOB"))
    assert live_sequences(view["blocks"], allowed=["<https://"]) == []


def test_many_incidents_fill_the_view_and_the_rest_are_counted() -> None:
    paging = tuple(incident(str(n)) for n in range(1, 81))
    acked = tuple(incident(str(n), Phase.ACKED, by="bob") for n in range(100, 130))
    view = home_view(HomeFacts("U0BOB", "bob", paging=paging, acked=acked), "/vo", NAMES)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    cards = [b for b in view["blocks"] if b.get("block_id", "").startswith("inc-") and b["type"] == "section"]
    shown = text(view)
    assert f"…and {80 - len(cards)} more not shown. `/vo ack mine` acknowledges them all." in shown
    assert "…and 30 more not shown. `/vo list mine` lists them all." in shown
    assert actions(view)[-1] == REFRESH


def test_a_failure_is_one_sentence_and_refresh() -> None:
    view = home_failed("VictorOps is not answering right now; try again in a minute.")
    assert "VictorOps is not answering" in text(view) and actions(view) == [REFRESH] and view["type"] == "home"


def test_a_long_notice_is_clipped_without_breaking_a_mention_or_an_entity() -> None:
    assert clip_mrkdwn("ab <@U0BOB> cd", 8) == "ab …"
    assert clip_mrkdwn("ab &amp; cd", 6) == "ab …"
    assert clip_mrkdwn("ab &amp; cd", 10) == "ab &amp; …"
    assert clip_mrkdwn("short", 10) == "short"
    notice = "Acknowledged " + "<@U0BOB> &amp; " * 300
    shown = home_view(HomeFacts("U0BOB", "bob"), "/vo", NAMES, notice=notice)["blocks"][1]["elements"][0]["text"]
    assert len(shown) <= MAX_NOTICE and shown.endswith("&amp; …")
