"""What a modal's submission or a link prompt's click needs from the request that made it (where to answer,
which card to redraw), kept server-side: the modal or button carries only an opaque token, bound to the
person it was made for and expiring with the response URL it holds."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.core.contexts import ContextStore, Refusal, Saved
from bot.core.errors import ActionError

# Slack's response URLs live 30 minutes; a context is worth no more than the URL it holds.
TTL = timedelta(minutes=30)
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)

M = TypeVar("M", bound=BaseModel)


class Kind(StrEnum):
    MODAL = "modal"  # a reroute or create modal, in its private_metadata
    LINK = "link"  # the link prompt's button


# (what the person clicked, what to do next) for the sentences below
WHAT = {
    Kind.MODAL: ("window", "close it and run the command again"),
    Kind.LINK: ("button", "run your command again"),
}
SAYS: dict[Refusal | None, str] = {
    None: "vobot could not read this {what}, so nothing was done; {then}.",
    "unknown": "vobot has no record of this {what}, so nothing was done; {then}.",
    "someone_else": "This {what} was made for someone else, so nothing was done; run the command yourself.",
    "expired": "This {what} expired (they last {minutes} minutes), so nothing was done; {then}.",
    "spent": "This {what} was used already, so nothing more was done; the listing shows how the incidents are now.",
}
OLDER = "This {what} is from an older version of vobot, so nothing was done; {then}."


class Contexts:
    def __init__(self, store: ContextStore, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    async def save(self, kind: Kind, slack_user_id: str, context: BaseModel) -> str:
        """Keep `context` for `slack_user_id`; returns the token to carry in the modal or button."""
        token = secrets.token_urlsafe(32)
        body = context.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        await self._store.put(Saved(token, kind, slack_user_id, body, self._now() + TTL))
        return token

    async def load(self, kind: Kind, slack_user_id: str, value: object, model: type[M]) -> M:
        """The context `value` names, for this person; ActionError with one sentence for anything else."""
        what, then = WHAT[kind]
        if isinstance(value, str) and value.startswith("{"):  # older versions carried the context itself
            raise ActionError(OLDER.format(what=what, then=then))
        if not isinstance(value, str) or not TOKEN.fullmatch(value):
            raise ActionError(SAYS[None].format(what=what, then=then))
        saved = await self._store.get(value)
        refusal = saved.refusal(kind, slack_user_id, self._now()) if saved else "unknown"
        if saved is None or refusal:
            minutes = int(TTL.total_seconds() // 60)
            raise ActionError(SAYS[refusal].format(what=what, then=then, minutes=minutes))
        try:
            return model.model_validate(saved.body)
        except ValidationError:  # saved by a version that kept other fields
            raise ActionError(OLDER.format(what=what, then=then)) from None

    async def spend(self, kind: Kind, value: str) -> None:
        """Use up the single-use context `value` names (loaded already): of two submissions, the second is told."""
        if not await self._store.spend(value, kind):
            what, then = WHAT[kind]
            raise ActionError(SAYS["spent"].format(what=what, then=then))
