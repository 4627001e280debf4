"""The live feed's cards: each new incident posted once per feed channel, each later change an edit and one line
in the card's thread, and a storm rolled up into one message per channel and minute.

Who posts and who edits is decided in the database (`CardStore.claim`, `CardStore.advance`, `Rollups.add`), so a
webhook and a poll, or two replicas, seeing the same change act on it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.core.actions import FROM_SLACK
from bot.core.feed import RANK, CardStore, Feed, FeedCard, FeedStore
from bot.core.refusals import PostRefused, Refusals
from bot.victorops.models import Incident, Phase, Target

log = logging.getLogger(__name__)

FEEDS_TTL = 5.0  # seconds a read of the feeds serves: one read per burst of changes, a new feed seen soon
ROLLUP_EDIT_EVERY = 2.0  # seconds between edits of one rolled-up message: a storm is not an edit per incident


@dataclass(frozen=True)
class Moved:
    """An incident entered `phase`, by `by` (a VictorOps username), from Slack or elsewhere (VictorOps)."""

    phase: Phase
    by: str | None
    from_slack: bool


@dataclass(frozen=True)
class Rerouted:
    """A Slack user rerouted the incident to `targets` (learned from the sender: VictorOps' incident does not say)."""

    slack_user: str
    targets: tuple[Target, ...]


Change = Moved | Rerouted


@dataclass(frozen=True)
class Rerouting:
    """A reroute the action sender just made: the incidents, the Slack user, the targets."""

    numbers: tuple[str, ...]
    slack_user: str
    targets: tuple[Target, ...]


class Noticing(Protocol):
    """What the action sender tells the live feed (FeedSync), without waiting for Slack."""

    def noticed(self, incidents: Sequence[Incident] = (), rerouted: Rerouting | None = None) -> None: ...


@dataclass(frozen=True)
class Rollup:
    """One channel's storm minute: `numbers` past the feed's limit, in the message `ts` (None: not posted yet)."""

    channel: str
    minute: str
    numbers: tuple[str, ...]
    ts: str | None


class Rollups(Protocol):
    """Every new incident of a channel's minute, in order (bot.store.feed_cards.RollupStore): its position says
    whether it gets a card (below the feed's limit) or goes into the minute's rolled-up message."""

    async def add(self, channel: str, minute: str, number: str) -> int: ...  # its 0-based position; same if again
    async def rollup(self, channel: str, minute: str, limit: int) -> Rollup: ...  # the numbers from `limit` on
    async def posted(self, channel: str, minute: str, ts: str) -> None: ...


class CardPoster(Protocol):
    """Drawing and posting cards in a channel (bot.slack.feed.FeedPoster). Raises PostRefused when Slack refuses
    the channel for good (gone, archived, vobot not in it) or the token."""

    async def post(self, channel: str, incident: Incident) -> str: ...  # the message's ts
    async def update(self, channel: str, ts: str, incident: Incident) -> None: ...
    async def thread(self, channel: str, ts: str, change: Change) -> None: ...
    async def rollup(self, feed: Feed, rollup: Rollup) -> str: ...  # posts, or edits `rollup.ts`; the ts


MINUTE = "%Y-%m-%dT%H:%M"  # a storm minute's key, in UTC


def minute_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime(MINUTE)


def moved(incident: Incident) -> Moved:
    """The incident's latest phase change as a fact: who, and whether it came from Slack (`vo_message`)."""
    transition = incident.last_transition(incident.current_phase)
    if transition is None:
        return Moved(incident.current_phase, None, from_slack=False)
    return Moved(incident.current_phase, transition.by, from_slack=FROM_SLACK in (transition.message or ""))


def is_new(feed: Feed, incident: Incident) -> bool:
    """Triggered since the feed exists: the backlog (or an incident whose start VictorOps did not say) is not."""
    if incident.start_time is None:
        return False
    # VictorOps gives whole seconds: an incident of the feed's first second is new
    return feed.created_at is None or incident.start_time >= feed.created_at.replace(microsecond=0)


class FeedSync:
    """The core's `Reconciler`: what the webhook, the poll and the action sender hand changed incidents to."""

    def __init__(
        self,
        feeds: FeedStore,
        cards: CardStore,
        rollups: Rollups,
        poster: CardPoster,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        rollup_every: float = ROLLUP_EDIT_EVERY,
    ) -> None:
        self._feeds = feeds
        self._cards = cards
        self._rollups = rollups
        self._poster = poster
        self._now = now
        self._clock = clock
        self._rollup_every = rollup_every
        self.refusals = Refusals(now)
        self._cached: tuple[float, list[Feed]] | None = None
        self._editing: dict[tuple[str, str], asyncio.Task[None]] = {}  # rolled-up messages being kept in step
        self._stale: set[tuple[str, str]] = set()  # of those, the ones with numbers added since last drawn
        self._background: set[asyncio.Task[None]] = set()

    async def feeds(self) -> list[Feed]:
        if self._cached is None or self._clock() - self._cached[0] > FEEDS_TTL:
            self._cached = (self._clock(), await self._feeds.all())
        return self._cached[1]

    async def reconcile(self, incidents: Sequence[Incident]) -> None:
        """Post what is new in each feed, edit what moved forward; each channel on its own, in order. Every
        incident is judged on its own (its card's phase), so a partial list and a poll's whole list are alike."""
        if not incidents:
            return
        feeds = await self.feeds()
        if not feeds:
            return
        cards = {(c.number, c.channel): c for c in await self._cards.cards([i.incident_number for i in incidents])}
        await asyncio.gather(*(self._channel(feed, incidents, cards) for feed in feeds))

    async def rerouted(self, numbers: Sequence[str], slack_user: str, targets: Sequence[Target]) -> None:
        """A reroute done from Slack: one thread line on each of the incidents' cards."""
        change = Rerouted(slack_user, tuple(targets))
        for card in await self._cards.cards(numbers):
            if card.ts is not None and not self.refusals.held(card.channel):
                await self._safely(card.channel, self._poster.thread(card.channel, card.ts, change))

    def noticed(self, incidents: Sequence[Incident] = (), rerouted: Rerouting | None = None) -> None:
        """What the action sender just changed, reconciled in the background: the clicker's answer does not
        wait for Slack posts."""
        if incidents:
            self._spawn(self.reconcile(list(incidents)))
        if rerouted is not None:
            self._spawn(self.rerouted(rerouted.numbers, rerouted.slack_user, rerouted.targets))

    async def drain(self) -> None:
        """Wait for what runs in the background (shutdown, tests)."""
        while pending := self._background | set(self._editing.values()):
            await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _channel(self, feed: Feed, incidents: Sequence[Incident], cards: dict[tuple[str, str], FeedCard]) -> None:
        # No lock here: the database orders the cards (claims, positions) and the poster takes one post at a
        # time per channel, so an incident past the limit need not wait for the cards before it to be posted.
        for incident in incidents:
            if self.refusals.held(feed.channel):
                return  # reported when first refused; tried again when the hold ends
            if not feed.matches(incident):
                continue
            card = cards.get((incident.incident_number, feed.channel))
            try:
                if card is None:
                    await self._new(feed, incident)
                elif card.ts is not None and RANK[incident.current_phase] > RANK[card.phase]:
                    await self._moved(card, card.ts, incident)
            except PostRefused as refused:
                if self.refusals.hold(refused):
                    log.warning("feed cards not posted to %s: %s", feed.channel, refused.sentence)
            except Exception:
                log.exception("feed card of incident %s in %s failed", incident.incident_number, feed.channel)

    async def _new(self, feed: Feed, incident: Incident) -> None:
        number, channel = incident.incident_number, feed.channel
        if not is_new(feed, incident) or not await self._cards.claim(number, channel, incident.current_phase):
            return  # the backlog, or another webhook, poll or replica has it
        minute = minute_of(self._now())
        try:
            position = await self._rollups.add(channel, minute, number)
            if position >= feed.max_cards_per_minute:
                # the claim stays: the incident is shown in the rolled-up message, which the first past the
                # limit posts (and keeps in step), and the others edit once it is posted
                await self._cards.rolled_up(number, channel)
                self._keep_rollup(feed, minute, first=position == feed.max_cards_per_minute)
                return
            ts = await self._poster.post(channel, incident)
        except BaseException:
            await self._cards.release(number, channel)  # a later reconcile tries again
            raise
        await self._cards.posted(number, channel, ts)
        self.refusals.clear(channel)

    async def _moved(self, card: FeedCard, ts: str, incident: Incident) -> None:
        if not await self._cards.advance(card.number, card.channel, incident.current_phase):
            return  # an older event, or another replica edits it
        await self._poster.update(card.channel, ts, incident)
        await self._poster.thread(card.channel, ts, moved(incident))

    def _keep_rollup(self, feed: Feed, minute: str, *, first: bool) -> None:
        """Draw the minute's rolled-up message now and again while more arrive, at most every `rollup_every`."""
        key = (feed.channel, minute)
        self._stale.add(key)
        if key not in self._editing:  # else its next pass reads the numbers added since
            self._editing[key] = asyncio.create_task(self._draw_rollup(key, feed, first=first))

    async def _draw_rollup(self, key: tuple[str, str], feed: Feed, *, first: bool) -> None:
        channel, minute = key
        try:
            while key in self._stale:
                self._stale.discard(key)
                rollup = await self._rollups.rollup(channel, minute, feed.max_cards_per_minute)
                if rollup.ts is None and not first:
                    return  # whoever came first past the limit posts it, then reads the numbers again
                ts = await self._poster.rollup(feed, rollup)
                if rollup.ts is None:
                    await self._rollups.posted(channel, minute, ts)
                    self._stale.add(key)  # other replicas added numbers while it was not posted
                await asyncio.sleep(self._rollup_every)
        except PostRefused as refused:
            if self.refusals.hold(refused):
                log.warning("feed rollup not posted to %s: %s", channel, refused.sentence)
        except Exception:
            log.exception("feed rollup in %s for %s failed", channel, minute)
        finally:
            self._editing.pop(key, None)  # no await since the last look at `_stale`: nothing is missed

    async def _safely(self, channel: str, post: Coroutine[Any, Any, None]) -> None:
        try:
            await post
        except PostRefused as refused:
            if self.refusals.hold(refused):
                log.warning("feed thread line not posted to %s: %s", channel, refused.sentence)
        except Exception:
            log.exception("feed thread line in %s failed", channel)
