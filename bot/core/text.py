"""Text from outside (typed by someone, or stored in VictorOps) on its way into vobot's sentences.

vobot's sentences are Slack mrkdwn: they carry mentions the bot builds itself (`<@U…>`) and `code`. A value
from outside enters a sentence only through `escape`, once, where the sentence is built; values are stored
and sent to VictorOps as typed, never escaped. The limits hold in every path (commands, modals, queue).
"""

from __future__ import annotations

MAX_SUMMARY = 255  # what the command path always allowed; VictorOps shows it as the incident's title
MAX_DETAILS = 3000  # VictorOps documents no limit; one Slack section shows 3000 characters
MAX_NOTE = 500  # an ack or resolve message: VictorOps documents no limit; a card quotes 200 of it


def escape(text: str) -> str:
    """The three characters mrkdwn treats as control characters, as entities: shown as typed, never a ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
