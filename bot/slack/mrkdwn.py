"""Text from outside (typed by someone, or stored in VictorOps) on its way into vobot's sentences.

vobot's sentences are Slack mrkdwn: they carry mentions the bot builds itself (`<@U…>`) and `code`. A value
from outside enters a sentence only through `escape`, once, where the sentence is built; values are stored
and sent to VictorOps as typed, never escaped.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """The three characters mrkdwn treats as control characters, as entities: shown as typed, never a ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
