"""Reminders in a feed card's thread while its incident waits: unacknowledged, every `remind_unacked`, the paged
people; acknowledged, every `remind_acked`, who acknowledged. Snoozed or stopped per incident, for every replica.

Every replica ticks (`tick(now)`, every `TICK` seconds). A reminder's slot is (incident, channel, kind, k): the
k-th interval (k >= 1) since the incident entered the phase, due at `since + k * interval`; at `now` only the
latest due slot is a candidate, so a bot that was down posts one reminder, not one per missed interval. The slot
is keyed by k, not by its due time: `since` comes from the bot's own clock after a click, then from VictorOps'
once it lists the incident, and a second's difference must not make a new slot. The database decides who posts a
slot (`ReminderClaims.claim`: the first insert wins), so it is posted once. A phase change is a different kind:
the old kind's slots are never candidates again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.core.feed import RANK, Feed, FeedCard
from bot.core.refusals import PostRefused, Refusals
from bot.victorops.models import Incident, Phase

log = logging.getLogger(__name__)

TICK = 15.0  # seconds between ticks: a reminder is posted at most this late (plus the tick's own work)
SNOOZE_BUTTON = timedelta(hours=1)  # the reminder's "Snooze 1h"
MAX_SNOOZE = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)  # claims of cards no longer open, and snoozes that ended, are dropped this often
PAUSED_RECHECK = timedelta(minutes=1)  # a pause seen is trusted this long: another replica's unsnooze is seen soon


class Kind(StrEnum):
    UNACKED = "unacked"  # the paged people are reminded
    ACKED = "acked"  # who acknowledged is reminded


@dataclass(frozen=True)
class Reminder:
    """One slot to post: in the thread of the card `ts` in `channel`, mentioning `people` (VictorOps usernames)."""

    incident: Incident
    channel: str
    ts: str  # the card's message
    kind: Kind
    since: datetime  # when the incident entered the phase
    interval: int  # seconds
    slot: int  # the k-th interval since then
    people: tuple[str, ...]

    @property
    def number(self) -> str:
        return self.incident.incident_number

    @property
    def waited(self) -> int:
        """Seconds in the phase when it fell due: what the reminder says."""
        return self.slot * self.interval

    @property
    def key(self) -> SlotKey:
        return (self.number, self.channel, self.kind, self.slot)


SlotKey = tuple[str, str, Kind, int]


@dataclass(frozen=True)
class Snooze:
    """The reminders of one incident paused until `until` (None: stopped for good), by a Slack user, at `at`."""

    number: str
    until: datetime | None
    by: str
    at: datetime

    def pauses(self, now: datetime) -> bool:
        return self.until is None or now < self.until


class Pause(StrEnum):
    SNOOZED = "snoozed"
    STOPPED = "stopped"
    RESUMED = "resumed"


@dataclass(frozen=True)
class Paused:
    """What `snooze`, `stop` or `unsnooze` did: `refused` says why nothing changed (None: done)."""

    number: str
    pause: Pause
    by: str
    until: datetime | None = None
    refused: Phase | None = None  # RESOLVED: no reminders to pause; UNACKED is never a refusal
    unknown: bool = False  # neither the view nor a feed card knows the number
    unchanged: bool = False  # an unsnooze of reminders that were not paused


class ReminderClaims(Protocol):
    """Claims of reminder slots (bot.store.reminders.ReminderClaims): the first claim of a slot wins, on any
    replica; one left unposted by a crash is taken over once it is stale."""

    async def claim(self, key: SlotKey) -> bool: ...
    async def posted(self, key: SlotKey, ts: str) -> None: ...
    async def release(self, key: SlotKey) -> None: ...
    # of `keys`, those posted (True) or claimed and not stale (False: in flight, perhaps by a process now dead)
    async def settled(self, keys: Sequence[SlotKey]) -> dict[SlotKey, bool]: ...
    async def prune(self) -> None: ...  # the claims of cards no longer open: nobody asks about them again


class Snoozes(Protocol):
    """Snoozes and stops per incident (bot.store.reminders.SnoozeStore), shared by every replica."""

    async def put(self, snooze: Snooze) -> None: ...  # one upsert: the latest snooze or stop wins
    async def clear(self, number: str) -> bool: ...
    async def of(self, numbers: Sequence[str]) -> dict[str, Snooze]: ...
    async def prune(self, before: datetime) -> None: ...  # snoozes ended before `before`


class OpenCards(Protocol):
    """The posted feed cards of open incidents, in one indexed read (bot.store.feed_cards.CardStore)."""

    async def open_cards(self, channels: Sequence[str]) -> list[FeedCard]: ...
    async def cards(self, numbers: Sequence[str]) -> list[FeedCard]: ...


class Held(Protocol):
    """The incidents as the shared view holds them, without asking VictorOps (IncidentView.held)."""

    async def held(self, numbers: Iterable[str]) -> dict[str, Incident | None]: ...


class ReminderPoster(Protocol):
    """Slack's side (bot.slack.reminders.ReminderPoster). Raises PostRefused when Slack refuses the channel for good."""

    async def remind(self, reminder: Reminder) -> str: ...  # the reply's ts
    async def paused(self, channel: str, ts: str, paused: Paused) -> None: ...  # the line in a card's thread


