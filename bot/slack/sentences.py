"""The core's facts in words: what an action came to (`said`) and why one cannot be done (`refusal`), as Slack
mrkdwn. Pure. People are named as `Names` has them ("you" for the one reading), commands as configured, and
every value from outside is escaped here, once."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.digest import InvalidDigest
from bot.core.digest_admin import DefinedInFile, NoSuchDigest
from bot.core.errors import (
    ActionError,
    Lost,
    MayHaveCreated,
    NotSent,
    RerouteNotFound,
    StorageBusy,
    TooLong,
    UnknownActor,
    VictorOpsRefused,
)
from bot.core.feed import Feed
from bot.core.feed_admin import Access, CannotPost, FeedInFile, NoFeed, UnknownPolicy, UnknownRoutes, UnknownTeam
from bot.core.feed_rules import InvalidFeed
from bot.core.feeds import Change, Moved, Rerouted
from bot.core.identity import (
    AdminOnly,
    Configured,
    EmailUnproven,
    NoSuchUser,
    NotAdmin,
    NothingToUnlink,
    Taken,
    Unproven,
)
from bot.core.oncall import GroupReport
from bot.core.outcomes import Already, Did, NotOpen, Outcome, Queued, Refused, Said, Silent, Verb
from bot.core.posting import TooSoon
from bot.core.reminders import Kind, Pause, Paused, Reminder
from bot.core.targets import NoSuchPolicy, NoSuchTarget, TargetNotLinked
from bot.slack.mrkdwn import escape
from bot.slack.names import Names, when
from bot.victorops.models import Phase

PAST = {Verb.ACK: "acknowledged", Verb.RESOLVE: "resolved"}


def seconds(value: float) -> str:
    whole = max(1, round(value))
    return f"about {whole} s" if whole < 90 else f"about {round(whole / 60)} min"


def linked_you(vo_username: str) -> str:
    return f"Linked you to VictorOps user `{escape(vo_username)}`"


def nothing_paging(verb: Verb) -> str:
    """An ack or resolve of "mine" when VictorOps pages the person for nothing."""
    return f"VictorOps has no incidents paging you right now; nothing to {verb}."


def said(outcome: Outcome, names: Names) -> str:
    """What happened to one incident, for the person reading it."""
    number = f"#{escape(outcome.number)}"
    match outcome.why:
        case Did(Verb.REROUTE, by, targets):
            return f"Rerouted to {', '.join(names.target(t) for t in targets)} by {names.person(by)}."
        case Did(Verb.CREATE, by):
            return f"Created {number} for <@{by}>."
        case Did(verb, by):
            return f"{PAST[verb].capitalize()} by {names.person(by)}."
        case Already(phase, by):
            past = PAST[Verb.RESOLVE if phase is Phase.RESOLVED else Verb.ACK]
            return f"{number} was already {past}{f' by {escape(by)}' if by else ''}."
        case NotOpen():
            return f"{number} is not an open incident in VictorOps: it may be resolved already, or the number is wrong."
        case Refused(verb, reason):
            return f"VictorOps did not {verb} {number}: {escape(reason or 'no reason given')}."
        case Silent():
            return f"VictorOps said nothing about {number}; check it in VictorOps."
        case Queued(eta, budget):
            return (
                f"Queued: VictorOps allows {escape(budget)} and that is in use right now, so this goes out in "
                f"{seconds(eta)}. It will show here when it lands."
            )
        case Said(text):
            return text  # an older version's sentence, escaped when it was written


ENTERED = {Phase.UNACKED: "Triggered again", Phase.ACKED: "Acknowledged", Phase.RESOLVED: "Resolved"}


def thread_line(change: Change, names: Names) -> str:
    """One line in a feed card's thread: what changed, by whom, and from where."""
    match change:
        case Rerouted(by, targets):
            return f"Rerouted to {', '.join(names.target(t) for t in targets)} by {names.person(by)}."
        case Moved(phase, by, from_slack):
            who = f" by {names.user(by)}" if by else ""
            return f"{ENTERED[phase]}{who} ({'Slack' if from_slack else 'VictorOps'})."


ROLLED_UP_SHOWN = 400  # numbers named in a rolled-up message (~3,000 characters); past that, the first and last few


