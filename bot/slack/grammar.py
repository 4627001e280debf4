"""The `/vo` command grammar: slash-command text in, a typed command or a ParseError out.

`parse` is pure: no I/O, nothing global changes, and the current time is an argument. It never raises; every
problem becomes a `ParseError` whose message is one sentence saying what was wrong and what to do next, so a
malformed command never reaches VictorOps.

Rules that apply to every command:
- A text that ends with the word `public` (any case) asks for a reply visible to the channel: the word is
  stripped before parsing and the result has `public=True`. This is uniform, so `create DB down: it is public`
  also loses its last word to the flag.
- The command word and every keyword (`mine`, `to`, `all`, filter keys such as `route:`) are case-insensitive;
  values (usernames, slugs, summaries) keep their case.
- Incident numbers are ASCII digits with an optional leading `#`, separated by spaces and/or commas; leading
  zeros are dropped, duplicates are removed keeping order, at most 50 per command.
- Targets are Slack mentions (`<@U123>`, `<@U123|name>`), `user:<victorops-username>` or `policy:<slug>`.
- The text arrives as Slack sends it (`&`, `<`, `>` as entities, mentions as `<@U…>`): mentions and targets
  are read in that form, free text (summaries, details, messages, names, filter values) is decoded once
  (`bot.slack.typed`), and user text quoted in an error message is escaped again.

Each command has a small parse function in `_COMMANDS`; shared helpers read numbers, targets, `key:value`
filters and times.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeAlias

from bot.core.reminders import snooze_length
from bot.core.targets import SLUG as _SLUG
from bot.core.targets import VO_USERNAME as _VO_USERNAME
from bot.core.text import MAX_DETAILS, MAX_NOTE, MAX_SUMMARY
from bot.slack.mrkdwn import escape
from bot.slack.typed import decode
from bot.victorops.models import Phase, parse_phase

MAX_TEXT = 4000  # Slack keeps slash-command text short; this bounds the work on hostile input
MAX_NUMBERS = 50
MAX_NUMBER_DIGITS = 12  # far beyond any real incident number, short enough never to reach int() limits
MAX_MESSAGE = 300  # an error message, flattened to one line
HISTORY_WINDOW = timedelta(days=7)
_SHOW = 40  # how much user text an error message quotes

ALL_PHASES = (Phase.UNACKED, Phase.ACKED, Phase.RESOLVED)


# ---- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Who to page: a Slack user (by ID, resolved to VictorOps later), a VictorOps user, or a policy."""

    kind: Literal["slack", "user", "policy"]
    value: str


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why the text is not a command: one sentence for the user, ending with what to do next."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Help:
    topic: str | None = None  # a command word, or None for the general usage
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ListIncidents:
    scope: Literal["open", "mine", "triggered", "acked"] = "open"
    routes: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    numbers: tuple[str, ...] = ()
    mine: bool = False  # the incidents the caller was paged for (VictorOps' byUser endpoint)
    message: str | None = None
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve:
    numbers: tuple[str, ...] = ()
    mine: bool = False
    message: str | None = None
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Reroute:
    numbers: tuple[str, ...]
    targets: tuple[Target, ...] = ()  # empty: the app asks in a modal
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Create:
    summary: str | None = None  # None: the app asks in a modal
    targets: tuple[Target, ...] = ()  # empty: the configured default targets, else the caller
    details: str | None = None  # None: the summary is sent as details
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    since: datetime
    phases: tuple[Phase, ...] = ALL_PHASES
    services: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    route: str | None = None
    before: datetime | None = None
    numbers: str | None = None  # the reporting API's syntax, normalised: "4,5,20:50"
    page: int = 1
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OnCall:
    team: str | None = None  # a team name or slug as typed; None: every team
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    vo_username: str
    slack_user: str | None = None  # None: the caller links themselves
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlink:
    slack_user: str | None = None
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmI:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestNow:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestList:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestAdd:
    name: str
    schedule: str  # five cron fields joined by single spaces; full validation is the scheduler's job
    timezone: str | None = None
    routes: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()  # empty: no phase filter (the digest's default)
    when_empty: Literal["post", "skip"] | None = None
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestRemove:
    name: str
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    routes: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()  # escalation policy slugs
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscriptions:
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Snooze:
    number: str
    length: timedelta
    public: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsnooze:
    number: str
    public: bool = False


