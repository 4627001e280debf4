"""`/vo help`: the usage text, in Slack mrkdwn, for every command and for each one (`bot.slack.grammar` parses)."""

from __future__ import annotations

_TARGETS_NOTE = "Targets: `@person` (pick from Slack's autocomplete), `user:<victorops-username>`, `policy:<slug>`."

_GENERAL = """\
*{c}* works VictorOps incidents from Slack. Replies are only visible to you; end any command with `public` \
to post the reply in the channel.
• `{c} list [mine|triggered|acked|all] [route:<key>] [team:<slug>]` — open incidents, triggered first
• `{c} ack <n>… [: message]`, `{c} ack mine` — acknowledge incidents (`mine`: all you were paged for)
• `{c} resolve <n>… [: message]`, `{c} resolve mine` — resolve incidents
• `{c} reroute <n>… to <target>…` — page someone else (no targets: a form opens)
• `{c} create <summary> [to <target>…] [: details]` — open an incident (no summary: a form opens)
• `{c} history [phase:<p>] [service:<s>] [host:<h>] [route:<key>] [since:<7d|ISO>] [before:<ISO>] \
[number:<4,5,20:50>] [page:<n>]` — past incidents, last 7 days by default
• `{c} oncall [team]` — who is on call now
• `{c} link <vo-username>`, `{c} unlink`, `{c} whoami` — your VictorOps identity
• `{c} digest now|list|add|remove` — scheduled digests of open incidents
• `{c} status` — health of the bot
• `{c} subscribe [route:<key>] [team:<slug>] [policy:<slug>]`, `{c} unsubscribe`, `{c} subscriptions` — \
the live feed: a card here for every new incident (subscribe, unsubscribe: admins)
• `{c} snooze <n> <30m|2h|1d>`, `{c} unsnooze <n>` — pause the reminders of one incident (also buttons on each reminder)
{targets}
Examples: `{c} ack 42 43: looking into it`, `{c} list mine public`, `{c} create DB down to policy:pol-AbCd : disk 97%`.
`{c} help <command>` shows the details of one command."""

