"""Text from outside reaches people as text, never as a ping: decoding on the way in, escaping on the way out,
and every renderer fed a corpus of Slack's control sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.actions import already_done
from bot.core.dispatch import failure
from bot.core.errors import ActionError, MayHaveCreated, UnknownActor
from bot.core.identity import Configured, NoSuchUser, Taken
from bot.core.outcomes import Did, NotOpen, Outcome, Queued, Refused, Said, Verb
from bot.core.targets import NoSuchPolicy, NoSuchTarget
from bot.sim.slack_driver import typed_as_slack_sends
from bot.slack import grammar as g
from bot.slack.blocks import ListSpec, card, incident_list, outcomes_message, sentence
from bot.slack.cards import listing_message
from bot.slack.errors import explain
from bot.slack.modals import create_errors, create_view, picked_targets, reroute_view
from bot.slack.mrkdwn import escape
from bot.slack.names import Names, when
from bot.slack.replies import history_message, oncall_message
from bot.slack.sentences import said
from bot.slack.typed import decode
from bot.victorops import errors
from bot.victorops.models import (
    HistoryPage,
    Incident,
    Named,
    OnCallEntry,
    OnCallPolicy,
    PagedPolicy,
    PolicyInfo,
    Target,
    TeamOnCall,
    Transition,
    User,
)
from tests.mrkdwn_check import live_sequences, plain_texts

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CORPUS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@ops>",
    "<@U0ALICE>",
    "<#C0OPS>",
    "<https://evil.example|click>",
    "&amp;",
    "a > b & c < d",
]
LINK = "https://portal.victorops.com/ui/acme/incident/7/details"
BUILT = "U0BUILT"  # the only Slack user the bot itself mentions in these messages
# the Slack user the bot itself mentions, and the moments it writes as date tokens
ALLOWED = (f"<{LINK}|#7>", f"<@{BUILT}>", when(NOW), when(NOW - timedelta(minutes=30)))


# ---- pure functions ----------------------------------------------------------------------------------------


@given(st.text())
def test_decoding_what_slack_sends_gives_back_what_was_typed(typed: str) -> None:
    assert decode(escape(typed)) == typed


@given(st.text())
def test_escaped_text_holds_no_control_character_and_changes_only_them(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert (escaped == text) == (not any(c in text for c in "&<>"))
    assert escape(escaped) != escaped or escaped == text  # escaping twice shows the entities: done once only


@given(st.text(alphabet=st.characters(blacklist_characters="<")))
def test_the_driver_sends_typed_text_as_slack_does(typed: str) -> None:
    assert typed_as_slack_sends(typed) == escape(typed)
    assert decode(typed_as_slack_sends(typed)) == typed


@pytest.mark.parametrize(
    ("sent", "readable"),
    [
        ("latency &gt; 2s &amp; rising", "latency > 2s & rising"),
        ("&amp;amp;", "&amp;"),
        ("<@U0DANA|dana> and <@U0BOB>", "@dana and @U0BOB"),
        ("<#C0OPS|ops> <#C0DB>", "#ops #C0DB"),
        ("<!channel> <!here|here> <!everyone>", "@channel @here @everyone"),
        ("<!subteam^S0123|@ops> <!subteam^S9>", "@ops @S9"),
        ("<https://evil.example|click> <https://ok.example>", "click (https://evil.example) https://ok.example"),
        ("<http://example.com|example.com> <mailto:a@b.example|a@b.example>", "example.com a@b.example"),
        ("<https://x.example/?a=1&amp;b=2>", "https://x.example/?a=1&b=2"),
    ],
)
def test_mentions_and_links_in_free_text_become_readable(sent: str, readable: str) -> None:
    assert decode(sent) == readable


def parsed(text: str) -> g.Command | g.ParseError:
    return g.parse(typed_as_slack_sends(text), now=NOW)


def test_free_text_reaches_the_command_as_typed() -> None:
    assert parsed("create latency > 2s & rising : p99 < 3s & climbing") == g.Create(
        summary="latency > 2s & rising", details="p99 < 3s & climbing"
    )
    assert parsed("ack 42 : on it <@U0DANA|dana> & <!here>") == g.Ack(numbers=("42",), message="on it @dana & @here")
    assert parsed("create <!channel> db down to <@U0DAVE> public") == g.Create(
        summary="@channel db down", targets=(g.Target("slack", "U0DAVE"),), public=True
    )
    assert parsed("oncall Ops & DB") == g.OnCall(team="Ops & DB")
    assert parsed("list route:a&b") == g.ListIncidents(routes=("a&b",))


def test_the_summary_limit_counts_characters_as_typed() -> None:
    assert isinstance(parsed("create " + "&" * 255), g.Create)  # 1275 characters as Slack sends them


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ack 42 : " + "x" * 501, "The message is 501 characters; keep it to 500"),
        ("resolve mine : " + "x" * 501, "The message is 501 characters; keep it to 500"),
        ("create db down : " + "x" * 3001, "The details after `:` are 3001 characters; keep them to 3000"),
    ],
)
def test_messages_and_details_have_limits(text: str, says: str) -> None:
    result = parsed(text)
    assert isinstance(result, g.ParseError) and says in result.message


@pytest.mark.parametrize("hostile", CORPUS)
def test_parse_errors_quote_input_without_pinging(hostile: str) -> None:
    for text in (hostile, f"ack {hostile}", f"list {hostile}", f"reroute 4 to x{hostile}", f"digest {hostile}"):
        result = parsed(text)
        assert isinstance(result, g.ParseError), text
        assert live_sequences(sentence(result.message), top_text=result.message) == []


def test_the_core_limits_hold_whatever_the_path() -> None:
    from bot.core.actions import check_lengths

    with pytest.raises(ActionError) as refused:
        check_lengths(summary="x" * 256)
    assert "That summary is 256 characters" in explain(refused.value, "/vo")
    check_lengths(summary="x" * 255, details="y" * 3000, note="z" * 500)


# ---- the renderers ---------------------------------------------------------------------------------------


def hostile_incident(text: str, phase: str = "ACKED") -> Incident:
    return Incident(
        incident_number="7",
        start_time=NOW - timedelta(minutes=30),
        current_phase=phase,  # type: ignore[arg-type]
        entity_display_name=text,
        routing_key=text,
        paged_users=[text] if phase == "UNACKED" else [],
        paged_policies=[PagedPolicy(policy=Named(name=text, slug="pol-x"), team=Named(name=text, slug="team-x"))],
        transitions=[] if phase == "UNACKED" else [Transition(name=phase, at=NOW, by=text, message=text)],
        incident_link=LINK,
    )


NO_NAMES = Names()
REROUTED = (
    Target(type="User", slug="dana"),
    Target(type="User", slug="linked"),
    Target(type="EscalationPolicy", slug="pol-x"),
)


def hostile_names(text: str) -> Names:
    """Names as VictorOps and the links have them, VictorOps' full and policy names hostile."""
    return Names(slack_ids={"linked": BUILT}, full_names={"dana": text, text.lower(): text}, policies={"pol-x": text})