Command: TypeAlias = (
    Help
    | ListIncidents
    | Ack
    | Resolve
    | Reroute
    | Create
    | History
    | OnCall
    | Link
    | Unlink
    | WhoAmI
    | DigestNow
    | DigestList
    | DigestAdd
    | DigestRemove
    | Status
    | Subscribe
    | Unsubscribe
    | Subscriptions
    | Snooze
    | Unsnooze
)


# ---- entry point -----------------------------------------------------------------------------------------


def parse(text: str, *, now: datetime, command: str = "/vo") -> Command | ParseError:
    """Read the text after the slash command. `now` anchors relative times; `command` names it in messages."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    try:
        return _parse(text, _Ctx(command, now))
    except _Invalid as exc:
        return ParseError(_one_line(exc.message))
    except Exception:  # a bug must not become a traceback in Slack; tests call _parse to catch it there
        return ParseError(f"Sorry, I could not read that command; `{command} help` shows the forms it takes.")


class _Invalid(Exception):
    """Raised by the helpers below; `parse` turns it into a ParseError."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class _Ctx:
    cmd: str
    now: datetime

    def ex(self, *args: str) -> str:
        """Examples, backticked and joined with ' or ': ex('ack 42', 'ack mine')."""
        return " or ".join(f"`{self.cmd} {a}`" for a in args)


