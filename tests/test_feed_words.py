"""The live feed in words: thread lines, the rolled-up message, and the card a channel reads."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.feed import Feed
from bot.core.feeds import Moved, Rerouted
from bot.slack.blocks import card, card_text
from bot.slack.names import Names
from bot.slack.sentences import rolled_up, thread_line
from bot.victorops.models import Incident, Phase, Target

NAMES = Names(
    slack_ids={"heidi": "U0HEIDI", "alice": "U0ALICE"}, full_names={"bob": "Bob <b>"}, policies={"ops": "Ops Primary"}
)


def test_thread_lines_name_who_and_from_where() -> None:
    assert (
        thread_line(Moved(Phase.ACKED, "heidi", from_slack=False), NAMES) == "Acknowledged by <@U0HEIDI> (VictorOps)."
    )
    assert thread_line(Moved(Phase.RESOLVED, "bob", from_slack=True), NAMES) == "Resolved by Bob &lt;b&gt; (Slack)."
    assert thread_line(Moved(Phase.RESOLVED, None, from_slack=False), NAMES) == "Resolved (VictorOps)."
    rerouted = Rerouted("U0ALICE", (Target(type="EscalationPolicy", slug="ops"), Target(type="User", slug="heidi")))
    assert thread_line(rerouted, NAMES) == "Rerouted to Ops Primary, <@U0HEIDI> by <@U0ALICE>."


def test_the_rolled_up_message_lists_the_rest_with_the_configured_command() -> None:
    numbers = tuple(str(n) for n in range(201, 215))
    text = rolled_up(Feed("C1", routes=("db",)), numbers, "/oncall")
    assert text.endswith(
        "14 more incidents triggered on route db: " + " ".join(f"#{n}" for n in numbers) + " — `/oncall list route:db`"
    )
    assert rolled_up(Feed("C1"), ("7",), "/vo").endswith("1 more incident triggered: #7 — `/vo list`")
    many = rolled_up(Feed("C1", teams=("<!here>",)), tuple(str(n) for n in range(1000)), "/vo")
    assert "#394 … #995" in many and "<!here>" not in many and len(many) < 4000


def test_a_feed_card_pings_the_paged_people_who_are_linked() -> None:
    incident = Incident(
        incident_number="7", current_phase=Phase.UNACKED, start_time=datetime(2026, 11, 26, tzinfo=UTC),
        paged_users=["alice", "bob"],
    )  # fmt: skip
    assert "Paging <@U0ALICE>, Bob &lt;b&gt;" in card_text(incident, NAMES)
    assert "Paging <@U0ALICE>" in str(card(incident, names=NAMES))
