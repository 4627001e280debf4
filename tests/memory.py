"""The core's ports in memory, with the real stores' rules, for unit tests that run in milliseconds.

Each double keeps what its store guarantees (bot/store/queue.py, lease.py, budget.py, snapshots.py, links.py,
feeds.py):
`mark_sending` claims only pending rows, `claim_telling` says yes once, `hand_off` only while unfinished, one
live link per VictorOps user. tests/test_memory_ports.py runs the queue and the links against both, so a rule
changed on one side shows. Clocks are `tests.fakes.FakeClock`; `Completions` is the core's own (in memory
already).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.core.feed import Feed
from bot.core.identity import UNLINKED, Link, Profile, VictorOpsUserTaken, same_email
from bot.core.ingest import StoredEvent
from bot.core.outcomes import Verb
from bot.core.queue import QueuedAction
from bot.store.queue import ACTIVE, FINISHED
from bot.victorops.limits import Clock, RateSpec, SharedBudget, Sleep
from bot.victorops.models import (
    ActionResult,
    CreatedIncident,
    CreateIncidentRequest,
    Incident,
    Phase,
    PolicyInfo,
    RerouteRequest,
    RerouteStatus,
    Team,
    TeamOnCall,
    Transition,
    User,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # when the fake's incidents started and changed


def _stored(value: dict[str, Any]) -> dict[str, Any]:
    """What a JSON column gives back: a payload that is not JSON fails here as it would in the database."""
    loaded: dict[str, Any] = json.loads(json.dumps(value))
    return loaded


class MemoryQueue:
    """`bot.store.queue.ActionQueue`: the asker's Protocol (bot.core.actions.Queue) and the dispatcher's."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self.rows: dict[int, QueuedAction] = {}
        self._ids = 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _where(self, keep: Callable[[QueuedAction], bool]) -> list[QueuedAction]:
        return [a for _, a in sorted(self.rows.items()) if keep(a)]

    async def enqueue(
        self,
        *,
        verb: Verb,
        mine: bool = False,
        vo_username: str,
        slack_user_id: str,
        slack_name: str,
        incidents: Sequence[str],
        payload: dict[str, Any],
        reply: dict[str, Any],
        dedupe_key: str | None,
    ) -> tuple[QueuedAction, bool]:
        # the unique key: held by an unfinished action only (finishing releases it)
        if dedupe_key is not None and (same := self._where(lambda a: a.dedupe_key == dedupe_key)):
            return same[0], False
        self._ids += 1
        action = QueuedAction(
            id=self._ids, created_at=self._now(), verb=verb, mine=mine, vo_username=vo_username,
            slack_user_id=slack_user_id, slack_name=slack_name, incidents=tuple(incidents), payload=_stored(payload),
            reply=_stored(reply), status="pending", attempts=0, not_before=None, sent_at=None, finished_at=None,
            result=None, error=None, handed_off=False, dedupe_key=dedupe_key, told=False,
        )  # fmt: skip
        self.rows[action.id] = action
        return action, True

    async def get(self, action_id: int) -> QueuedAction | None:
        return self.rows.get(action_id)

    async def pending(self, now: float | None = None) -> list[QueuedAction]:
        at = datetime.fromtimestamp(self._clock() if now is None else now, UTC)
        return self._where(lambda a: a.status == "pending" and (a.not_before is None or a.not_before <= at))

    async def interrupted(self) -> list[QueuedAction]:
        return self._where(lambda a: a.status == "sending")

    async def depth(self) -> int:
        return len(self._where(lambda a: a.status in ACTIVE))

    async def ahead_of(self, action_id: int) -> list[QueuedAction]:
        return self._where(lambda a: a.status in ACTIVE and a.id < action_id)

    async def hand_off(self, action_id: int) -> bool:
        action = self.rows.get(action_id)
        if action is None or action.status not in ACTIVE:
            return False
        self.rows[action_id] = replace(action, handed_off=True)
        return True

    async def claim_telling(self, action_id: int) -> bool:
        action = self.rows.get(action_id)
        if action is None or action.status not in FINISHED or action.told:
            return False
        self.rows[action_id] = replace(action, told=True)
        return True

    async def untold(self, finished_before: float) -> list[QueuedAction]:
        at = datetime.fromtimestamp(finished_before, UTC)
        return self._where(
            lambda a: a.status in FINISHED and not a.told and a.finished_at is not None and a.finished_at < at
        )

    async def mark_sending(self, ids: Iterable[int]) -> list[QueuedAction]:
        claimed = []
        for action_id in sorted(set(ids)):
            action = self.rows.get(action_id)
            if action is not None and action.status == "pending":
                action = replace(action, status="sending", attempts=action.attempts + 1, sent_at=self._now())
                self.rows[action_id] = action
                claimed.append(action)
        return claimed

    async def complete(self, action_id: int, result: dict[str, Any]) -> QueuedAction:
        return self._finish(action_id, "done", result=_stored(result))

    async def fail(self, action_id: int, error: str, result: dict[str, Any] | None = None) -> QueuedAction:
        return self._finish(action_id, "failed", result=result, error=error)

    async def retry_later(self, ids: Iterable[int], not_before: float, error: str | None) -> None:
        at = datetime.fromtimestamp(not_before, UTC)
        for action_id in set(ids):
            action = self.rows.get(action_id)
            if action is not None and action.status == "sending":
                self.rows[action_id] = replace(action, status="pending", not_before=at, error=error)

    async def recent(self, limit: int = 100) -> list[QueuedAction]:
        return self._where(lambda _: True)[::-1][:limit]

    def _finish(
        self, action_id: int, status: str, result: dict[str, Any] | None = None, error: str | None = None
    ) -> QueuedAction:
        if action_id not in self.rows:
            raise LookupError(f"no queued action {action_id}")
        finished = replace(
            self.rows[action_id], status=status, result=result, error=error, finished_at=self._now(), dedupe_key=None
        )
        self.rows[action_id] = finished
        return finished