def core_notes(text: str) -> list[str]:
    """Sentences the Slack layer writes from the core's facts around outside text, as cards and replies show them."""
    already = already_done(hostile_incident(text, "RESOLVED"), Verb.ACK)
    assert already is not None
    return [
        said(Outcome("7", already), NO_NAMES),
        said(Outcome(text, NotOpen()), NO_NAMES),
        said(Outcome(text, Refused(Verb.ACK, text)), NO_NAMES),
        said(Outcome("7", Queued(40, text)), NO_NAMES),
        said(Outcome("7", Did(Verb.REROUTE, BUILT, (Target(type="User", slug=text),))), NO_NAMES),
        said(Outcome("7", Did(Verb.REROUTE, BUILT, (Target(type="EscalationPolicy", slug=text),))), NO_NAMES),
        said(Outcome("7", Did(Verb.REROUTE, BUILT, REROUTED)), hostile_names(text)),
        said(Outcome(text, Did(Verb.CREATE, BUILT)), NO_NAMES),
        said(Outcome("7", Said(f"Acknowledged by <@{BUILT}>.", True)), NO_NAMES),  # as an older version stored it
        explain(UnknownActor(text), "/vo"),
        explain(failure(errors.BadRequest(text)), "/vo"),
        explain(errors.BadRequest(text), "/vo"),
        explain(errors.NotFound(text), "/vo"),
        explain(MayHaveCreated(text), "/vo"),
        explain(NoSuchUser(text), "/vo"),
        explain(NoSuchTarget(text), "/vo"),
        explain(NoSuchPolicy(text), "/vo"),
        explain(Configured(BUILT, text, BUILT), "/vo"),
        explain(Taken(text, BUILT, (BUILT,)), "/vo"),
        explain(ActionError(f"Acknowledged by <@{BUILT}>."), "/vo"),
    ]