_TOPICS: dict[str, str] = {
    "help": _GENERAL,
    "list": """\
*{c} list [mine|triggered|acked|all] [route:<key>] [team:<slug>]*
Open incidents as cards with buttons. With no scope (or `all`) every open incident shows, triggered first; \
`mine` shows those paging you. `route:` and `team:` may be repeated.
Examples: `{c} list`, `{c} list triggered route:db`, `{c} list mine public`.""",
    "ack": """\
*{c} ack <n>… [: message]* or *{c} ack mine [: message]*
Acknowledge incidents by number (`42` or `#42`, separated by spaces or commas, up to 50). \
Everything after the first `:` is the message. `mine` acknowledges every incident you were paged for.
Examples: `{c} ack 42`, `{c} ack #42, #43: looking into it`, `{c} ack mine`.""",
    "resolve": """\
*{c} resolve <n>… [: message]* or *{c} resolve mine [: message]*
Resolve incidents by number (`42` or `#42`, separated by spaces or commas, up to 50). \
Everything after the first `:` is the message. `mine` resolves every incident you were paged for.
Examples: `{c} resolve 42`, `{c} resolve 42 43: fixed by restart`, `{c} resolve mine`.""",
    "reroute": """\
*{c} reroute <n>… to <target>…*
Page other people or policies for these incidents. Without `to` a form opens to pick them.
{targets}
Examples: `{c} reroute 42 to @dana`, `{c} reroute 42 43 to policy:pol-AbCd user:jdoe`, `{c} reroute 42`.""",
    "create": """\
*{c} create <summary> [to <target>…] [: details]*
Open an incident. The targets follow the last `to`; without `to` the configured default targets (or you) \
are paged. Details follow a `:`; without them the summary is sent as details. With no summary a form opens.
{targets}
Examples: `{c} create DB down to policy:pol-AbCd : df says 97%`, `{c} create Failover to DR site to @dana`, \
`{c} create`.""",
    "history": """\
*{c} history [phase:<p>] [service:<s>] [host:<h>] [route:<key>] [since:<7d|ISO>] [before:<ISO>] \
[number:<4,5,20:50>] [page:<n>]*
Past incidents from VictorOps reporting. With no filter: every phase over the last 7 days. \
Phases: triggered, acknowledged, resolved (comma lists allowed). Times: `30m`, `12h`, `7d`, `2w` ago, or \
`2024-05-01`, `2024-05-01T09:00Z`. `phase:`, `service:` and `host:` may be repeated.
Examples: `{c} history`, `{c} history phase:resolved service:db since:2w`, `{c} history number:20:50 page:2`.""",
    "oncall": """\
*{c} oncall [team]*
Who is on call now, for every team or for one team (name or slug).
Examples: `{c} oncall`, `{c} oncall Database Ops`, `{c} oncall team-AbCd public`.""",
    "link": """\
*{c} link <vo-username>* or *{c} link @person <vo-username>* (admins)
Tell the bot which VictorOps user you are. See `{c} whoami` for your current link.
Examples: `{c} link jdoe`, `{c} link @dana dsmith`.""",
    "unlink": """\
*{c} unlink [@person]*
Remove your link (or, for admins, someone else's). Links from the configuration file cannot be removed here.
Examples: `{c} unlink`, `{c} unlink @dana`.""",
    "whoami": """\
*{c} whoami*
Which VictorOps user you are, and how the bot knows it.""",
    "digest": """\
*{c} digest now|list|add|remove*
`{c} digest now` posts a digest of open incidents here; `{c} digest list` shows the scheduled ones.
`{c} digest add <name> <cron> [tz:<zone>] [route:<key>] [team:<slug>] [phase:<p>] [empty:post|skip]` \
schedules one in this channel (admins); the cron has 5 fields, quoted or not.
`{c} digest remove <name>` deletes one (admins).
Examples: `{c} digest add morning "0 9 * * 1-5" tz:Europe/Berlin phase:triggered empty:skip`, \
`{c} digest remove morning`.""",
    "subscribe": """\
*{c} subscribe [route:<key>]… [team:<slug>]… [policy:<slug>]…* (admins)
This channel gets the live feed: a card for every matching incident that triggers from now on, edited as it \
is acknowledged, rerouted or resolved anywhere. No filter: every incident. Subscribing again replaces the filters. \
In a private channel, `/invite @vobot` first.
Examples: `{c} subscribe`, `{c} subscribe route:db`, `{c} subscribe team:team-AbCd policy:pol-EfGh`.""",
    "unsubscribe": """\
*{c} unsubscribe* (admins)
Stop this channel's live feed; cards already posted stay. Feeds from the configuration file are changed there.""",
    "subscriptions": """\
*{c} subscriptions*
Every live feed: its channel, filters and reminders, and where it was defined.""",
    "snooze": """\
*{c} snooze <n> <duration>*
Pause the reminders of one incident in every feed channel: no reminder in its card's threads until the snooze \
ends (then the one due, if it is still waiting). Durations: minutes, hours or days, up to `7d`. \
A reminder's *Stop reminders* button stops them for good; `{c} unsnooze <n>` turns them back on.
Examples: `{c} snooze 42 2h`, `{c} snooze #42 30m`, `{c} snooze 42 1d`.""",
    "unsnooze": """\
*{c} unsnooze <n>*
Turn the reminders of one incident back on, after a snooze or a stop.
Example: `{c} unsnooze 42`.""",
    "status": """\
*{c} status*
Health of the bot: VictorOps reachable, API budget left, queued actions, on-call users who are not linked.""",
}


def usage(command: str = "/vo", topic: str | None = None) -> str:
    """Help text in Slack mrkdwn: every command with examples, or one command in detail (unknown: general)."""
    template = _TOPICS.get((topic or "").lower(), _GENERAL)
    return template.format(c=command, targets=_TARGETS_NOTE)
