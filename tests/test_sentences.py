"""The core states facts and the Slack layer words them (pure, milliseconds): each outcome and each refusal as
its sentence, for the person who alone reads it ("you") and for a channel, with the configured command; what
an older version stored (a ready sentence) still reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.actions import already_done, check_lengths
from bot.core.errors import (
    ActionError,
    Lost,
    MayHaveCreated,
    NotSent,
    RerouteNotFound,
    StorageBusy,
    TooLong,
    UnknownActor,
    VictorOpsRefused,
    failure_json,
    failure_of,
)
from bot.core.identity import (
    AdminOnly,
    Configured,
    EmailUnproven,
    NoSuchUser,
    NotAdmin,
    NothingToUnlink,
    Taken,
    Unproven,
)
from bot.core.outcomes import (
    Already,
    Did,
    NotOpen,
    Outcome,
    Queued,
    Refused,
    Said,
    Silent,
    Verb,
    outcomes_of,
    plain,
    stored,
    summary,
)
from bot.core.posting import TooSoon
from bot.core.targets import NoSuchPolicy, NoSuchTarget, TargetNotLinked
from bot.slack.errors import explain
from bot.slack.names import Names
from bot.slack.sentences import said
from bot.victorops.models import Incident, Phase, Target, Transition

ME = "U0ALICE"
NAMES = Names(
    slack_ids={"heidi": "U0HEIDI", "alice": ME},
    full_names={"gkim": "Grace Kim", "heidi": "Heidi Schmidt"},
    policies={"pol-x": "Ops Primary"},
)
TARGETS = (Target(type="EscalationPolicy", slug="pol-x"), Target(type="User", slug="heidi"),
           Target(type="User", slug="gkim"))  # fmt: skip


def alike(outcome: Outcome, sentence: str) -> tuple[Outcome, str, str]:
    """An outcome that names nobody in Slack reads the same for everyone."""
    return outcome, sentence, sentence


QUEUED = (
    "Queued: VictorOps allows 6/minute and that is in use right now, so this goes out in {}. "
    "It will show here when it lands."
)
# (what the core says, the sentence for Alice alone, the sentence for a channel)
OUTCOMES: list[tuple[Outcome, str, str]] = [
    (Outcome("7", Did(Verb.ACK, ME)), "Acknowledged by you.", "Acknowledged by <@U0ALICE>."),
    (Outcome("7", Did(Verb.RESOLVE, ME)), "Resolved by you.", "Resolved by <@U0ALICE>."),
    (
        Outcome("7", Did(Verb.REROUTE, ME, TARGETS)),
        "Rerouted to Ops Primary, <@U0HEIDI>, Grace Kim by you.",
        "Rerouted to Ops Primary, <@U0HEIDI>, Grace Kim by <@U0ALICE>.",
    ),
    alike(Outcome("12", Did(Verb.CREATE, ME)), "Created #12 for <@U0ALICE>."),
    alike(Outcome("7", Already(Phase.ACKED, "bob")), "#7 was already acknowledged by bob."),
    alike(Outcome("7", Already(Phase.RESOLVED)), "#7 was already resolved."),
    alike(
        Outcome("7", NotOpen()),
        "#7 is not an open incident in VictorOps: it may be resolved already, or the number is wrong.",
    ),
    alike(Outcome("7", Refused(Verb.ACK, "closed <now>")), "VictorOps did not ack #7: closed &lt;now&gt;."),
    alike(Outcome("7", Refused(Verb.REROUTE)), "VictorOps did not reroute #7: no reason given."),
    alike(Outcome("7", Silent()), "VictorOps said nothing about #7; check it in VictorOps."),
    alike(Outcome("7", Queued(40.2, "6/minute")), QUEUED.format("about 40 s")),
    alike(Outcome("", Queued(300, "6/minute")), QUEUED.format("about 5 min")),
    alike(Outcome("7", Said("Acknowledged by <@U0BOB>.", True)), "Acknowledged by <@U0BOB>."),  # an older version's
]


@pytest.mark.parametrize(("outcome", "for_me", "for_channel"), OUTCOMES)
def test_each_outcome_in_words(outcome: Outcome, for_me: str, for_channel: str) -> None:
    assert said(outcome, NAMES.seen_by(ME)) == for_me
    assert said(outcome, NAMES) == for_channel


@pytest.mark.parametrize(("outcome", "for_me", "for_channel"), OUTCOMES)
def test_stored_outcomes_read_back_as_the_same_facts(outcome: Outcome, for_me: str, for_channel: str) -> None:
    [back] = outcomes_of({"outcomes": [stored(outcome)]})
    assert back == outcome and said(back, NAMES.seen_by(ME)) == for_me
    assert "<@" not in plain(outcome) or isinstance(outcome.why, Said)  # the audit log holds IDs, not mentions


def test_results_stored_by_an_older_version_still_read() -> None:
    """Today's shape before the facts: a ready sentence in "note", and for what the action did its "did"."""
    result: dict[str, Any] = {
        "outcomes": [
            {"n": "7", "done": True, "note": "Acknowledged by <@U0ALICE>.", "did": {"verb": "ack", "by": ME, "to": []}},
            {
                "n": "8",
                "done": True,
                "note": "Rerouted #8 by <@U0ALICE>.",
                "did": {"verb": "reroute", "by": ME, "to": [t.wire() for t in TARGETS]},
            },
            {"n": "9", "done": False, "note": "VictorOps did not ack #9: closed."},
            {"n": "12", "done": True, "note": "Created #12 for <@U0ALICE>."},
        ],
        "created": "12",
    }
    outcomes = outcomes_of(result)
    assert [(o.number, o.done) for o in outcomes] == [("7", True), ("8", True), ("9", False), ("12", True)]
    assert [said(o, NAMES.seen_by(ME)) for o in outcomes] == [
        "Acknowledged by you.",
        "Rerouted to Ops Primary, <@U0HEIDI>, Grace Kim by you.",
        "VictorOps did not ack #9: closed.",
        "Created #12 for <@U0ALICE>.",
    ]
    assert summary(outcomes) == "partial"


