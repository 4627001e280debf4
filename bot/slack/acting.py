"""Who is acting in a Slack request, and the one way a listener's failure is answered.

A listener middleware puts the person in `context["acting"]`; their VictorOps user is looked up at most once
per request, when the listener first asks — after its ack: an unlinked person may be matched by email, which
can wait on Slack and VictorOps, and Slack wants the ack within 3 s. `answering` wraps each listener's work:
an unlinked person gets the link prompt, any other failure its one sentence (`explain`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.actions import Actor
from bot.core.errors import ActionError
from bot.core.identity import Identity
from bot.slack.blocks import Block
from bot.slack.contexts import Contexts
from bot.slack.errors import explain
from bot.slack.linking import Finish, NotLinked, link_prompt
from bot.slack.place import Place

Say = Callable[[str, Sequence[Block] | None], Awaitable[object]]
Next = Callable[[], Awaitable[None]]
Middleware = Callable[[AsyncBoltContext, dict[str, Any], Next], Awaitable[None]]


def slack_user(body: dict[str, Any]) -> tuple[str | None, str]:
    """The acting person's Slack id and handle, from a command, a click or a submission: the handle is what
    VictorOps records ("from Slack by @name"), the same whichever way they acted."""
    user = body.get("user")
    if isinstance(user, dict):
        found, name = user.get("id"), user.get("username") or user.get("name")
    else:
        found, name = body.get("user_id"), body.get("user_name")
    slack_id = found if isinstance(found, str) and found else None
    return slack_id, str(name or slack_id or "")


class Acting:
    def __init__(self, identity: Identity, slack_user_id: str | None, slack_name: str) -> None:
        self._identity = identity
        self._id = slack_user_id
        self.slack_name = slack_name
        self._looked_up = False
        self._actor: Actor | None = None

    @property
    def slack_user_id(self) -> str:
        """ActionError when Slack did not say who acted (Socket Mode has no edge to refuse such a request)."""
        if self._id is None:
            raise ActionError("Slack did not say who clicked, so nothing was done; try again.")
        return self._id

    async def actor(self) -> Actor | None:
        """The person as a VictorOps user, or None when they are not linked."""
        if not self._looked_up:
            username = await self._identity.vo_username(self.slack_user_id)
            self._actor = Actor(self.slack_user_id, self.slack_name, username) if username else None
            self._looked_up = True
        return self._actor

    async def require(
        self, finish: Finish = "link", numbers: Sequence[str] = (), mine: bool = False, place: Place | None = None
    ) -> Actor:
        """The actor; NotLinked (the link prompt, whose button then finishes `finish`) when unlinked."""
        if (actor := await self.actor()) is None:
            raise NotLinked(self.slack_user_id, finish, numbers, mine, place)
        return actor

    def linked_as(self, vo_username: str) -> Actor:
        """The person as the VictorOps user they were just linked to."""
        self._actor, self._looked_up = Actor(self.slack_user_id, self.slack_name, vo_username), True
        return self._actor


def acting_middleware(identity: Identity) -> Middleware:
    """The Bolt listener middleware that says who is acting (`context["acting"]`)."""

    async def middleware(context: AsyncBoltContext, body: dict[str, Any], next: Next) -> None:
        context["acting"] = Acting(identity, *slack_user(body))
        await next()

    return middleware


class Answers:
    """How a listener's failure reaches the person: the link prompt, else one sentence."""

    def __init__(self, identity: Identity, contexts: Contexts, command: str) -> None:
        self._identity = identity
        self._contexts = contexts
        self._command = command

    @asynccontextmanager
    async def answering(self, say: Say) -> AsyncIterator[None]:
        try:
            yield
        except NotLinked as unlinked:
            await say(*await link_prompt(self._identity, self._contexts, self._command, unlinked))
        except Exception as exc:  # the one place a listener's failure becomes a sentence
            await say(explain(exc, self._command), None)
