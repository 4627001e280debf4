"""The dispatcher: sends queued actions to VictorOps within the budget, on exactly one replica at a time.

Every replica runs one; the one holding the database lease sends, the others wait to take over (the lease
expires within seconds when its holder dies). Acks (and resolves) of one VictorOps user that arrive within
`batch_window` seconds of each other go out as one call. A rate limit, a refused connection, a server
error or a lost answer puts the action back in the queue for later (the sender reads back what may have
landed before sending again); a failure that will not heal (unknown user, bad request) ends it. Either way
the person who asked hears about it through `on_done`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from bot.core.actions import Completions, batchable, call_key
from bot.core.audit import Auditor
from bot.core.errors import ActionError, MayHaveCreated, NotSent, VictorOpsRefused, failure_json
from bot.core.outcomes import Verb, plain, summary, verb_name
from bot.core.queue import QueuedAction
from bot.core.sender import ActionSender, Sent
from bot.victorops import errors
from bot.victorops.limits import Clock, Gate

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # transient failures; past this the action is reported as failed rather than retried forever
HOLD = 3  # windows a batch may keep waiting for more clicks
SHUTDOWN_GRACE = 5.0  # seconds a call in flight may take to finish when the bot stops
IDLE = 1.0  # seconds between looks at the queue when nothing woke us (another replica may have queued)


class Queue(Protocol):
    async def pending(self, now: float | None = None) -> list[QueuedAction]: ...
    async def interrupted(self) -> list[QueuedAction]: ...
    async def mark_sending(self, ids: Sequence[int]) -> list[QueuedAction]: ...
    async def complete(self, action_id: int, result: dict[str, object]) -> QueuedAction: ...
    async def fail(self, action_id: int, error: str, result: dict[str, object] | None = None) -> QueuedAction: ...
    async def retry_later(self, ids: Sequence[int], not_before: float, error: str | None) -> None: ...
    async def claim_telling(self, action_id: int) -> bool: ...
    async def untold(self, finished_before: float) -> list[QueuedAction]: ...


class Lease(Protocol):
    ttl: float

    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...


def plan(
    pending: Sequence[QueuedAction], now: float, window: float, seen: Mapping[int, float] | None = None
) -> tuple[list[QueuedAction], float]:
    """The next batch to send and 0, or no batch and how long until one is ready.

    Actions are grouped — acks (or resolves) by VictorOps user, anything else alone. A group goes out once
    no click has joined it for `window` seconds (at most `HOLD` windows after its first), so a burst of one
    person's clicks shares one call. `seen` is when the dispatcher first saw each action: under load one can
    become visible in the database well after it was stamped, and it should still join its group.
    """
    seen = seen or {}
    groups: dict[tuple[object, ...], list[QueuedAction]] = {}
    for action in pending:
        groups.setdefault(call_key(action) if window > 0 else (action.id,), []).append(action)
    soonest = float("inf")
    for group in groups.values():
        ready_at = group[0].created_at.timestamp()
        if batchable(group[0]):
            newest = max(max(a.created_at.timestamp(), seen.get(a.id, 0.0)) for a in group)
            ready_at = min(newest + window, ready_at + HOLD * window)
        if ready_at <= now:
            return group, 0.0
        soonest = min(soonest, ready_at - now)
    return [], soonest


def gave_up(action: QueuedAction, error: Exception) -> ActionError:
    """Why an action is given up after every attempt, as the person who asked is told."""
    if action.verb == Verb.CREATE and isinstance(error, errors.VictorOpsError) and error.may_have_landed:
        return MayHaveCreated(action.payload["summary"])
    return failure(error) if isinstance(error, errors.VictorOpsError) else NotSent()


class Dispatcher:
    def __init__(
        self,
        *,
        queue: Queue,
        lease: Lease,
        sender: ActionSender,
        gate: Gate,
        auditor: Auditor,
        on_done: Callable[[QueuedAction], Awaitable[None]],
        completions: Completions | None = None,
        depth: Callable[[int], None] = lambda _: None,
        batch_window: float = 1.0,
        handed_off_after: float = 8.0,
        clock: Clock = time.time,
    ) -> None:
        self._queue = queue
        self._lease = lease
        self._sender = sender
        self._gate = gate
        self._audit = auditor
        self._on_done = on_done  # how to tell the person who asked
        self._completions = completions or Completions()
        self._depth = depth  # reports how many actions wait (metrics)
        self.batch_window = batch_window
        self._handed_off_after = handed_off_after
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._leadership = asyncio.Lock()
        self._seen: dict[int, float] = {}  # action id -> when this dispatcher first saw it pending
        self._in_flight: set[int] = set()  # ids this process is sending now: never "recovered" from under us
        self.leader = False

    def wake(self) -> None:
        """Something was queued in this process: look now rather than at the next poll."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: keep the lease fresh and send whatever is ready.

        On stop, a call in flight gets `SHUTDOWN_GRACE` seconds to finish; one still waiting for budget
        then is put back in the queue, for whichever replica sends next.
        """
        keeper = asyncio.create_task(self._keep_lease(stop))
        try:
            while not stop.is_set():
                delay = await self._step_until(stop)
                await self._pause(delay, stop)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if self.leader:
                await self._lease.release()
                self.leader = False

    async def _step_until(self, stop: asyncio.Event) -> float:
        step = asyncio.ensure_future(self.step())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not step.done():
            await asyncio.wait({step}, timeout=SHUTDOWN_GRACE)
            step.cancel()
        try:
            return await step
        except asyncio.CancelledError:
            return 0.0
        except Exception:
            log.exception("the dispatcher failed a step; trying again shortly")
            return IDLE

    async def _pause(self, delay: float, stop: asyncio.Event) -> None:
        if delay <= 0:
            return
        waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=min(delay, IDLE), return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        self._wakeup.clear()

    async def _keep_lease(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.take_lease()
            except Exception:
                # Cannot renew (the database is away): stop sending at once, another replica may take over.
                log.exception("could not renew the dispatcher lease; not sending until it is renewed")
                self.leader = False
            await self._pause_plain(self._lease.ttl / 3, stop)

    async def _pause_plain(self, delay: float, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    async def take_lease(self) -> bool:
        """Take or renew the lease; on becoming the sender, first finish what a dead sender left mid-flight."""
        async with self._leadership:
            was_leader, self.leader = self.leader, await self._lease.acquire()
            if self.leader and not was_leader:
                log.info("this replica now sends queued VictorOps actions")
                interrupted = [a.id for a in await self._queue.interrupted() if a.id not in self._in_flight]
                if interrupted:
                    # Sent or not, we cannot tell: the sender reads each back before sending what did not land.
                    await self._queue.retry_later(interrupted, self._clock(), "interrupted")
            elif was_leader and not self.leader:
                log.warning("this replica lost the dispatcher lease; another one sends now")
            return self.leader

    async def step(self) -> float:
        """Send one batch if this replica holds the lease and one is ready; returns how long to wait."""
        if not self.leader and not await self.take_lease():
            return IDLE
        now = self._clock()
        for action in await self._queue.untold(now - self._handed_off_after):
            await self._tell(action)
        pending = await self._queue.pending(now)
        self._depth(len(pending))
        self._seen = {a.id: self._seen.get(a.id, now) for a in pending}
        batch, wait = plan(pending, now, self.batch_window, self._seen)
        if not batch:
            return wait
        await self.send(batch)
        return 0.0

    async def send(self, batch: list[QueuedAction]) -> None:
        ids = [a.id for a in batch]
        self._in_flight.update(ids)
        try:
            # Only what this call claims is sent: a row another sender claimed, or that finished, is skipped.
            claimed = await self._queue.mark_sending(ids)
            if claimed:
                await self._send(claimed)
        except asyncio.CancelledError:  # shutting down: back to the queue, not left "sending"
            await asyncio.shield(self._queue.retry_later(ids, self._clock(), "interrupted by shutdown"))
            raise
        finally:
            self._in_flight.difference_update(ids)

    async def _send(self, batch: list[QueuedAction]) -> None:
        try:
            results = await self._sender.send(batch)
        except (errors.RateLimited, errors.Unavailable, errors.ServerError, errors.InvalidResponse) as exc:
            await self._later(batch, exc)
            return
        except (errors.VictorOpsError, ActionError) as exc:
            for action in batch:
                await self._fail(action, failure(exc))
            return
        except Exception as exc:  # a bug or the database: try again later, and give up (telling the user) in the end
            log.exception("sending %d queued action(s) failed", len(batch))
            await self._later(batch, exc)
            return
        for action in batch:
            sent = results.get(action.id, Sent([]))
            await self._finish(await self._queue.complete(action.id, sent.to_result()), sent)

    async def _later(self, batch: list[QueuedAction], error: Exception) -> None:
        attempts = max(a.attempts for a in batch)  # counted when claimed
        if attempts > MAX_ATTEMPTS:
            reason = gave_up(batch[0], error)
            for action in batch:
                await self._fail(action, reason)
            return
        if isinstance(error, errors.RateLimited) and error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = min(2.0**attempts, self._gate.spec.period)
        log.warning("VictorOps call for %d queued action(s) deferred %.0f s: %s", len(batch), delay, error)
        await self._queue.retry_later([a.id for a in batch], self._clock() + delay, str(error))

    async def _fail(self, action: QueuedAction, error: ActionError) -> None:
        await self._finish(await self._queue.fail(action.id, str(error), {"failed": failure_json(error)}), None)

    async def _finish(self, action: QueuedAction, sent: Sent | None) -> None:
        self._completions.finished(action.id)
        outcomes = sent.outcomes if sent else []
        await self._audit.record(
            slack_user_id=action.slack_user_id,
            vo_username=action.vo_username,
            action=verb_name(action.verb, action.mine),
            incidents=[o.number for o in outcomes if o.number] or list(action.incidents),
            result=summary(outcomes) if sent else "failed",
            detail=action.error if not sent else "; ".join(plain(o) for o in outcomes if not o.done) or None,
        )
        # The person who asked is told here when they stopped waiting (handed off). Otherwise they are waiting
        # and tell themselves; if they never do (the process that queued it died), `step` tells them after
        # `handed_off_after` seconds. Either way through `claim_telling`, so exactly once.
        if action.handed_off:
            await self._tell(action)

    async def _tell(self, action: QueuedAction) -> None:
        if not await self._queue.claim_telling(action.id):
            return
        try:
            await self._on_done(action)
        except Exception:
            log.exception("could not tell the user about queued action %d", action.id)


def failure(error: Exception) -> ActionError:
    """A failure as the person who asked is told it: the core's facts, or VictorOps' own sentence."""
    return error if isinstance(error, ActionError) else VictorOpsRefused(str(error))