def test_already_done_states_who_did_it() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    acked = Incident(
        incident_number="7", current_phase=Phase.ACKED, transitions=[Transition(name="ACKED", at=at, by="bob")]
    )
    assert already_done(acked, Verb.ACK) == Already(Phase.ACKED, "bob")
    assert already_done(acked, Verb.RESOLVE) is None  # still to be resolved
    assert already_done(Incident(incident_number="7", current_phase=Phase.UNACKED), Verb.ACK) is None


ADMINS = ("U0ADMIN1", "U0ADMIN2")
NAMED = "<@U0ADMIN1>, <@U0ADMIN2>"
# (the core's refusal, its sentence with `/vo`); every `/vo` becomes `/oncall` when the command is renamed
REFUSALS: list[tuple[ActionError, str]] = [
    (TooLong("summary", 256, 255), "That summary is 256 characters; VictorOps gets at most 255, so shorten it."),
    (
        TooSoon("digest", 1, 42),
        "A digest was posted here with `/vo digest now` less than a minute ago; it is just above, "
        "or try again in about 42 s.",
    ),
    (
        TooSoon("public", 5, 12),
        "You posted 5 public replies here in the last minute, so this answer is only for you; "
        "`public` works again in about 12 s.",
    ),
    (
        NoSuchPolicy("pol-q"),
        "VictorOps has no escalation policy `pol-q`; leave the target out to pick one from a list.",
    ),
    (
        TargetNotLinked("U0DANA"),
        "<@U0DANA> is not linked to a VictorOps user; name them as `user:<victorops-username>` instead.",
    ),
    (NoSuchTarget("dnaa"), "VictorOps has no user `dnaa`; check the spelling with `/vo oncall`."),
    (
        UnknownActor("alice"),
        "VictorOps has no user `alice`, which is who you are linked to; ask an admin to correct your link.",
    ),
    (
        RerouteNotFound(),
        "VictorOps did not find a user or policy of this reroute; pick targets from the reroute list, "
        "and check your own link with `/vo whoami`.",
    ),
    (VictorOpsRefused("VictorOps refused: a < b"), "VictorOps refused: a &lt; b"),
    (
        MayHaveCreated("Disk <full>"),
        "VictorOps never confirmed creating “Disk &lt;full&gt;”, so it may have been created: "
        "look for it in the incident list or in VictorOps before creating it again.",
    ),
    (NotSent(), "vobot could not send it; try again"),
    (Lost(), "The action was lost; try again."),
    (
        StorageBusy(),
        "vobot's database is busy (another write held it too long), so nothing was done; "
        "try again in a minute, and tell your vobot admin if it keeps happening.",
    ),
    (NotAdmin(AdminOnly.LINK_OTHERS, ADMINS), f"Only vobot admins can link other people: {NAMED}."),
    (NotAdmin(AdminOnly.UNLINK_OTHERS, ADMINS), f"Only vobot admins can unlink other people: {NAMED}."),
    (
        NotAdmin(AdminOnly.DIGESTS, ()),
        "Only vobot admins can add or remove digests: nobody yet (set `admins:` or VOBOT_ADMINS).",
    ),
    (
        Configured(ME, "alice", ME),
        "You are mapped to `alice` in vobot's configuration file (`users:`), which only an edit of that file "
        "can change.",
    ),
    (
        Configured(ME, "alice", "U0ADMIN1"),
        "<@U0ALICE> is mapped to `alice` in vobot's configuration file (`users:`), which only an edit of that "
        "file can change.",
    ),
    (
        Taken("heidi", "U0HEIDI", ADMINS),
        f"`heidi` is already linked to <@U0HEIDI>; an admin ({NAMED}) can unlink them first if that is wrong.",
    ),
    (
        Taken("heidi", None, ()),
        "`heidi` is already linked to another Slack user; an admin (nobody yet (set `admins:` or VOBOT_ADMINS)) "
        "can unlink them first if that is wrong.",
    ),
    (
        EmailUnproven("frank", Unproven.NO_EMAIL, ADMINS),
        f"Slack did not tell vobot your email, so it cannot check that `frank` is you; ask an admin ({NAMED}) "
        "to link you.",
    ),
    (
        EmailUnproven("frank", Unproven.OTHER_EMAIL, ADMINS),
        "Your Slack email does not match VictorOps user `frank`'s, so vobot cannot tell it is you; "
        f"ask an admin ({NAMED}) to link you.",
    ),
    (
        EmailUnproven("frank", Unproven.SHARED_EMAIL, ADMINS),
        "Another Slack user has your Slack email too, so it does not prove that `frank` is you; "
        f"ask an admin ({NAMED}) to link you.",
    ),
    (NoSuchUser("frnak"), "VictorOps has no user `frnak`; check the spelling of the username."),
    (
        NothingToUnlink(ME, ME),
        "You are not linked to a VictorOps user; there is nothing to unlink.",
    ),
    (
        NothingToUnlink(ME, "U0ADMIN1"),
        "<@U0ALICE> is not linked to a VictorOps user; there is nothing to unlink.",
    ),
    (ActionError("Slack did not say who clicked; try again."), "Slack did not say who clicked; try again."),
]


