"""Every failure as one sentence a person can act on. Used by every listener, whatever the surface."""

from __future__ import annotations

import logging
import uuid

from slack_sdk.errors import SlackApiError

from bot.core.errors import ActionError
from bot.core.refusals import PostRefused
from bot.slack.mrkdwn import escape
from bot.slack.sentences import refusal_sentence
from bot.slack.slack_errors import code_of, typed
from bot.victorops import errors

log = logging.getLogger(__name__)


def explain(error: BaseException, command: str) -> str:
    """The user-facing sentence (mrkdwn) for an error; unexpected ones are logged with a reference to quote.
    `command` is the slash command as configured, for sentences that say what to type."""
    if isinstance(error, ActionError):
        return refusal_sentence(error, command)  # the core's facts in words, or the Slack layer's own sentence
    if isinstance(error, errors.VictorOpsError):
        return escape(str(error))  # may quote VictorOps' own text
    if isinstance(error, PostRefused):
        return error.sentence  # vobot's own sentence: channel gone or archived, not invited, token revoked
    if isinstance(error, SlackApiError):
        code = code_of(error)
        log.warning("Slack refused a call: %s", code)
        if refusal := typed(error):
            return refusal.sentence
        return f"Slack refused our reply ({escape(code)}); try again, and tell your vobot admin if it keeps happening."
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return (
        f"Something went wrong inside vobot (reference `{reference}`); nothing more was sent. "
        "Try again, and give your vobot admin the reference if it keeps happening."
    )