def phase_of(card: FeedCard, incident: Incident) -> Phase:
    """The card's phase (kept by the feed from webhooks and polls) or the view's, whichever is further on."""
    return max(card.phase, incident.current_phase, key=RANK.__getitem__)


def due_slot(since: datetime, interval: int, now: datetime) -> int | None:
    """The k of the latest `since + k * interval` (k >= 1) at or before `now`; None before the first."""
    k = int((now - since).total_seconds() // interval)
    return k if k >= 1 else None


def reminder_for(feed: Feed, card: FeedCard, incident: Incident, now: datetime) -> Reminder | None:
    """The slot of this card to post at `now`, snoozes and claims aside; None when there is none."""
    if card.ts is None or not feed.matches(incident):
        return None
    phase = phase_of(card, incident)
    if phase is Phase.UNACKED:
        kind, interval = Kind.UNACKED, feed.remind_unacked
        triggered = incident.last_transition(Phase.UNACKED)
        since = incident.start_time or (triggered.at if triggered else None)
        people = tuple(incident.paged_users)
    elif phase is Phase.ACKED:
        kind, interval = Kind.ACKED, feed.remind_acked
        acked = incident.last_transition(Phase.ACKED)  # None: the view is behind the card; next tick
        since = acked.at if acked else None
        people = (acked.by,) if acked and acked.by else ()
    else:
        return None
    if interval is None or since is None or (slot := due_slot(since, interval, now)) is None:
        return None
    return Reminder(incident, card.channel, card.ts, kind, since, interval, slot, people)


def snooze_length(text: str) -> timedelta:
    """`/vo snooze`'s `<n>m`, `<n>h` or `<n>d`, at most `MAX_SNOOZE`; ValueError saying what is wrong."""
    match = re.fullmatch(r"([0-9]{1,4})([mhd])", text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError("not a duration")
    length = timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]: int(match.group(1))})
    if length > MAX_SNOOZE:
        raise ValueError("longer than the longest snooze")
    return length


