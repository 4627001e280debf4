"""What an action on one incident came to, as facts: done or not, and why. The Slack layer says it in words
(`bot.slack.sentences`), with names people know and "you" for the one reading it.

A finished queued action stores its outcomes (`stored`) and whoever tells the person reads them back
(`outcomes_of`); a result an older version stored, with a ready sentence in "note", still reads (`Said`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from bot.victorops.models import Incident, Phase, Target


class Verb(StrEnum):
    """What a person asks VictorOps to do; "mine" (every incident paging them) is a flag beside it."""

    ACK = "ack"
    RESOLVE = "resolve"
    REROUTE = "reroute"
    CREATE = "create"


# How every version has named a "mine" action where the name is stored (the queue's verb, the audit log).
MINE = {Verb.ACK: "ack_mine", Verb.RESOLVE: "resolve_mine"}


def verb_name(verb: Verb, mine: bool) -> str:
    return MINE[verb] if mine else str(verb)


@dataclass(frozen=True)
class Did:
    """This action did it: `slack_user_id` acked, resolved, rerouted (to `targets`) or created the incident."""

    verb: Verb
    slack_user_id: str
    targets: tuple[Target, ...] = ()
    done: ClassVar[bool] = True


@dataclass(frozen=True)
class Already:
    """VictorOps has the incident acknowledged or resolved already (`by`: the VictorOps user, when known)."""

    phase: Phase
    by: str | None = None
    done: ClassVar[bool] = True


@dataclass(frozen=True)
class NotOpen:
    """VictorOps has no open incident with this number: resolved already, or the number is wrong."""

    done: ClassVar[bool] = False


@dataclass(frozen=True)
class Refused:
    """VictorOps answered that it did not do it; `reason` is its own text, when it gave one."""

    verb: Verb
    reason: str = ""
    done: ClassVar[bool] = False


@dataclass(frozen=True)
class Silent:
    """VictorOps' answer did not mention the incident."""

    done: ClassVar[bool] = False


@dataclass(frozen=True)
class Queued:
    """Waiting for VictorOps budget (`budget` as configured, e.g. "6/minute"); sent in about `eta` seconds."""

    eta: float
    budget: str
    done: ClassVar[bool] = False


@dataclass(frozen=True)
class Said:
    """A sentence an older version stored in place of the facts (it may hold `<@U…>` mentions)."""

    text: str
    done: bool


Why = Did | Already | NotOpen | Refused | Silent | Queued | Said


@dataclass(frozen=True)
class Outcome:
    number: str  # empty for a create still queued
    why: Why
    incident: Incident | None = None  # as it is now, to draw its card

    @property
    def done(self) -> bool:
        """VictorOps has the incident in the wanted state (now or already)."""
        return self.why.done

    @property
    def queued(self) -> bool:
        """Waiting in the queue for VictorOps budget; the card updates when it lands."""
        return isinstance(self.why, Queued)


def summary(outcomes: Sequence[Outcome]) -> str:
    """For the audit log: every one done, some, or none."""
    done = sum(1 for o in outcomes if o.done)
    return "ok" if done == len(outcomes) else "partial" if done else "refused"


def plain(outcome: Outcome) -> str:
    """For the audit log: the incident and the facts, with IDs as they are (no mentions, no mrkdwn)."""
    body = why_json(outcome.why)
    facts = ", ".join(f"{key} {value}" for key, value in body.items() if key != "kind" and value not in (None, "", []))
    return f"#{outcome.number} {body['kind']}" + (f" ({facts})" if facts else "")


# ---- as stored with a finished queued action ---------------------------------------------------------------


def stored(outcome: Outcome) -> dict[str, Any]:
    return {"n": outcome.number, "done": outcome.done, "why": why_json(outcome.why)}


def why_json(why: Why) -> dict[str, Any]:
    match why:
        case Did():
            return {"kind": "did", "verb": why.verb, "by": why.slack_user_id, "to": [t.wire() for t in why.targets]}
        case Already():
            return {"kind": "already", "phase": why.phase, "by": why.by}
        case Refused():
            return {"kind": "refused", "verb": why.verb, "reason": why.reason}
        case Queued():
            return {"kind": "queued", "eta": why.eta, "budget": why.budget}
        case Said():
            return {"kind": "said", "text": why.text, "done": why.done}
        case NotOpen():
            return {"kind": "not_open"}
        case Silent():
            return {"kind": "silent"}


def why_of(body: dict[str, Any]) -> Why:
    match body["kind"]:
        case "did":
            return did_of(body)
        case "already":
            return Already(Phase(body["phase"]), body.get("by"))
        case "refused":
            return Refused(Verb(body["verb"]), body.get("reason") or "")
        case "queued":
            return Queued(float(body["eta"]), str(body["budget"]))
        case "said":
            return Said(str(body["text"]), bool(body["done"]))
        case "not_open":
            return NotOpen()
        case "silent":
            return Silent()
    raise ValueError(f"unknown outcome kind {body['kind']!r}")


def did_of(body: dict[str, Any]) -> Did:
    return Did(Verb(body["verb"]), body["by"], tuple(Target.model_validate(t) for t in body.get("to", [])))


def outcomes_of(result: dict[str, Any] | None) -> list[Outcome]:
    """Outcomes as the dispatcher stored them with a finished action. An older version stored a sentence
    ("note") and, for what the action did, its facts ("did"): the facts when there, else the sentence."""
    found = []
    for body in (result or {}).get("outcomes", []):
        if "why" in body:
            why = why_of(body["why"])
        elif body.get("did"):
            why = did_of(body["did"])
        else:
            why = Said(body["note"], bool(body["done"]))
        found.append(Outcome(body["n"], why))
    return found