def rolled_up(feed: Feed, numbers: tuple[str, ...], command: str) -> str:
    """A storm minute's rolled-up message: "14 more incidents triggered on route db: #201 … — /vo list route:db"."""
    shown = [f"#{escape(n)}" for n in numbers]
    if len(shown) > ROLLED_UP_SHOWN:
        shown = [*shown[: ROLLED_UP_SHOWN - 5], "…", *shown[-5:]]
    where = []
    if feed.routes:
        where.append(f"route {', '.join(escape(r) for r in feed.routes)}")
    if feed.teams:
        where.append(f"team {', '.join(escape(t) for t in feed.teams)}")
    if feed.policies:
        where.append(f"policy {', '.join(escape(p) for p in feed.policies)}")
    filters = "".join([*(f" route:{escape(r)}" for r in feed.routes), *(f" team:{escape(t)}" for t in feed.teams)])
    count = incidents_word(len(numbers), "more")
    on = f" on {' and '.join(where)}" if where else ""
    return f":rotating_light: {count} triggered{on}: {' '.join(shown)} — `{command} list{filters}`"


def admins_named(admins: tuple[str, ...]) -> str:
    return ", ".join(f"<@{a}>" for a in admins) or "nobody yet (set `admins:` or VOBOT_ADMINS)"


ADMIN_ONLY = {
    AdminOnly.LINK_OTHERS: "link other people",
    AdminOnly.UNLINK_OTHERS: "unlink other people",
    AdminOnly.DIGESTS: "add or remove digests",
    AdminOnly.FEEDS: "subscribe or unsubscribe a channel",
}
UNPROVEN = {
    Unproven.NO_EMAIL: "Slack did not tell vobot your email, so it cannot check that `{user}` is you",
    Unproven.OTHER_EMAIL: "Your Slack email does not match VictorOps user `{user}`'s, so vobot cannot tell it is you",
    Unproven.SHARED_EMAIL: "Another Slack user has your Slack email too, so it does not prove that `{user}` is you",
}


def subject(slack_user_id: str, asker: str) -> str:
    return "You are" if slack_user_id == asker else f"<@{slack_user_id}> is"


def refusal_sentence(error: ActionError, command: str) -> str:
    """Why the action cannot be done, for the person who asked; `command` is the slash command (`/vo`)."""
    match error:
        case TooLong(what, length, limit):
            return f"That {what} is {length} characters; VictorOps gets at most {limit}, so shorten it."
        case TooSoon("digest", _, wait):
            return (
                f"A digest was posted here with `{command} digest now` less than a minute ago; it is just above, "
                f"or try again in {seconds(wait)}."
            )
        case TooSoon(_, count, wait):
            return (
                f"You posted {count} public replies here in the last minute, so this answer is only "
                f"for you; `public` works again in {seconds(wait)}."
            )
        case NoSuchPolicy(slug):
            return f"VictorOps has no escalation policy `{escape(slug)}`; leave the target out to pick one from a list."
        case TargetNotLinked(slack_user_id):
            return (
                f"<@{slack_user_id}> is not linked to a VictorOps user; "
                "name them as `user:<victorops-username>` instead."
            )
        case NoSuchTarget(user):
            return f"VictorOps has no user `{escape(user)}`; check the spelling with `{command} oncall`."
        case UnknownActor(user):
            return (
                f"VictorOps has no user `{escape(user)}`, which is who you are linked to; "
                "ask an admin to correct your link."
            )
        case RerouteNotFound():
            return (
                "VictorOps did not find a user or policy of this reroute; pick targets from the reroute list, "
                f"and check your own link with `{command} whoami`."
            )
        case VictorOpsRefused(text):
            return escape(text)
        case MayHaveCreated(summary):
            return (
                f"VictorOps never confirmed creating “{escape(summary)}”, so it may have been created: "
                "look for it in the incident list or in VictorOps before creating it again."
            )
        case NotSent():
            return "vobot could not send it; try again"
        case Lost():
            return "The action was lost; try again."
        case StorageBusy():
            return (
                "vobot's database is busy (another write held it too long), so nothing was done; "
                "try again in a minute, and tell your vobot admin if it keeps happening."
            )
        case NotAdmin(wanted, admins):
            return f"Only vobot admins can {ADMIN_ONLY[wanted]}: {admins_named(admins)}."
        case Configured(slack_user_id, user, asker):
            return (
                f"{subject(slack_user_id, asker)} mapped to `{escape(user)}` in vobot's configuration file "
                "(`users:`), which only an edit of that file can change."
            )
        case Taken(user, holder, admins):
            who = f"<@{holder}>" if holder else "another Slack user"
            return (
                f"`{escape(user)}` is already linked to {who}; an admin ({admins_named(admins)}) "
                "can unlink them first if that is wrong."
            )
        case EmailUnproven(user, why, admins):
            return f"{UNPROVEN[why].format(user=escape(user))}; ask an admin ({admins_named(admins)}) to link you."
        case NoSuchUser(user):
            return f"VictorOps has no user `{escape(user)}`; check the spelling of the username."
        case NothingToUnlink(slack_user_id, asker):
            return f"{subject(slack_user_id, asker)} not linked to a VictorOps user; there is nothing to unlink."
        case DefinedInFile(name, change):
            there = "change it there" if change == "add" else "remove it there"
            return f"Digest “{escape(name)}” is defined in vobot's configuration file; {there}."
        case NoSuchDigest(name):
            return f"There is no digest “{escape(name)}”; `{command} digest list` shows them."
        case InvalidDigest(field, problem):
            return f"That digest cannot be added: {escape(field)}: {escape(problem)}."
    return feed_refusal(error, command) or str(error)  # else raised by the Slack layer with its own sentence


