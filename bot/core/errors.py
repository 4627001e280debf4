"""Why an action cannot be done, as facts: `bot.slack.errors.explain` says each in words, naming people and the
configured command. The failures a queued action can end with are stored with it (`failure_json`) and read
back by whoever tells the person (`failure_of`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


class ActionError(Exception):
    """An action that cannot be done. The Slack layer raises it with its own sentence; the core raises the
    subclasses, which state facts and leave the words to the Slack layer."""

    def __str__(self) -> str:
        # a subclass's facts (for logs and the audit log); the base holds its sentence
        return super().__str__() if type(self) is ActionError else repr(self)


@dataclass(eq=False)
class StorageBusy(ActionError):
    """The database kept a lock past its timeout: nothing was changed, and trying again later works."""


@dataclass(eq=False)
class TooLong(ActionError):
    """Text past what VictorOps is given (`bot.core.text`'s limits)."""

    what: Literal["summary", "details", "message"]
    length: int
    limit: int


@dataclass(eq=False)
class Lost(ActionError):
    """The queued action is gone from the queue (nothing says how it ended)."""


# ---- how a queued action can fail, stored with it -----------------------------------------------------------


@dataclass(eq=False)
class UnknownActor(ActionError):
    """VictorOps has no user `vo_username`, whom the person is linked to."""

    vo_username: str


@dataclass(eq=False)
class RerouteNotFound(ActionError):
    """VictorOps did not find a user or policy of a reroute: a target, or the person's own link."""


@dataclass(eq=False)
class VictorOpsRefused(ActionError):
    """VictorOps refused the call; `text` is the client's sentence, which may quote VictorOps."""

    text: str


@dataclass(eq=False)
class MayHaveCreated(ActionError):
    """A create given up after answers were lost: VictorOps may have created `summary` all the same."""

    summary: str


@dataclass(eq=False)
class NotSent(ActionError):
    """vobot itself failed to send the action, every attempt."""


STORED: dict[str, type[ActionError]] = {
    cls.__name__: cls for cls in (UnknownActor, RerouteNotFound, VictorOpsRefused, MayHaveCreated, NotSent, StorageBusy)
}


def failure_json(error: ActionError) -> dict[str, Any]:
    """How a queued action failed, to store with it: the facts, or (raised with a sentence) the sentence."""
    if type(error).__name__ in STORED:
        return {"kind": type(error).__name__, **asdict(error)}  # type: ignore[call-overload]
    if type(error) is ActionError:
        return {"kind": "said", "text": str(error)}
    return {"kind": NotSent.__name__}  # facts of a kind a queued action does not store: what is sure


def failure_of(result: dict[str, Any] | None, error: str | None) -> ActionError:
    """How a failed queued action failed. An older version stored a sentence (`error`) and no facts."""
    body = dict((result or {}).get("failed") or {})
    if not body:
        return ActionError(error) if error else Lost()
    found = STORED.get(body.pop("kind"))
    return found(**body) if found else ActionError(body.get("text", ""))