class Reminders:
    def __init__(
        self,
        feeds: Callable[[], Awaitable[list[Feed]]],
        cards: OpenCards,
        view: Held,
        claims: ReminderClaims,
        snoozes: Snoozes,
        poster: ReminderPoster,
        *,
        now: Callable[[], datetime],
        every: float = TICK,
    ) -> None:
        self.every = every
        self._feeds = feeds  # FeedSync.feeds: read at most every few seconds
        self._cards = cards
        self._view = view
        self._claims = claims
        self.snoozes = snoozes
        self._poster = poster
        self._now = now
        self.refusals = Refusals(now)
        self._settled: set[SlotKey] = set()  # current slots seen posted: not asked about again
        self._paused: dict[str, datetime] = {}  # incidents seen paused, until when that is trusted
        self._pruned: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every `every` seconds until `stop` is set; a failed tick (the database away) is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("reminders tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)

    async def tick(self, now: datetime | None = None) -> int:
        """Post the reminders due at `now` that nobody posted; how many this replica posted. With no reminder due
        this costs the cards' read, the feeds' (cached) and the shared view's, however many incidents are open."""
        now = now or self._now()
        await self._prune(now)
        feeds = {f.channel: f for f in await self._feeds() if f.remind_unacked or f.remind_acked}
        cards = [c for c in await self._cards.open_cards(sorted(feeds)) if not self.refusals.held(c.channel)]
        if not cards:
            self._settled.clear()
            return 0
        incidents = await self._view.held({c.number for c in cards})
        current = [
            r
            for c in cards
            if (incident := incidents.get(c.number)) is not None
            and (r := reminder_for(feeds[c.channel], c, incident, now)) is not None
        ]
        self._settled &= {r.key for r in current}  # only each card's current slot is worth remembering
        self._paused = {n: t for n, t in self._paused.items() if t > now}
        due = [r for r in current if r.key not in self._settled and r.number not in self._paused]
        if not due:
            return 0
        settled = await self._claims.settled([r.key for r in due])
        self._settled |= {key for key, posted in settled.items() if posted}  # one in flight is asked about again
        due = [r for r in due if r.key not in settled]
        snoozes = await self.snoozes.of(sorted({r.number for r in due})) if due else {}
        for number, snooze in snoozes.items():
            if snooze.pauses(now):
                recheck = now + PAUSED_RECHECK
                self._paused[number] = recheck if snooze.until is None else min(snooze.until, recheck)
        channels: dict[str, list[Reminder]] = {}
        for reminder in due:
            if reminder.number not in self._paused:
                channels.setdefault(reminder.channel, []).append(reminder)
        # each channel in order (Slack takes about a post a second in one), the channels side by side
        return sum(await asyncio.gather(*(self._channel(found) for found in channels.values())))

    async def _channel(self, reminders: list[Reminder]) -> int:
        return sum([await self._post(reminder) for reminder in reminders])

    async def _post(self, reminder: Reminder) -> int:
        if self.refusals.held(reminder.channel) or not await self._claims.claim(reminder.key):
            return 0  # refused a moment ago, or another replica has it
        try:
            ts = await self._poster.remind(reminder)
        except PostRefused as refused:
            await self._claims.release(reminder.key)
            if self.refusals.hold(refused):
                log.warning("reminders not posted to %s: %s", reminder.channel, refused.sentence)
            return 0
        except Exception:
            await self._claims.release(reminder.key)  # the next tick tries again
            log.exception("reminder of incident %s in %s failed", reminder.number, reminder.channel)
            return 0
        await self._claims.posted(reminder.key, ts)
        self._settled.add(reminder.key)
        self.refusals.clear(reminder.channel)
        return 1

    async def _prune(self, now: datetime) -> None:
        if self._pruned is not None and now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        await self._claims.prune()
        await self.snoozes.prune(now)

    async def under_card(self, number: str, channel: str | None, thread_ts: str | None) -> bool:
        """Whether a reminder in the thread `thread_ts` of `channel` is one of this incident's: its card is that
        thread's parent (a button's value names the incident; the message it was clicked on must agree)."""
        cards = await self._cards.cards([number])
        return thread_ts is not None and any(c.channel == channel and c.ts == thread_ts for c in cards)

    # ---- snooze, stop, unsnooze -----------------------------------------------------------------------------

    async def snooze(self, number: str, length: timedelta, by: str) -> Paused:
        now = self._now()
        return await self._pause(Paused(number, Pause.SNOOZED, by, until=now + min(length, MAX_SNOOZE)), now)

    async def stop(self, number: str, by: str) -> Paused:
        return await self._pause(Paused(number, Pause.STOPPED, by), self._now())

    async def unsnooze(self, number: str, by: str) -> Paused:
        return await self._pause(Paused(number, Pause.RESUMED, by), self._now())

    async def _pause(self, paused: Paused, now: datetime) -> Paused:
        """Refused for an incident resolved or unknown (no VictorOps call: the view and the feed's cards);
        else stored, and said in each of the incident's card threads."""
        cards = await self._cards.cards([paused.number])
        incident = (await self._view.held([paused.number]))[paused.number]
        phases = [c.phase for c in cards] + ([incident.current_phase] if incident else [])
        if not phases:
            return Paused(paused.number, paused.pause, paused.by, unknown=True)
        if max(phases, key=RANK.__getitem__) is Phase.RESOLVED:
            return Paused(paused.number, paused.pause, paused.by, refused=Phase.RESOLVED)
        if paused.pause is Pause.RESUMED:
            self._paused.pop(paused.number, None)
            if not await self.snoozes.clear(paused.number):
                return Paused(paused.number, paused.pause, paused.by, unchanged=True)  # nothing to say in threads
        else:
            await self.snoozes.put(Snooze(paused.number, paused.until, paused.by, now))
            self._paused[paused.number] = min(paused.until or now + PAUSED_RECHECK, now + PAUSED_RECHECK)
        for card in cards:
            if card.ts is not None and not self.refusals.held(card.channel):
                await self._say(card.channel, card.ts, paused)
        return paused

    async def _say(self, channel: str, ts: str, paused: Paused) -> None:
        try:
            await self._poster.paused(channel, ts, paused)
        except PostRefused as refused:
            if self.refusals.hold(refused):
                log.warning("reminder line not posted to %s: %s", channel, refused.sentence)
        except Exception:
            log.exception("reminder line in %s failed", channel)
