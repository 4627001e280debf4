"""Where a card or a reply lives, so where its redraw or answer goes: one model for a click's surface, a modal's
and a link prompt's saved context, and a queued action's stored reply. Kept with short keys."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.slack.blocks import ListSpec

PlaceKind = Literal["card", "reply"]


class Wire(BaseModel):
    """Stored with short keys (the aliases), read by either: queued rows written before them hold the names."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)


class Place(Wire):
    response_url: str | None = Field(None, alias="r")  # the signed request's: answers, and an ephemeral card
    channel: str | None = Field(None, alias="ch")  # where a late outcome goes when the response URL is refused
    message_ts: str | None = Field(None, alias="ts")  # a channel message holding the card, edited by chat.update
    listing: ListSpec | None = Field(None, alias="l")  # the listing the card is in, to redraw it
    kind: PlaceKind = Field("reply", alias="k")  # a queued outcome redraws the card, or replaces the reply
    public: bool = Field(False, alias="p")  # a reply the whole channel sees
    # Places without a response URL or a message to edit (see Surface.elsewhere): the App Home of this Slack
    # user (answers republish it), a thread of `channel` (answers are posted in it), a person's direct message.
    home: str | None = Field(None, alias="h")
    thread_ts: str | None = Field(None, alias="th")
    dm: str | None = Field(None, alias="dm")

    def wire(self) -> dict[str, Any]:
        """As stored (a queued action's reply, inside a saved context): short keys, defaults left out."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def as_(self, kind: PlaceKind) -> Place:
        return self.model_copy(update={"kind": kind})

    def off_message(self) -> bool:
        """Answers here go to a home, a thread or a direct message, not through a response URL."""
        return bool(self.home or self.thread_ts or self.dm)

    def viewer(self, slack_user_id: str) -> str | None:
        """Who alone sees a message here: the person acting, unless it is a channel message or a public reply."""
        return None if self.public or self.message_ts else slack_user_id