@pytest.mark.parametrize(("error", "sentence"), REFUSALS)
def test_each_refusal_in_words_with_the_configured_command(error: ActionError, sentence: str) -> None:
    assert explain(error, "/vo") == sentence
    assert explain(error, "/oncall") == sentence.replace("`/vo ", "`/oncall ")
    if type(error) is not ActionError:
        assert "<@" not in str(error) and "/vo" not in str(error)  # the core's facts, for logs: no words


def test_the_core_checks_lengths_as_facts() -> None:
    with pytest.raises(TooLong) as refused:
        check_lengths(note="x" * 501)
    assert (refused.value.what, refused.value.length, refused.value.limit) == ("message", 501, 500)


@pytest.mark.parametrize(
    "error", [UnknownActor("alice"), RerouteNotFound(), VictorOpsRefused("no"), MayHaveCreated("db"), NotSent()]
)
def test_a_queued_action_fails_with_facts_that_read_back(error: ActionError) -> None:
    back = failure_of({"failed": failure_json(error)}, str(error))
    assert type(back) is type(error) and explain(back, "/oncall") == explain(error, "/oncall")


def test_failures_stored_by_an_older_version_still_read() -> None:
    sentence = "VictorOps has no user `alice`, which is who you are linked to; ask an admin to correct your link."
    assert explain(failure_of(None, sentence), "/vo") == sentence  # a ready sentence, shown as it was
    assert isinstance(failure_of(None, None), Lost)
    said_before = failure_of({"failed": failure_json(ActionError("Stated <@U0ALICE>."))}, None)
    assert explain(said_before, "/vo") == "Stated <@U0ALICE>."


def test_facts_a_queued_action_cannot_fail_with_are_stored_as_not_sent() -> None:
    assert isinstance(failure_of({"failed": failure_json(TooLong("summary", 300, 255))}, None), NotSent)
