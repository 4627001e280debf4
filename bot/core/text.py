"""How long text from outside may be: the limits hold in every path (commands, modals, the queue). Escaping it
for Slack is the Slack layer's (`bot.slack.mrkdwn`)."""

from __future__ import annotations

MAX_SUMMARY = 255  # what the command path always allowed; VictorOps shows it as the incident's title
MAX_DETAILS = 3000  # VictorOps documents no limit; one Slack section shows 3000 characters
MAX_NOTE = 500  # an ack or resolve message: VictorOps documents no limit; a card quotes 200 of it
