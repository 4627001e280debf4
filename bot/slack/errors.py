"""Every failure as one sentence a person can act on. Used by every listener, whatever the surface."""

from __future__ import annotations

import logging
import uuid

from slack_sdk.errors import SlackApiError

from bot.core.actions import ActionError
from bot.core.text import escape
from bot.victorops import errors

log = logging.getLogger(__name__)


def explain(error: BaseException) -> str:
    """The user-facing sentence (mrkdwn) for an error; unexpected ones are logged with a reference to quote."""
    if isinstance(error, ActionError):
        return str(error)  # vobot's own sentence, its outside values already escaped
    if isinstance(error, errors.VictorOpsError):
        return escape(str(error))  # may quote VictorOps' own text
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error", "unknown_error") if error.response is not None else "unknown_error")
        log.warning("Slack refused a call: %s", code)
        if code == "not_in_channel":
            return "vobot is not in this channel, so nothing was posted: invite it with `/invite @vobot`, then retry."
        return f"Slack refused our reply ({escape(code)}); try again, and tell your vobot admin if it keeps happening."
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return (
        f"Something went wrong inside vobot (reference `{reference}`); nothing more was sent. "
        "Try again, and give your vobot admin the reference if it keeps happening."
    )