def _parse(text: str, ctx: _Ctx) -> Command:
    if len(text) > MAX_TEXT:
        raise _Invalid(f"That command is {len(text)} characters long; keep it under {MAX_TEXT}.")
    bad = next((ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"), None)
    if bad is not None:
        raise _Invalid(
            f"That command contains an invisible control character (U+{ord(bad):04X}); retype it instead of pasting."
        )
    text, public = _strip_public(text)
    # The command word ends at whitespace or a colon, so `ack: msg` reads as `ack` followed by `: msg`.
    head = re.match(r"\s*([^\s:]*)", text)
    assert head is not None  # the pattern matches every string
    word, rest = head.group(1), text[head.end() :]
    if not word:
        if rest.strip():
            raise _Invalid(_unknown(rest.strip(), ctx))
        cmd: Command = Help()
    else:
        handler = _COMMANDS.get(word.lower())
        if handler is None:
            raise _Invalid(_unknown(word, ctx))
        cmd = handler(rest, ctx)
    return replace(cmd, public=True) if public else cmd


def _strip_public(text: str) -> tuple[str, bool]:
    words = text.split()
    if words and words[-1].lower() == "public":
        kept = text.rstrip()
        return kept[: len(kept) - len(words[-1])], True
    return text, False


def _unknown(word: str, ctx: _Ctx) -> str:
    close = difflib.get_close_matches(word.lower()[:_SHOW], _COMMANDS, n=1, cutoff=0.6)
    if close:
        return f"{_show(word)} is not a command: try {ctx.ex(close[0])}, or `{ctx.cmd} help` to list them all."
    return f"{_show(word)} is not a command; `{ctx.cmd} help` lists them all."


# ---- shared helpers --------------------------------------------------------------------------------------

# A Slack mention may carry a display name with spaces (`<@U1|Jo Doe>`); keep it in one token.
_TOKEN = re.compile(r"(?:<@[^<>\n]*>|\S)+")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_FREE_VALUE = re.compile(r"[^\s<>`\"]{1,100}")  # routing keys, services, hosts: whatever VictorOps stored
_NUMBER = re.compile(r"#?([0-9]+)")


def _show(text: str) -> str:
    """User text for an error message: as typed, one line, no backticks, at most _SHOW characters, backticked
    and escaped (a `<!channel>` quoted back must not ping)."""
    flat = " ".join(decode(text).replace("`", "'").split())
    if len(flat) > _SHOW:
        flat = flat[: _SHOW - 1] + "…"
    return f"`{escape(flat)}`"


def _one_line(message: str) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _numbers(items: Sequence[str], example: str) -> tuple[str, ...]:
    """Incident numbers from tokens that may hold several comma-separated numbers."""
    found: dict[str, None] = {}
    for item in (part for token in items for part in token.split(",")):
        if not item:
            continue
        match = _NUMBER.fullmatch(item)
        if match is None:
            if any(ch.isdigit() for ch in item) and not item.lstrip("#").isascii():
                raise _Invalid(
                    f"{_show(item)} is not an incident number: write it with the digits 0-9, like {example}."
                )
            raise _Invalid(f"{_show(item)} is not an incident number; write numbers like {example}.")
        number = match.group(1).lstrip("0")
        if not number:
            raise _Invalid(f"Incident numbers start at 1, so {_show(item)} is not one; write numbers like {example}.")
        if len(number) > MAX_NUMBER_DIGITS:
            raise _Invalid(f"{_show(item)} is too long to be an incident number; write numbers like {example}.")
        found[number] = None
        if len(found) > MAX_NUMBERS:
            raise _Invalid(f"That is more than {MAX_NUMBERS} incidents; act on at most {MAX_NUMBERS} at a time.")
    return tuple(found)


def _looks_like_target(token: str) -> bool:
    return token.startswith(("<@", "@", "<!subteam")) or token.lower().startswith(("user:", "policy:"))


def _targets(tokens: Sequence[str]) -> tuple[Target, ...]:
    # Commas between targets are tolerated: `to @a, @b`.
    parts = (part for token in tokens for part in token.split(",") if part)
    return tuple(dict.fromkeys(_target(part) for part in parts))


def _bare_at(token: str, *, vo_user_ok: bool) -> str:
    # Slack only escapes a mention picked from its autocomplete; typed `@name` arrives as plain text.
    alternative = ", or write `user:<victorops-username>`" if vo_user_ok else " so that it arrives as a mention"
    return f"{_show(token)} did not arrive as a Slack mention; pick the person from Slack's autocomplete{alternative}."


def _target(token: str) -> Target:
    if match := _MENTION.fullmatch(token):
        return Target("slack", match.group(1))
    key, _, value = token.partition(":")
    if key.lower() == "user":
        if not _VO_USERNAME.fullmatch(value):
            raise _Invalid(
                f"{_show(token)} is not a VictorOps user; write the username after `user:`, like `user:jdoe`."
            )
        return Target("user", value)
    if key.lower() == "policy":
        if not _SLUG.fullmatch(value):
            raise _Invalid(
                f"{_show(token)} is not a policy; write its slug after `policy:`, like `policy:pol-AbCd1234`."
            )
        return Target("policy", value)
    if token.startswith("<!subteam"):
        raise _Invalid(
            f"{_show(token)} is a Slack user group, which VictorOps cannot page; use `policy:<slug>` instead."
        )
    if token.startswith("@"):
        raise _Invalid(_bare_at(token, vo_user_ok=True))
    if token.startswith("<@"):
        raise _Invalid(f"{_show(token)} is not a Slack user mention; pick the person from Slack's autocomplete.")
    raise _Invalid(
        f"{_show(token)} is not a target; use a Slack mention (`@person`), `user:<victorops-username>` "
        "or `policy:<slug>`."
    )


def _slack_user(token: str, example: str) -> str:
    if match := _MENTION.fullmatch(token):
        return match.group(1)
    if token.startswith("@"):
        raise _Invalid(_bare_at(token, vo_user_ok=False))
    raise _Invalid(f"{_show(token)} is not a Slack mention; pick the person from Slack's autocomplete, like {example}.")


def _filter(token: str, keys: Sequence[str], where: str, example: str) -> tuple[str, str]:
    """Split `key:value` (at the first colon), checking the key is one of `keys` and the value is not empty."""
    key, sep, value = token.partition(":")
    listed = ", ".join(f"`{k}:`" for k in keys)
    if not sep:
        raise _Invalid(f"{_show(token)} is not a {where} filter; write filters as key:value, like {example}.")
    if key.lower() not in keys:
        raise _Invalid(f"{_show(key + ':' if key else token)} is not a {where} filter; the filters are {listed}.")
    if not value:
        raise _Invalid(f"{_show(token)} needs a value right after the colon, with no space, like {example}.")
    return key.lower(), value


def _once(key: str, seen: set[str]) -> None:
    if key in seen:
        raise _Invalid(f"`{key}:` can be given only once; keep one of them.")
    seen.add(key)


def _free_value(key: str, value: str) -> str:
    if not _FREE_VALUE.fullmatch(value):
        raise _Invalid(f"{_show(value)} is not a valid `{key}:` value; use the name exactly as VictorOps shows it.")
    return decode(value)


def _slug(key: str, value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise _Invalid(f"{_show(value)} is not a valid `{key}:` slug; use letters, digits, `-`, `_` and `.` only.")
    return value


def _phases(value: str) -> list[Phase]:
    found: list[Phase] = []
    for word in filter(None, value.split(",")):
        if word.lower() == "all":
            found.extend(ALL_PHASES)
            continue
        phase = parse_phase(word)
        if not isinstance(phase, Phase):
            raise _Invalid(
                f"{_show(word)} is not a phase; use triggered, acknowledged or resolved (UNACKED, ACKED, RESOLVED)."
            )
        found.append(phase)
    if not found:
        raise _Invalid("`phase:` needs a phase, like `phase:triggered,acknowledged`.")
    return found


def _canonical_phases(phases: Iterable[Phase]) -> tuple[Phase, ...]:
    # One order for the same set, so equal queries compare (and cache) equal.
    chosen = set(phases)
    return tuple(p for p in ALL_PHASES if p in chosen)


_RELATIVE = re.compile(r"([0-9]{1,6})([mhdwMHDW])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?"
)


def _minute(moment: datetime) -> datetime:
    """Relative times to the minute: the same search typed again soon is the same query, answered from cache."""
    return moment.replace(second=0, microsecond=0)


def _time(key: str, value: str, ctx: _Ctx) -> datetime:
    """`30m`, `12h`, `7d`, `2w` before now, or an ISO date/datetime (naive means UTC); returned in UTC."""
    if match := _RELATIVE.fullmatch(value):
        amount = int(match.group(1))
        if amount == 0:
            raise _Invalid(f"`{key}:{value}` is no time ago; use a length of time like `{key}:7d`.")
        try:
            return _minute(ctx.now - timedelta(**{_UNITS[match.group(2).lower()]: amount}))
        except OverflowError:
            raise _Invalid(f"`{key}:{value}` reaches too far back; use a shorter time like `{key}:30d`.") from None
    if _ISO.fullmatch(value):
        try:
            when = datetime.fromisoformat(value.upper())
        except ValueError:
            raise _Invalid(f"{_show(value)} is not a real date or time; check it, like `{key}:2024-05-01`.") from None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    raise _Invalid(
        f"{_show(value)} is not a time; use a length of time like `{key}:7d` (m, h, d, w) "
        f"or a date like `{key}:2024-05-01`."
    )


def _incident_ranges(value: str) -> str:
    """The reporting API's `incidentNumber` syntax, checked and normalised: `4,5,20:50`."""
    pieces: list[str] = []
    for piece in filter(None, value.split(",")):
        match = re.fullmatch(r"#?([0-9]{1,20})(?::#?([0-9]{1,20}))?", piece)
        if match is None:
            raise _Invalid(f"{_show(piece)} is not an incident number or range; write them like `number:4,5,20:50`.")
        ends = [n.lstrip("0") for n in match.groups() if n is not None]
        if any(not n for n in ends):
            raise _Invalid("Incident numbers start at 1; write them like `number:4,5,20:50`.")
        if any(len(n) > MAX_NUMBER_DIGITS for n in ends):
            raise _Invalid(f"{_show(piece)} is too long to be an incident number; write them like `number:4,5,20:50`.")
        if len(ends) == 2 and int(ends[0]) > int(ends[1]):
            raise _Invalid(f"{_show(piece)} is backwards; write the smaller number first, like `number:3:5`.")
        pieces.append(":".join(ends))
    if not pieces:
        raise _Invalid("`number:` needs incident numbers, like `number:4,5,20:50`.")
    if len(pieces) > MAX_NUMBERS:
        raise _Invalid(f"`number:` takes at most {MAX_NUMBERS} numbers or ranges; use ranges like `number:20:50`.")
    return ",".join(pieces)


def _no_arguments(word: str, make: Callable[[], Command]) -> Callable[[str, _Ctx], Command]:
    def parse_it(rest: str, ctx: _Ctx) -> Command:
        if rest.strip():
            raise _Invalid(f"`{word}` takes nothing after it; just type {ctx.ex(word)}.")
        return make()

    return parse_it


# ---- commands --------------------------------------------------------------------------------------------


def _help(rest: str, ctx: _Ctx) -> Command:
    words = rest.split()
    if not words:
        return Help()
    topic = words[0].lower()
    if topic not in _COMMANDS:
        raise _Invalid(_unknown(words[0], ctx))
    return Help(topic=topic)


_LIST_KEYS = ("route", "team")


def _list(rest: str, ctx: _Ctx) -> Command:
    scope: Literal["open", "mine", "triggered", "acked"] | None = None
    routes: list[str] = []
    teams: list[str] = []
    example = ctx.ex("list triggered route:db")
    for token in rest.split():
        word = token.lower()
        phase = parse_phase(word)
        new_scope: Literal["open", "mine", "triggered", "acked"] | None = None
        if word in ("all", "open"):
            new_scope = "open"
        elif word == "mine":
            new_scope = "mine"
        elif phase is Phase.UNACKED:
            new_scope = "triggered"
        elif phase is Phase.ACKED:
            new_scope = "acked"
        elif phase is Phase.RESOLVED:
            raise _Invalid(
                f"`list` shows open incidents only; use {ctx.ex('history phase:resolved')} for resolved ones."
            )
        if new_scope is not None:
            if scope is not None and scope != new_scope:
                raise _Invalid(f"`list` takes one of mine, triggered, acked or all, like {ctx.ex('list mine')}.")
            scope = new_scope
            continue
        if ":" not in token:
            raise _Invalid(
                f"{_show(token)} is not a `list` filter; use mine, triggered, acked, all, `route:<key>` or "
                f"`team:<slug>`, like {example}."
            )
        key, value = _filter(token, _LIST_KEYS, "`list`", example)
        if key == "route":
            routes.append(_free_value(key, value))
        else:
            teams.append(_slug(key, value))
    return ListIncidents(scope=scope or "open", routes=_dedupe(routes), teams=_dedupe(teams))


def _message(text: str) -> str | None:
    """An ack or resolve message: as typed, within the limit every path keeps."""
    message = decode(text).strip() or None
    if message and len(message) > MAX_NOTE:
        raise _Invalid(
            f"The message is {len(message)} characters; keep it to {MAX_NOTE} and say the rest in the channel."
        )
    return message


def _ack_like(verb: str, make: type[Ack] | type[Resolve]) -> Callable[[str, _Ctx], Command]:
    def parse_it(rest: str, ctx: _Ctx) -> Command:
        # Numbers never contain a colon, so the first one anywhere starts the message.
        head, _, text = rest.partition(":")
        message = _message(text)
        example = ctx.ex(f"{verb} 42", f"{verb} mine")
        items = [part for token in head.split() for part in token.split(",") if part]
        if any(item.lower() == "mine" for item in items):
            if len(items) > 1:
                raise _Invalid(f"`{verb} mine` cannot be combined with incident numbers; use one form, like {example}.")
            return make(mine=True, message=message)
        if not items:
            raise _Invalid(f"`{verb}` needs incident numbers, like {example}.")
        return make(numbers=_numbers(items, example), message=message)

    return parse_it


def _reroute(rest: str, ctx: _Ctx) -> Command:
    tokens = _tokens(rest)
    example = ctx.ex("reroute 42 to @person")
    cut = next((i for i, token in enumerate(tokens) if token.lower() == "to"), len(tokens))
    head, targets = tokens[:cut], tokens[cut + 1 :]
    if cut == len(tokens) and any(_looks_like_target(t) for t in head):
        raise _Invalid(f"Put `to` between the incident numbers and the targets, like {example}.")
    if not [part for token in head for part in token.split(",") if part]:
        raise _Invalid(f"`reroute` needs incident numbers before `to`, like {example}.")
    return Reroute(numbers=_numbers(head, example), targets=_targets(targets))


def _create(rest: str, ctx: _Ctx) -> Command:
    spans = list(_TOKEN.finditer(rest))
    words = [span.group() for span in spans]
    details: str | None = None
    # Details start at the first token that is `:` or starts/ends with one; `policy:x` and URLs are not it.
    cut = next((i for i, span in enumerate(spans) if span.group().startswith(":") or span.group().endswith(":")), None)
    if cut is not None:
        span = spans[cut]
        if span.group().startswith(":"):
            words, details = words[:cut], rest[span.start() + 1 :]
        else:
            words, details = [*words[:cut], span.group()[:-1]], rest[span.end() :]
        details = decode(details).strip() or None
    # Targets follow the rightmost standalone `to` after which every token looks like a target.
    start = len(words)
    while start > 0 and _looks_like_target(words[start - 1]):
        start -= 1
    targets: tuple[Target, ...] = ()
    if start < len(words) and start > 0 and words[start - 1].lower() == "to":
        targets = _targets(words[start:])
        words = words[: start - 1]
    summary = decode(" ".join(words)) or None
    if summary is None:
        if details or targets:
            raise _Invalid(f"`create` needs a summary first, like {ctx.ex('create DB down to @person : disk full')}.")
        return Create()
    if len(summary) > MAX_SUMMARY:
        raise _Invalid(
            f"The summary is {len(summary)} characters; keep it to {MAX_SUMMARY} and put the rest after `:` as details."
        )
    if details and len(details) > MAX_DETAILS:
        raise _Invalid(
            f"The details after `:` are {len(details)} characters; keep them to {MAX_DETAILS} and add the rest "
            "in VictorOps once the incident is open."
        )
    return Create(summary=summary, targets=targets, details=details)


_HISTORY_KEYS = ("phase", "service", "host", "route", "since", "before", "number", "page")
_HISTORY_REPEATABLE = frozenset({"phase", "service", "host"})


def _history(rest: str, ctx: _Ctx) -> Command:
    example = ctx.ex("history phase:resolved since:7d")
    seen: set[str] = set()
    phases: list[Phase] = []
    services: list[str] = []
    hosts: list[str] = []
    route: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    numbers: str | None = None
    page = 1
    for token in rest.split():
        key, value = _filter(token, _HISTORY_KEYS, "`history`", example)
        if key not in _HISTORY_REPEATABLE:
            _once(key, seen)
        if key == "phase":
            phases.extend(_phases(value))
        elif key in ("service", "host"):
            values = [_free_value(key, v) for v in value.split(",") if v]
            if not values:
                raise _Invalid(f"`{key}:` needs a name, like `{key}:db`.")
            (services if key == "service" else hosts).extend(values)
        elif key == "route":
            route = _free_value(key, value)
        elif key == "since":
            since = _time(key, value, ctx)
        elif key == "before":
            before = _time(key, value, ctx)
        elif key == "number":
            numbers = _incident_ranges(value)
        else:
            if not re.fullmatch(r"[0-9]{1,6}", value) or int(value) < 1:
                raise _Invalid(f"{_show(token)} is not a page; pages are numbered from 1, like `page:2`.")
            page = int(value)
    if since is not None and since > ctx.now:
        raise _Invalid("`since:` is in the future; give a time in the past, like `since:7d`.")
    if since is not None and before is not None and since >= before:
        raise _Invalid("`since:` must be earlier than `before:`; swap or widen them.")
    if since is None:
        # With only `before:`, the 7-day window ends there rather than at now, so it is never empty.
        since = _minute(min(ctx.now, before or ctx.now) - HISTORY_WINDOW)
    return History(
        phases=_canonical_phases(phases) if phases else ALL_PHASES,
        services=_dedupe(services),
        hosts=_dedupe(hosts),
        route=route,
        since=since,
        before=before,
        numbers=numbers,
        page=page,
    )


def _oncall(rest: str, ctx: _Ctx) -> Command:
    team = " ".join(decode(rest).split())
    if team.lower().startswith("team:"):
        team = team[5:].strip()
    if len(team) > 100:
        raise _Invalid(f"That team name is {len(team)} characters; give its name or slug, like {ctx.ex('oncall ops')}.")
    return OnCall(team=team or None)


def _vo_username(token: str, ctx: _Ctx) -> str:
    name = token[5:] if token.lower().startswith("user:") else token
    if not _VO_USERNAME.fullmatch(name):
        raise _Invalid(
            f"{_show(token)} is not a VictorOps username; write it as VictorOps shows it, like {ctx.ex('link jdoe')}."
        )
    return name


def _link(rest: str, ctx: _Ctx) -> Command:
    tokens = _tokens(rest)
    example = ctx.ex("link jdoe", "link @person jdoe")
    if not tokens:
        raise _Invalid(f"`link` needs a VictorOps username, like {example}.")
    if len(tokens) > 2:
        raise _Invalid(f"`link` takes a VictorOps username, optionally after a mention, like {example}.")
    if _MENTION.fullmatch(tokens[-1]):
        raise _Invalid(f"Put the VictorOps username last, after the mention, like {ctx.ex('link @person jdoe')}.")
    slack_user = _slack_user(tokens[0], ctx.ex("link @person jdoe")) if len(tokens) == 2 else None
    return Link(vo_username=_vo_username(tokens[-1], ctx), slack_user=slack_user)


def _unlink(rest: str, ctx: _Ctx) -> Command:
    tokens = _tokens(rest)
    example = ctx.ex("unlink", "unlink @person")
    if len(tokens) > 1:
        raise _Invalid(f"`unlink` takes at most one mention, like {example}.")
    return Unlink(slack_user=_slack_user(tokens[0], example) if tokens else None)


_DIGEST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?-]+")
_QUOTES = '"“”'  # Slack clients may turn straight quotes into curly ones
_DIGEST_KEYS = ("tz", "route", "team", "phase", "empty")


def _digest_name(token: str) -> str:
    if not _DIGEST_NAME.fullmatch(token):
        raise _Invalid(
            f"{_show(token)} is not a digest name; use up to 40 letters, digits, `-`, `_` or `.`, like `morning`."
        )
    return token


def _digest(rest: str, ctx: _Ctx) -> Command:
    sub = re.match(r"\s*(\S*)", rest)
    assert sub is not None  # the pattern matches every string
    word, tail = sub.group(1).lower(), rest[sub.end() :]
    if word in ("now", "list"):
        if tail.strip():
            raise _Invalid(f"`digest {word}` takes nothing after it; just type {ctx.ex('digest ' + word)}.")
        return DigestNow() if word == "now" else DigestList()
    if word == "add":
        return _digest_add(tail, ctx)
    if word == "remove":
        tokens = tail.split()
        if len(tokens) != 1:
            raise _Invalid(f"`digest remove` needs the digest's name, like {ctx.ex('digest remove morning')}.")
        return DigestRemove(name=_digest_name(tokens[0]))
    close = difflib.get_close_matches(word[:_SHOW], ("now", "list", "add", "remove"), n=1, cutoff=0.6)
    what = f"{_show(sub.group(1))} is not a `digest` command" if word else "`digest` needs now, list, add or remove"
    suggestion = ctx.ex("digest " + (close[0] if close else "list"))
    raise _Invalid(f"{what}; try {suggestion}, or see {ctx.ex('help digest')}.")


def _digest_add(rest: str, ctx: _Ctx) -> Command:
    example = ctx.ex('digest add morning "0 9 * * 1-5" tz:Europe/Berlin')
    first = re.match(r"\s*(\S+)", rest)
    if first is None:
        raise _Invalid(f"`digest add` needs a name and a cron schedule, like {example}.")
    name = _digest_name(first.group(1))
    after = rest[first.end() :].lstrip()
    if after[:1] and after[0] in _QUOTES:
        close = next((i for i, ch in enumerate(after[1:], 1) if ch in _QUOTES), -1)
        if close < 0:
            raise _Invalid(f"The schedule's closing quote is missing; write it like {example}.")
        fields, filters = after[1:close].split(), after[close + 1 :].split()
    else:
        tokens = after.split()
        cut = next((i for i, token in enumerate(tokens) if ":" in token), len(tokens))
        fields, filters = tokens[:cut], tokens[cut:]
    if len(fields) != 5:
        raise _Invalid(
            f"The schedule needs exactly 5 cron fields (minute hour day month weekday), got {len(fields)}; "
            f"write it like {example}."
        )
    for field in fields:
        if not _CRON_FIELD.fullmatch(field):
            raise _Invalid(f"{_show(field)} is not a cron field; write the schedule like {example}.")
    seen: set[str] = set()
    timezone: str | None = None
    routes: list[str] = []
    teams: list[str] = []
    phases: list[Phase] = []
    when_empty: Literal["post", "skip"] | None = None
    for token in filters:
        key, value = _filter(token, _DIGEST_KEYS, "digest", example)
        if key == "tz":
            _once(key, seen)
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+/-]{0,63}", value):
                raise _Invalid(f"{_show(value)} is not a time zone; use a name like `tz:Europe/Berlin` or `tz:UTC`.")
            timezone = value
        elif key == "route":
            routes.append(_free_value(key, value))
        elif key == "team":
            teams.append(_slug(key, value))
        elif key == "phase":
            phases.extend(_phases(value))
        else:
            _once(key, seen)
            if value.lower() not in ("post", "skip"):
                raise _Invalid(f"{_show(token)} is not a choice; use `empty:post` or `empty:skip`.")
            when_empty = "post" if value.lower() == "post" else "skip"
    return DigestAdd(
        name=name,
        schedule=" ".join(fields),
        timezone=timezone,
        routes=_dedupe(routes),
        teams=_dedupe(teams),
        phases=_canonical_phases(phases),
        when_empty=when_empty,
    )


_SUBSCRIBE_KEYS = ("route", "team", "policy")


def _subscribe(rest: str, ctx: _Ctx) -> Command:
    example = ctx.ex("subscribe route:db team:team-AbCd")
    found: dict[str, list[str]] = {key: [] for key in _SUBSCRIBE_KEYS}
    for token in rest.split():
        key, value = _filter(token, _SUBSCRIBE_KEYS, "`subscribe`", example)
        found[key].append(_free_value(key, value) if key == "route" else _slug(key, value))
    return Subscribe(routes=_dedupe(found["route"]), teams=_dedupe(found["team"]), policies=_dedupe(found["policy"]))


def _one_number(tokens: Sequence[str], verb: str, example: str) -> str:
    if not tokens:
        raise _Invalid(f"`{verb}` needs an incident number, like {example}.")
    numbers = _numbers(tokens[:1], example)
    if len(numbers) != 1:
        raise _Invalid(f"`{verb}` takes one incident at a time, like {example}.")
    return numbers[0]


def _snooze(rest: str, ctx: _Ctx) -> Command:
    example = ctx.ex("snooze 42 2h")
    tokens = rest.split()
    number = _one_number(tokens, "snooze", example)
    if len(tokens) != 2:
        raise _Invalid(f"`snooze` needs an incident number and how long, like {example} or {ctx.ex('snooze 42 30m')}.")
    try:
        length = snooze_length(tokens[1])
    except ValueError:
        raise _Invalid(
            f"{_show(tokens[1])} is not a snooze length: use minutes, hours or days up to 7 days, like "
            f"`30m`, `2h` or `1d` ({example})."
        ) from None
    return Snooze(number=number, length=length)


def _unsnooze(rest: str, ctx: _Ctx) -> Command:
    example = ctx.ex("unsnooze 42")
    tokens = rest.split()
    number = _one_number(tokens, "unsnooze", example)
    if len(tokens) != 1:
        raise _Invalid(f"`unsnooze` takes only an incident number, like {example}.")
    return Unsnooze(number=number)


_COMMANDS: dict[str, Callable[[str, _Ctx], Command]] = {
    "help": _help,
    "list": _list,
    "ack": _ack_like("ack", Ack),
    "resolve": _ack_like("resolve", Resolve),
    "reroute": _reroute,
    "create": _create,
    "history": _history,
    "oncall": _oncall,
    "link": _link,
    "unlink": _unlink,
    "whoami": _no_arguments("whoami", WhoAmI),
    "digest": _digest,
    "status": _no_arguments("status", Status),
    "subscribe": _subscribe,
    "unsubscribe": _no_arguments("unsubscribe", Unsubscribe),
    "subscriptions": _no_arguments("subscriptions", Subscriptions),
    "snooze": _snooze,
    "unsnooze": _unsnooze,
}
COMMAND_WORDS: tuple[str, ...] = tuple(_COMMANDS)