def rendered(text: str) -> list[tuple[str, Any, str | None]]:
    """(what, blocks or view, top-level text) for every renderer, with `text` in every outside field."""
    out: list[tuple[str, Any, str | None]] = []
    for phase in ("UNACKED", "ACKED", "RESOLVED"):
        incident = hostile_incident(text, phase)
        for note in core_notes(text):
            out.append((f"card {phase}", card(incident, note), None))
            out.append((f"named card {phase}", card(incident, note, names=hostile_names(text)), None))
        spec = ListSpec(s="open", r=(text,), t=(text,), d="morning")
        title, blocks = listing_message(spec, [incident] * 60, "/vo", names=hostile_names(text))
        out.append((f"digest {phase}", blocks, title))
        title, blocks = incident_list([incident], title=text, empty=".", more_hint=".", listing=ListSpec(o=("7",)))
        out.append((f"list {phase}", blocks, title))
        title, blocks = history_message(HistoryPage(total=1, incidents=[incident]), 1, "/vo")
        out.append((f"history {phase}", blocks, title))
    outcomes = [Outcome("7", Said(note, False), hostile_incident(text)) for note in core_notes(text)]
    out.append(("outcomes", *reversed(outcomes_message(outcomes))))
    done = Outcome("7", Did(Verb.REROUTE, BUILT, REROUTED), hostile_incident(text))
    out.append(("named outcome", *reversed(outcomes_message([done], hostile_names(text).seen_by("U0ME")))))
    for note in core_notes(text):
        out.append(("outcome", *reversed(outcomes_message([Outcome("", Said(note, False))]))))
    team = TeamOnCall(
        team=Named(name=text, slug="team-x"),
        oncall_now=[
            OnCallPolicy(
                escalation_policy=Named(name=text, slug="pol-x"),
                users=[OnCallEntry.model_validate({"onCalluser": {"username": text}})],
            )
        ],
    )
    for wanted in (None, text, "nothing-matches"):
        title, blocks = oncall_message([team], wanted, "/vo")
        out.append(("oncall", blocks, title))
    policies = [PolicyInfo(policy=Named(name=text, slug="pol-x"), team=Named(name=text, slug="team-x"))]
    users = [User(username="dana", first_name=text, last_name=text)]
    who = {"team-x": [text]}
    out.append(("reroute modal", reroute_view("token", [hostile_incident(text)], policies, users, who), None))
    out.append(("create modal", create_view("token", policies, users, who, "`you`"), None))
    return out


@pytest.mark.parametrize("hostile", CORPUS)
def test_no_renderer_lets_input_ping_or_link(hostile: str) -> None:
    for what, shown, top in rendered(hostile):
        assert live_sequences(shown, top_text=top, allowed=ALLOWED) == [], what


@pytest.mark.parametrize("hostile", CORPUS)
def test_plain_text_shows_input_as_typed(hostile: str) -> None:
    confirm = card(hostile_incident(hostile, "UNACKED"))[-1]["elements"][1]["confirm"]
    assert confirm["text"] == {"type": "plain_text", "text": f"Resolve #7 {hostile} in VictorOps?"}
    policies = [PolicyInfo(policy=Named(name=hostile, slug="pol-x"))]
    view = reroute_view("token", [], policies, [User(username="dana", first_name=hostile)], {})
    shown = list(plain_texts(view))
    assert hostile in shown and f"{hostile} (dana)" in shown
    _, blocks = incident_list([], title=hostile, empty=".", more_hint=".")
    assert blocks[0]["text"]["text"] == hostile  # a header is plain_text


def test_escaping_happens_once() -> None:
    text = card(hostile_incident("a > b & c < d", "ACKED"), "Acknowledged.")[0]["text"]["text"]
    assert "a &gt; b &amp; c &lt; d" in text and "&amp;amp;" not in text and "&amp;gt;" not in text


# ---- modal submissions -----------------------------------------------------------------------------------


def state(policy: str | None = None, users: list[str] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if policy is not None:
        values["policy"] = {"policy": {"type": "static_select", "selected_option": {"value": policy}}}
    if users is not None:
        options = [{"value": u} for u in users]
        values["users"] = {"users": {"type": "multi_static_select", "selected_options": options}}
    return values


def test_picked_targets_must_have_victorops_shapes() -> None:
    assert picked_targets(state("pol-AbCd", ["dana", "bob.martinez"])) == (
        [("policy", "pol-AbCd"), ("user", "dana"), ("user", "bob.martinez")],
        {},
    )
    _, found = picked_targets(state("../../x", ["dana"]))
    assert set(found) == {"policy"}
    _, found = picked_targets(state(None, ["dana", "../../x"]))
    assert set(found) == {"users"}
    _, found = picked_targets({"users": {"users": {"selected_options": "dana"}}, "policy": []})
    assert set(found) == {"users"}


def test_the_create_modal_keeps_the_commands_limits() -> None:
    assert create_errors("db down", "x" * 3000) == {}
    assert set(create_errors("x" * 10_000, "y" * 3001)) == {"summary", "details"}
    assert "10000 characters; keep it to 255" in create_errors("x" * 10_000, None)["summary"]
    assert set(create_errors("", None)) == {"summary"}