INVITE = "invite me with `/invite @vobot`, then subscribe again"
CANNOT_POST = {
    Access.NOT_IN_CHANNEL: "vobot is not in {where}, so it could not post cards there: " + INVITE + ".",
    Access.ARCHIVED: "{where} is archived, so vobot could not post cards there: unarchive it, then subscribe again.",
    Access.NOT_FOUND: "Slack shows vobot no channel {where}: if it is private, " + INVITE + ".",
    Access.OK: "",  # never refused
}


def feed_refusal(error: ActionError, command: str) -> str | None:
    """Why a feed cannot be made or removed; None for another refusal."""
    match error:
        case FeedInFile(channel, change):
            there = "change it there" if change == "subscribe" else "remove it there"
            return f"The live feed of <#{escape(channel)}> is defined in vobot's configuration file; {there}."
        case NoFeed(channel):  # the channel as the request named it, not checked as a feed's would be
            return f"<#{escape(channel)}> has no live feed; `{command} subscriptions` lists every feed."
        case UnknownRoutes(routes, known):
            some = ", ".join(f"`{escape(r)}`" for r in known)
            listed = f"the routes it lists now are {some}" if known else "it lists no incident with a routing key now"
            missing = ", ".join(f"`{escape(r)}`" for r in routes)
            return f"VictorOps lists no incident on route {missing}; {listed}. Check the spelling."
        case UnknownTeam(team):
            return f"VictorOps has no team `{escape(team)}`; `{command} oncall` names the teams."
        case UnknownPolicy(policy):
            return f"VictorOps has no escalation policy `{escape(policy)}`; use its slug, like `policy:pol-AbCd`."
        case CannotPost(channel, why):
            return CANNOT_POST[why].format(where=f"<#{escape(channel)}>")
        case InvalidFeed(field, problem):
            return f"That feed cannot be added: {escape(field)}: {escape(problem)}."
    return None


# ---- reminders (bot.core.reminders) ------------------------------------------------------------------------


