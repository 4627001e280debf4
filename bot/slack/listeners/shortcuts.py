"""The two shortcuts, both named "New VictorOps incident" (Slack allows 24 characters): one on a message (its
first line the summary, its text and permalink the details; the new incident's card goes in the message's
thread), and the global one (an empty create modal; the answer comes as a direct message). Both open the create
modal submitted in bot.slack.listeners.views; where the answer goes is kept server-side with it (`ModalMeta`)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.errors import ActionError
from bot.core.outcomes import Verb
from bot.core.text import MAX_DETAILS, MAX_SUMMARY
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import clip
from bot.slack.cards import Cards
from bot.slack.linking import NotLinked
from bot.slack.modals import ModalMeta
from bot.slack.notify import reason
from bot.slack.place import Place
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import UNREADABLE_MESSAGE
from bot.slack.surface import Elsewhere, Surface
from bot.slack.typed import decode

log = logging.getLogger(__name__)

CREATE_FROM_MESSAGE = "vo_create_from_message"
CREATE = "vo_create"
CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,20}")
MESSAGE_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,8}")


PERMALINK_WAIT = 1.0  # seconds: Slack's trigger lasts 3, and the modal must open before it expires


def prefill(text: str, permalink: str | None) -> tuple[str, str]:
    """(summary, details) for a message: its first non-empty line, and its text with where it was said."""
    text = decode(text)  # as the person wrote it: VictorOps shows plain text
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    where = f"\n\nFrom Slack: {permalink}" if permalink else ""
    return clip(first, MAX_SUMMARY), clip(text.strip(), MAX_DETAILS - len(where)) + where


def said(message: dict[str, Any]) -> str:
    """What a message says: its text, or for a message without one (a monitoring bot's attachments, files
    shared alone) its attachments' title, text or fallback and its files' names, a line each."""
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return text
    lines: list[str] = []
    for attachment in _dicts(message.get("attachments")):
        parts = [attachment.get(k) for k in ("pretext", "title", "text")]
        shown = [p for p in parts if isinstance(p, str) and p.strip()]
        fallback = attachment.get("fallback")
        lines.extend(shown or ([fallback] if isinstance(fallback, str) and fallback.strip() else []))
    for file in _dicts(message.get("files")):
        name = file.get("title") or file.get("name")
        if isinstance(name, str) and name.strip():
            lines.append(name)
    return "\n".join(lines)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class Shortcuts:
    def __init__(
        self,
        *,
        cards: Cards,
        answers: Answers,
        hooks: ResponseUrls,
        slack: AsyncWebClient,
        elsewhere: Elsewhere,
        default_targets: Sequence[str],
    ) -> None:
        self._cards = cards
        self._answers = answers
        self._hooks = hooks
        self._slack = slack
        self._elsewhere = elsewhere
        self._default_targets = tuple(default_targets)

    async def on_message(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        acting: Acting = context["acting"]
        private = Surface(self._hooks, Place(response_url=body.get("response_url")))
        async with self._answers.answering(private.tell):
            channel, ts, thread, text = message_of(body)
            # both before the modal opens, together: the trigger expires 3 s after the click
            permalink, actor = await asyncio.gather(self._permalink(channel, ts), acting.actor())
            summary, details = prefill(text, permalink)
            # the card goes in the message's thread for everyone; privately if vobot cannot post there
            place = Place(response_url=body.get("response_url"), channel=channel, thread_ts=thread, public=True)
            if actor is None:  # the link prompt, privately; its button opens the modal
                raise NotLinked(acting.slack_user_id, Verb.CREATE, place=place, prefill=(summary, details))
            await self._cards.open_create_modal(
                body["trigger_id"], actor.slack_user_id, ModalMeta(place=place), self._default_targets, summary, details
            )

    async def on_global(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        acting: Acting = context["acting"]
        direct = Surface(self._hooks, Place(dm=acting.slack_user_id), elsewhere=self._elsewhere)
        async with self._answers.answering(direct.tell):
            place = Place(dm=acting.slack_user_id)
            actor = await acting.require(Verb.CREATE, place=place)  # unlinked: the link prompt as a direct message
            meta = ModalMeta(place=place)
            await self._cards.open_create_modal(body["trigger_id"], actor.slack_user_id, meta, self._default_targets)

    async def _permalink(self, channel: str, ts: str) -> str | None:
        """The message's address, or None (the details say less, the incident is still created)."""
        try:  # not waited for long (Slack's retries included): the modal opens without it rather than not at all
            asked = self._slack.chat_getPermalink(channel=channel, message_ts=ts)
            found = (await asyncio.wait_for(asked, PERMALINK_WAIT)).get("permalink")
        except Exception as exc:
            log.warning("no permalink for a message in %s: %s", channel, reason(exc))
            return None
        return found if isinstance(found, str) and found.startswith("https://") else None


def message_of(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """(channel, ts, thread ts, what it says) of the message a shortcut was used on, checked: they are echoed into
    Slack calls. A reply in a thread gives its parent's ts (the card goes in that thread), else its own."""
    channel = body.get("channel")
    message = body.get("message")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    if not (isinstance(channel_id, str) and CHANNEL_ID.fullmatch(channel_id)) or not isinstance(message, dict):
        raise ActionError(UNREADABLE_MESSAGE)
    ts, thread = _ts(message.get("ts")), _ts(message.get("thread_ts", message.get("ts")))
    return channel_id, ts, thread, said(message)


def _ts(value: Any) -> str:
    if not (isinstance(value, str) and MESSAGE_TS.fullmatch(value)):
        raise ActionError(UNREADABLE_MESSAGE)
    return value


def register(app: AsyncApp, shortcuts: Shortcuts, middleware: Sequence[Middleware]) -> None:
    app.shortcut(CREATE_FROM_MESSAGE, middleware=list(middleware))(shortcuts.on_message)
    app.shortcut(CREATE, middleware=list(middleware))(shortcuts.on_global)