class MemoryLease:
    """`bot.store.lease.Lease`; replicas share `table` (lease name -> holder, expiry) as they share the database."""

    def __init__(
        self,
        table: dict[str, tuple[str, float]],
        holder: str,
        *,
        name: str = "dispatcher",
        ttl: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        self._table = table
        self.holder_id = holder
        self.name = name
        self.ttl = ttl
        self._clock = clock

    async def acquire(self) -> bool:
        now = self._clock()
        held = self._table.get(self.name)
        if held is None or held[0] == self.holder_id or held[1] < now:
            self._table[self.name] = (self.holder_id, now + self.ttl)
            return True
        return False

    async def release(self) -> None:
        if (held := self._table.get(self.name)) and held[0] == self.holder_id:
            self._table[self.name] = (self.holder_id, 0.0)

    async def holder(self) -> str | None:
        held = self._table.get(self.name)
        return held[0] if held and held[1] >= self._clock() else None


class MemoryWindow:
    """`bot.store.budget.SharedWindow`: the call stamps of one family; a call at `t` counts until `t + period`."""

    def __init__(self, spec: RateSpec, clock: Clock = time.time) -> None:
        self.spec = spec
        self._clock = clock
        self.calls: list[float] = []

    def _in_window(self) -> tuple[float, list[float]]:
        now = self._clock()
        self.calls = sorted(c for c in self.calls if c > now - self.spec.period)
        return now, self.calls

    def _wait(self) -> float:
        now, calls = self._in_window()
        excess = len(calls) - self.spec.count
        return 0.0 if excess < 0 else calls[excess] + self.spec.period - now

    async def reserve(self) -> float:
        if self.spec.unlimited:
            return 0.0
        if (wait := self._wait()) == 0:
            self.calls.append(self._clock())
        return wait

    async def wait_time(self) -> float:
        return 0.0 if self.spec.unlimited else self._wait()

    async def remaining(self) -> int | None:
        return None if self.spec.unlimited else max(0, self.spec.count - len(self._in_window()[1]))

    async def block_for(self, seconds: float) -> None:
        if self.spec.unlimited or seconds <= 0:
            return
        now, _ = self._in_window()
        self.calls += [now + seconds - self.spec.period] * self.spec.count


def gate(spec: str, clock: Clock, sleep: Sleep) -> SharedBudget:
    """The incidents budget as production builds it (a SharedBudget over a shared window), in memory."""
    return SharedBudget(MemoryWindow(RateSpec.parse(spec), clock), sleep)


class MemorySnapshots:
    """`bot.store.snapshots.Snapshots` as replicas share it: one refresh at a time per snapshot name."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[float, str]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get(self, name: str) -> tuple[float, str] | None:
        return self.rows.get(name)

    async def put(self, name: str, fetched_at: float, body: str) -> None:
        self.rows[name] = (fetched_at, body)

    async def expire(self, name: str) -> None:
        if name in self.rows:
            self.rows[name] = (0.0, self.rows[name][1])

    @asynccontextmanager
    async def refresh_lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks[name]:
            yield

    async def put_items(self, name: str, at: float, bodies: Mapping[str, str]) -> None:
        self.rows |= {f"{name}/{key}": (at, body) for key, body in bodies.items()}

    async def items(self, name: str, keys: Iterable[str] | None = None) -> dict[str, str]:
        found = {
            row.removeprefix(f"{name}/"): body for row, (_, body) in self.rows.items() if row.startswith(f"{name}/")
        }
        return found if keys is None else {k: found[k] for k in keys if k in found}

    async def drop_items(self, name: str, before: float) -> None:
        for row in [r for r, (at, _) in self.rows.items() if r.startswith(f"{name}/") and at < before]:
            del self.rows[row]


class MemoryFeeds:
    """`bot.store.feeds.FeedStore`: one feed per channel; replacing keeps `created_at`; the file wins."""

    def __init__(self, *feeds: Feed, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self.feeds: dict[str, Feed] = {}
        for feed in feeds:
            self._write(feed)

    def _write(self, feed: Feed) -> Feed:
        old = self.feeds.get(feed.channel)
        self.feeds[feed.channel] = replace(feed, created_at=old.created_at if old else self._now())
        return self.feeds[feed.channel]

    async def all(self) -> list[Feed]:
        return [self.feeds[channel] for channel in sorted(self.feeds)]

    async def get(self, channel: str) -> Feed | None:
        return self.feeds.get(channel)

    async def put(self, feed: Feed) -> Feed:
        return self._write(feed)

    async def remove(self, channel: str) -> bool:
        return self.feeds.pop(channel, None) is not None

    async def sync_config(self, feeds: Sequence[Feed]) -> None:
        for feed in feeds:
            self._write(feed)
        kept = {f.channel for f in feeds}
        self.feeds = {c: f for c, f in self.feeds.items() if f.source == "slack" or c in kept}


class MemoryLinks:
    """`bot.store.links.LinkStore`: one row per Slack user; `put` refuses a VictorOps user another Slack user
    holds, whatever its case (the unique index). `before_put` runs inside `put`, as a competing request would
    between check and write."""

    def __init__(self, *links: Link) -> None:
        self.rows: dict[str, Link] = {link.slack_user_id: link for link in links}
        self.before_put: Callable[[], None] = lambda: None

    async def all(self) -> list[Link]:
        return [self.rows[s] for s in sorted(self.rows)]

    async def get(self, slack_user_id: str) -> Link | None:
        return self.rows.get(slack_user_id)

    async def holders(self, vo_username: str) -> list[Link]:
        return [r for r in self.rows.values() if r.source != UNLINKED and r.vo_username.lower() == vo_username.lower()]

    async def put(self, link: Link) -> Link:
        self.before_put()
        if link.source != UNLINKED and any(
            h.slack_user_id != link.slack_user_id for h in await self.holders(link.vo_username)
        ):
            raise VictorOpsUserTaken(link.vo_username)
        stamped = replace(link, at=datetime.now(UTC))
        self.rows[link.slack_user_id] = stamped
        return stamped


class MemoryProfiles:
    """Slack's user profiles (bot.core.identity.Profiles)."""

    def __init__(self, *people: Profile) -> None:
        self.people = {p.user_id: p for p in people}

    async def profile(self, user_id: str) -> Profile | None:
        return self.people.get(user_id)

    async def email_shared(self, profile: Profile) -> bool:
        return any(same_email(p.email, profile.email) for p in self.people.values() if p.user_id != profile.user_id)


@dataclass(frozen=True)
class Audited:
    slack_user_id: str
    vo_username: str | None
    action: str
    incidents: tuple[str, ...]
    result: str
    detail: str | None


class MemoryAuditor:
    """The audit log (bot.core.audit.Auditor)."""

    def __init__(self) -> None:
        self.records: list[Audited] = []

    async def record(
        self,
        *,
        slack_user_id: str,
        vo_username: str | None,
        action: str,
        incidents: Sequence[str],
        result: str,
        detail: str | None = None,
    ) -> None:
        self.records.append(Audited(slack_user_id, vo_username, action, tuple(incidents), result, detail))


class MemoryVictorOps:
    """VictorOps as the core reaches it: the incident list (IncidentSource), the writes (IncidentWriter) and the
    lookups (LookupSource). Every call is in `calls`, e.g. ("ack", "alice", "1", "2"); the next writes raise
    `faults` in order (a rate limit, a lost answer), applying nothing."""

    def __init__(self, *incidents: Incident, users: Sequence[User] = ()) -> None:
        self.incidents = {i.incident_number: i for i in incidents}
        self.users = list(users)
        self.policies: list[PolicyInfo] = []
        self.teams: list[Team] = []
        self.oncall: list[TeamOnCall] = []
        self.members: dict[str, list[str]] = {}  # team slug -> usernames
        self.calls: list[tuple[str, ...]] = []
        self.faults: list[Exception] = []

    def writes(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] not in ("list", "users", "policies", "teams", "oncall", "members")]

    def phase(self, number: str) -> Phase:
        return self.incidents[number].current_phase

    def set_phase(self, number: str, phase: Phase, by: str) -> None:
        """The incident as someone (here or elsewhere) left it."""
        incident = self.incidents[number]
        transition = Transition(name=phase.value, at=NOW, by=by)
        self.incidents[number] = incident.model_copy(
            update={"current_phase": phase, "transitions": [*incident.transitions, transition]}
        )

    def _write(self, *call: str) -> None:
        self.calls.append(call)
        if self.faults:
            raise self.faults.pop(0)

    def _move(self, verb: str, user: str, numbers: Sequence[str]) -> list[ActionResult]:
        wanted = Phase.ACKED if verb == "ack" else Phase.RESOLVED
        results = []
        for number in numbers:
            incident = self.incidents.get(number)
            if incident is None or incident.current_phase is Phase.RESOLVED or incident.current_phase is wanted:
                results.append(ActionResult(incident_number=number, cmd_accepted=False, message="not open"))
            else:
                self.set_phase(number, wanted, user)
                results.append(ActionResult(incident_number=number, cmd_accepted=True))
        return results

    async def list_incidents(self) -> list[Incident]:
        self.calls.append(("list",))
        await asyncio.sleep(0)  # others arrive while it is in flight
        return list(self.incidents.values())

    async def ack(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]:
        self._write("ack", user, *numbers)
        return self._move("ack", user, numbers)

    async def resolve(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]:
        self._write("resolve", user, *numbers)
        return self._move("resolve", user, numbers)

    def _paging(self, user: str) -> list[str]:
        return [n for n, i in self.incidents.items() if user in i.paged_users]

    async def ack_by_user(self, user: str, message: str | None = None) -> list[ActionResult]:
        self._write("ack_by_user", user)
        return self._move("ack", user, self._paging(user))

    async def resolve_by_user(self, user: str, message: str | None = None) -> list[ActionResult]:
        self._write("resolve_by_user", user)
        return self._move("resolve", user, self._paging(user))

    async def reroute(self, request: RerouteRequest) -> list[RerouteStatus]:
        self._write("reroute", request.user_name, *(r.incident_number for r in request.reroutes))
        return [RerouteStatus(incident_number=r.incident_number, success=True) for r in request.reroutes]

    async def create_incident(self, request: CreateIncidentRequest) -> CreatedIncident:
        self._write("create", request.user_name, request.summary)
        number = str(max((int(n) for n in self.incidents), default=0) + 1)
        self.incidents[number] = Incident(
            incident_number=number,
            current_phase=Phase.UNACKED,
            start_time=NOW,
            entity_display_name=request.summary,
            monitor_name=f"vouser-{request.user_name}",
        )
        return CreatedIncident(incident_number=number)

    async def list_users(self) -> list[User]:
        self.calls.append(("users",))
        return self.users

    async def list_policies(self) -> list[PolicyInfo]:
        self.calls.append(("policies",))
        return self.policies

    async def list_teams(self) -> list[Team]:
        self.calls.append(("teams",))
        return self.teams

    async def oncall_now(self) -> list[TeamOnCall]:
        self.calls.append(("oncall",))
        return self.oncall

    async def team_members(self, team_slug: str) -> list[str]:
        self.calls.append(("members", team_slug))
        return self.members.get(team_slug, [])


class MemoryEvents:
    """`bot.store.events.EventStore`: one row per key (a redelivery inserts nothing)."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredEvent] = {}
        self.done: dict[int, datetime] = {}

    async def add(self, key: str, number: str, phase: str, body: Mapping[str, Any], at: datetime) -> int | None:
        if key in self.rows:
            return None
        self.rows[key] = StoredEvent(len(self.rows) + 1, at, _stored(dict(body)))
        return len(self.rows)

    async def processed(self, event_id: int, at: datetime) -> None:
        self.done.setdefault(event_id, at)

    async def unprocessed(self) -> list[StoredEvent]:
        return [e for e in self.rows.values() if e.id not in self.done]

    async def last_received(self) -> datetime | None:
        return max((e.received_at for e in self.rows.values()), default=None)


class RecordingReconciler:
    """A Reconciler that remembers what it was handed: each call's numbers and phases."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Phase]] = []

    async def reconcile(self, incidents: Sequence[Incident]) -> None:
        self.calls.append({i.incident_number: i.current_phase for i in incidents})

    def seen(self) -> dict[str, Phase]:
        """Every incident handed over, at its last phase."""
        return {n: p for found in self.calls for n, p in found.items()}