def span(seconds: float) -> str:
    """A reminder's wait as people say it: `15 min`, `1 h 15 min`, `4 h`, `2 d 3 h` (to the minute, at least 1)."""
    minutes = max(1, int(seconds // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins and not days else ""]
    return " ".join(p for p in parts if p)


def reminder_line(reminder: Reminder, names: Names) -> str:
    """The reminder in a card's thread, mentioning the people concerned (linked ones pinged, others named)."""
    waited = span(reminder.waited)
    if reminder.kind is Kind.ACKED:
        by = names.user(reminder.people[0]) if reminder.people else "someone"
        return f"Still not resolved, {waited} after {by} acknowledged it."
    people = [names.user(p) for p in reminder.people] or [
        names.policy(p.policy.slug, p.policy.name) for p in reminder.incident.paged_policies if p.policy.name
    ]
    return f"Still not acknowledged after {waited} — {', '.join(people) or 'nobody is being paged'}"


def paused_line(paused: Paused, names: Names) -> str:
    """The line in a card's thread when someone snoozes, stops or resumes its reminders."""
    by = names.person(paused.by)
    if paused.pause is Pause.RESUMED:
        return f"Reminders back on (by {by})."
    if paused.until is None:
        return f"Reminders stopped by {by}."
    return f"Reminders snoozed until {when(paused.until)} by {by}."


def paused_reply(paused: Paused, command: str) -> str:
    """The answer to whoever snoozed, stopped or resumed the reminders of an incident (or could not)."""
    number = f"#{escape(paused.number)}"
    if paused.unknown:
        return f"I don't know incident {number}: it has no card here and VictorOps did not list it lately."
    if paused.refused is Phase.RESOLVED:
        return f"{number} is resolved: it has no reminders."
    if paused.unchanged:
        return f"Reminders for {number} were not paused; `{command} snooze {escape(paused.number)} 1h` pauses them."
    if paused.pause is Pause.RESUMED:
        return f"Reminders for {number} are back on; `{command} snooze {escape(paused.number)} 1h` pauses them."
    unsnooze = f"`{command} unsnooze {escape(paused.number)}`"
    if paused.until is None:
        return f"Reminders for {number} stopped for good; {unsnooze} turns them back on."
    return f"Reminders for {number} snoozed until {when(paused.until)}; {unsnooze} ends it."


# ---- who is on call: handoff posts and on-call user groups ------------------------------------------------


PEOPLE_CHARS = 1200  # of names one list of `people` shows; past that, how many more (a section holds 3000)


def people(rendered: Sequence[str]) -> str:
    """ "@ivan", "@ivan and @judy", "@a, @b and @c"; "nobody" for none; a long list's first names and how many
    more."""
    if not rendered:
        return "nobody"
    shown = list(rendered[:1])
    for name in rendered[1:]:
        if sum(len(n) + 2 for n in shown) + len(name) > PEOPLE_CHARS:
            return f"{', '.join(shown)} and {len(rendered) - len(shown)} more"
        shown.append(name)
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def handoff_line(team: str, on: Sequence[str], was: Sequence[str]) -> str:
    """The first line of a handoff post; the names already rendered (mentions, or escaped names)."""
    return f"On call for *{escape(team)}*: {people(on)} (was {people(was)})"


def handoff_unknown(team: str) -> str:
    return f"Open incidents for *{escape(team)}* not known yet."


def handoff_open(team: str, slug: str, counts: str, shown: int, total: int, command: str) -> str:
    if not total:
        return f"Nothing open for *{escape(team)}*."
    if shown == total:
        return f"Open for *{escape(team)}*: {counts}."
    return f"Open for *{escape(team)}*: {counts} (`{command} list team:{escape(slug)}` shows all). The oldest {shown}:"


GROUP_REFUSALS = {
    "no_such_subteam": "Slack has no user group {group}: check its ID (S…) under oncall_groups",
    "permission_denied": "Slack does not let vobot change user group {group}: user groups need a paid Slack plan, "
    "and a workspace setting may limit who changes them",
    "paid_teams_only": "user groups need a paid Slack plan, so user group {group} cannot be kept on call",
    "missing_scope": "vobot lacks the usergroups:write scope: add it to the app and reinstall",
    "invalid_users": "Slack refused the people for user group {group} (deactivated or unknown users)",
    "ratelimited": "Slack asked vobot to slow down; user group {group} is tried again at the next read",
}


def group_refusal(code: str, group: str) -> str:
    """Why Slack refused `usergroups.users.update`, and what to do."""
    known = GROUP_REFUSALS.get(code) or "Slack refused to update user group {group} ({code})"
    return known.format(group=group, code=code)  # the code is a value, never part of the template


GROUP_PROBLEMS = {
    "nobody_on_call": "nobody is on call for {team}, so it is left as it is (Slack refuses an empty group)",
    "nobody_linked": "nobody on call for {team} is linked to Slack, so it is left as it is",
    "no_team": "VictorOps lists no team {team}: check the slug under oncall_groups",
}


def group_facts(report: GroupReport, command: str) -> str:
    """What is wrong with an on-call user group, then who on call for it is not linked; "in step" when neither."""
    team = escape(report.team)
    facts = [report.refusal or GROUP_PROBLEMS[report.problem].format(team=team)] if report.problem else []
    if report.unlinked:
        names = ", ".join(f"`{escape(n)}`" for n in report.unlinked)
        first = escape(report.unlinked[0])
        facts.append(f"on call for {team} but not linked: {names} — link with `{command} link @user {first}`")
    return "; ".join(facts) or "in step"


NAMED_AT_MOST = 40  # incident numbers one sentence of `said_all` names; past that, how many more


def numbered(numbers: list[str]) -> str:
    """ "#3, #7 and #9", or the first ones and how many more."""
    shown = [f"#{escape(n)}" for n in numbers[:NAMED_AT_MOST]]
    if len(numbers) > NAMED_AT_MOST:
        return f"{', '.join(shown)} and {len(numbers) - NAMED_AT_MOST} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def incidents_word(count: int, kind: str = "") -> str:
    """ "3 incidents", or with `kind` "3 triggered incidents"."""
    return f"{count} {kind + ' ' if kind else ''}incident{'s' if count != 1 else ''}"


def said_all(outcomes: list[Outcome], names: Names) -> str:
    """What one action on several incidents came to, in one message: what was done, what was skipped without a
    call (already in the wanted state, not open) and what failed, and why; each group naming its incidents."""
    if len(outcomes) == 1:
        return said(outcomes[0], names)
    groups: dict[tuple[object, ...], list[Outcome]] = {}
    for outcome in outcomes:
        match outcome.why:
            case Did(verb, by, targets):
                key: tuple[object, ...] = ("did", verb, by, tuple((t.type, t.slug) for t in targets))
            case Already(phase):
                key = ("already", phase)
            case Refused(verb, reason):
                key = ("refused", verb, reason)
            case Queued():
                key = ("queued",)
            case Said(text):
                key = ("said", text)
            case why:
                key = (type(why).__name__,)
        groups.setdefault(key, []).append(outcome)
    return " ".join(_group(group, names) for group in groups.values())


def _group(outcomes: list[Outcome], names: Names) -> str:
    numbers = [o.number for o in outcomes]
    which, were = numbered(numbers), "were" if len(numbers) > 1 else "was"
    match outcomes[0].why:
        case Did(Verb.REROUTE, by, targets):
            to = ", ".join(names.target(t) for t in targets)
            return f"Rerouted {incidents_word(len(numbers))} to {to} by {names.person(by)}: {which}."
        case Did(verb, by):
            return f"{PAST[verb].capitalize()} {incidents_word(len(numbers))} by {names.person(by)}: {which}."
        case Already(phase):
            past = PAST[Verb.RESOLVE if phase is Phase.RESOLVED else Verb.ACK]
            return f"{which} {were} already {past}: skipped."
        case NotOpen():
            return (
                f"{which} {'are' if len(numbers) > 1 else 'is'} not open in VictorOps (resolved already, or the "
                "number is wrong): skipped."
            )
        case Refused(verb, reason):
            return f"VictorOps did not {verb} {which}: {escape(reason or 'no reason given')}."
        case Silent():
            return f"VictorOps said nothing about {which}; check {'them' if len(numbers) > 1 else 'it'} in VictorOps."
        case Queued(eta, budget):
            return (
                f"Queued {which}: VictorOps allows {escape(budget)} and that is in use right now, so they go out "
                f"in {seconds(eta)}, in one call. The listing shows them when they land."
            )
    return said(outcomes[0], names)


# --- App Home and shortcuts ----------------------------------------------------------------------------------

NOT_IN_THREAD = "vobot is not in that channel, so this is not in the message's thread; invite it with `/invite @vobot`."
NOT_IN_DM = "vobot cannot post in a direct message between other people, so this is shown to you alone."
UNREADABLE_MESSAGE = "vobot could not read which message this was, so nothing was done; try the shortcut again."
HOME_UNLINKED = "You are not linked to a VictorOps user yet: once you are, the incidents paging you show here."
TEAMS_PENDING = "VictorOps is still telling vobot who is in which team; press Refresh in a minute."
NO_TEAMS = "You are in no VictorOps team."
ONCALL_UNKNOWN = "not known right now"  # a home drawn while VictorOps did not say who is on call


def triggered_since(numbers: list[str]) -> str:
    """Triggered after the listing a bulk acknowledge was clicked on was drawn: not what its confirmation counted."""
    them = "them" if len(numbers) > 1 else "it"
    return f"{numbered(numbers)} triggered since this listing was drawn: not acknowledged; Refresh to include {them}."
