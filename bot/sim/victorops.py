"""A stateful VictorOps (Splunk On-Call) simulator, built to docs/reference/victorops-api.md.

One in-memory incident store seen through two views: the public API (`UNACKED`/`ACKED`/`RESOLVED`,
`routingdefault`, manual transitions only) and the reporting API (lower case, `default`, with the `triggered`
transition). Around it: the lookups, the REST alert endpoint, per-family rate limits, and control endpoints
under /_sim/. Where the reference is UNCONFIRMED the behaviour is a `SimConfig` switch whose default is the
reference's suggestion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import json
import logging
import math
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sim.seed import DEFAULT_ROUTE, Action, Directory, IncidentSeed, Policy, Team, User, build_seed
from bot.victorops.limits import Clock, RateSpec, SlidingWindow
from bot.victorops.models import DIRECT_USER_POLICY

Family = Literal["incidents", "reporting", "lookups"]
Phase = Literal["UNACKED", "ACKED", "RESOLVED"]
Command = Literal["ack", "resolve"]
Json = dict[str, Any]

log = logging.getLogger(__name__)

PHASES: tuple[Phase, ...] = ("UNACKED", "ACKED", "RESOLVED")
REPORTING_PHASES: dict[Phase, str] = {"UNACKED": "triggered", "ACKED": "acknowledged", "RESOLVED": "resolved"}
ALERT_URL = "https://api.victorops.com/api-public/v1/alerts/"
ALERT_TYPES = ("CRITICAL", "WARNING", "INFO", "ACKNOWLEDGEMENT", "RECOVERY")
MAX_REPORT_LIMIT = 100
INCIDENTS_LIMIT = RateSpec(6, 60.0)
REPORTING_LIMIT = RateSpec(1, 60.0)
LOOKUPS_LIMIT = RateSpec(15, 60.0)


@dataclass
class SimConfig:
    api_id: str = "demo"
    api_key: str = "demo"
    # A key created read-only "will only be able to perform GET requests"; what a write then gets is
    # UNCONFIRMED: 403 {"message": "Forbidden"} here.
    read_only_key: str | None = None
    incidents: RateSpec = INCIDENTS_LIMIT  # every path under /api-public/v1/incidents shares this window
    reporting: RateSpec = REPORTING_LIMIT  # /api-reporting/...
    lookups: RateSpec = LOOKUPS_LIMIT  # user, team, policies, oncall
    # Switches for UNCONFIRMED behaviour; the defaults follow the reference's suggestions.
    rate_limit_status: Literal[429, 403] = 429  # 403: the "legacy" answer of spec 0.0.2-era scripts
    # The message of a rate-limit answer; None: no body. No real rate-limit 403 body was ever captured, so a
    # client must not rely on it (e.g. 403 with "Forbidden", the same as a read-only key's write).
    rate_limit_body: str | None = "Too Many Requests"
    send_retry_after: bool = False
    # ack/resolve of an unknown or closed incident: 404/400 for the whole call instead of cmdAccepted false
    strict_ack_errors: bool = False
    reporting_limit_over_max: Literal["clamp", "reject"] = "clamp"
    public_trigger_transition: bool = False
    org_slug: str = "vobot-demo"  # in incidentLink
    resolved_listed_for: float = 3600.0  # seconds a resolved incident stays in GET /incidents
    seed: int = 1
    clock: Clock = time.time  # epoch seconds; drives timestamps and the rate-limit windows
    # On-call that changes by itself: every this many seconds of `clock`, each policy's on-call passes to the
    # next member of its team (None: only POST /_sim/oncall changes it).
    rotate_every: float | None = None
    # GET /oncall/current leaves out a team with nobody on call (UNCONFIRMED: the reference shows teams with
    # people only); False: such a team is listed with an empty `oncallNow`.
    oncall_omits_empty: bool = False


# ---------------------------------------------------------------------------------------------------------------
# The incident store


@dataclass(frozen=True)
class Transition:
    phase: Phase
    at: float
    by: str | None = None
    message: str | None = None
    alert_id: str | None = None  # set when an alert caused it; otherwise a person did it by hand


@dataclass(frozen=True)
class PagedPolicy:
    name: str
    slug: str
    team: Team | None = None  # None: the policy VictorOps generates to page a user directly

    def view(self) -> Json:
        team = {"name": self.team.name, "slug": self.team.slug} if self.team else {"name": "", "slug": ""}
        return {"policy": {"name": self.name, "slug": self.slug}, "team": team}


@dataclass(frozen=True)
class Target:
    type: Literal["User", "EscalationPolicy"]
    slug: str


@dataclass
class Incident:
    number: int
    entity_id: str
    summary: str  # entityDisplayName and service
    routing_key: str  # public spelling (routingdefault)
    start_time: float
    alert_id: str  # the first alert
    monitor_name: str
    monitor_type: str
    host: str | None
    transitions: list[Transition]
    last_alert_time: float
    last_alert_id: str
    alert_count: int = 1
    phase: Phase = "UNACKED"
    entity_state: str = "CRITICAL"
    paged_policies: list[PagedPolicy] = field(default_factory=list)
    paged_users: list[str] = field(default_factory=list)  # being notified now: emptied by an ack
    paged_teams: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # who was paged last: what reporting keeps showing

    def last(self, phase: Phase) -> Transition | None:
        return next((t for t in reversed(self.transitions) if t.phase == phase), None)

    def refusal(self, command: Command) -> str | None:
        """Why `command` cannot apply now, or None. Both need an open incident; ack needs an unacked one."""
        if self.phase == "RESOLVED":
            return f"Incident {self.number} is already resolved"
        if command == "ack" and self.phase == "ACKED":
            return f"Incident {self.number} is already acknowledged"
        return None

    def apply(
        self, command: Command, at: float, by: str | None, message: str | None = None, alert_id: str | None = None
    ) -> None:
        self.phase = "ACKED" if command == "ack" else "RESOLVED"
        self.paged_users = []  # nobody is being notified any more
        if command == "resolve":
            self.entity_state = "OK"
        self.transitions.append(Transition(self.phase, at, by, message, alert_id))


def on_call(policy: PagedPolicy, directory: Directory) -> tuple[str, ...]:
    if policy.team is None:
        return (policy.slug.removeprefix(DIRECT_USER_POLICY),)
    return directory.on_call(policy.slug)


def paged_for(incident: Incident, username: str, directory: Directory) -> bool:
    """The byUser endpoints' "paged for" (UNCONFIRMED in the reference; this is the simulator's rule).

    A user is paged for an incident when they are in its current pagedUsers, or on call now for one of its
    pagedPolicies (a direct page counts through its generated policy). Ack empties pagedUsers but keeps the
    policies, so an acked incident still counts for byUser/resolve. byUser/ack takes the UNACKED incidents
    that match, byUser/resolve the UNACKED and ACKED ones.
    """
    return username in incident.paged_users or any(username in on_call(p, directory) for p in incident.paged_policies)


@dataclass(frozen=True)
class AlertEvent:
    """The fields of a REST-endpoint alert that the simulator uses."""

    message_type: str
    entity_id: str
    display_name: str
    host: str | None = None
    monitoring_tool: str = "REST"
    author: str | None = None  # ack_author
    message: str | None = None  # ack_message


@dataclass(frozen=True)
class Reroute:
    number: str
    targets: list[Target]
    add: bool = False


@dataclass(frozen=True)
class ReportQuery:
    """The reporting API's filters (§5.1 of the reference)."""

    offset: int = 0
    limit: int = 20
    phases: frozenset[str] = frozenset({"resolved"})
    numbers: tuple[tuple[int, int], ...] = ()  # inclusive ranges; empty means any
    entity_id: str | None = None
    started_after: float | None = None
    started_before: float | None = None
    hosts: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    routing_key: str | None = None  # reporting spelling (default)

    def matches(self, incident: Incident) -> bool:
        start = incident.start_time
        return (
            REPORTING_PHASES[incident.phase] in self.phases
            and (not self.numbers or any(low <= incident.number <= high for low, high in self.numbers))
            and self.entity_id in (None, incident.entity_id)
            and (self.started_after is None or start > self.started_after)
            and (self.started_before is None or start < self.started_before)
            and (not self.hosts or incident.host in self.hosts)
            and (not self.services or incident.summary in self.services)
            and self.routing_key in (None, reporting_route(incident.routing_key))
        )


@dataclass(frozen=True)
class Fault:
    """The answer to one applied call, lost: replaced by `status` (None keeps it), after `delay` seconds."""

    status: int | None = 500
    delay: float = 0.0


@dataclass(frozen=True)
class CallRecord:
    """One API call as received. Request headers, and so the API key, are never kept."""

    at: float
    method: str
    path: str
    query: str
    family: Family | None  # None: an unknown path
    status: int
    rate_limited: bool
    body: str

    def view(self) -> Json:
        return {
            "at": iso(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "family": self.family,
            "status": self.status,
            "rateLimited": self.rate_limited,
            "body": self.body,
        }


class ApiError(Exception):
    """An error answer: its status and the `{"message": ...}` body sent with it (no body without a message)."""

    def __init__(
        self,
        status: int,
        message: str | None,
        headers: Mapping[str, str] | None = None,
        *,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message or "")
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.rate_limited = rate_limited

    def response(self) -> Response:
        if self.message is None:
            return Response(b"", self.status, headers=self.headers)
        return JSONResponse({"message": self.message}, self.status, headers=self.headers)


# ---------------------------------------------------------------------------------------------------------------
# The two views of an incident, and the lookups' shapes


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reporting_route(routing_key: str) -> str:
    return "default" if routing_key == DEFAULT_ROUTE else routing_key


def _transition_view(transition: Transition) -> Json:
    view: Json = {"name": transition.phase, "at": iso(transition.at), "manually": transition.alert_id is None}
    if transition.by:
        view["by"] = transition.by
    if transition.message:
        view["message"] = transition.message
    if transition.alert_id:
        view |= {"alertId": transition.alert_id, "alertUrl": ALERT_URL + transition.alert_id}
    return view


def _shared_fields(incident: Incident) -> Json:
    view: Json = {
        "incidentNumber": str(incident.number),
        "startTime": iso(incident.start_time),
        "alertCount": incident.alert_count,
        "lastAlertTime": iso(incident.last_alert_time),
        "lastAlertId": incident.last_alert_id,
        "entityId": incident.entity_id,
        "entityDisplayName": incident.summary,
        "service": incident.summary,
        "pagedUsers": list(incident.paged_users),
        "pagedTeams": list(incident.paged_teams),
        "pagedPolicies": [p.view() for p in incident.paged_policies],
    }
    if incident.host:
        view["host"] = incident.host
    return view


def public_view(incident: Incident, config: SimConfig) -> Json:
    """The incident as /api-public/v1/incidents shows it."""
    shown = incident.transitions[0 if config.public_trigger_transition else 1 :]  # [0] is the trigger
    return _shared_fields(incident) | {
        "currentPhase": incident.phase,
        "entityState": incident.entity_state,
        "entityType": "SERVICE",
        "routingKey": incident.routing_key,
        "transitions": [_transition_view(t) for t in shown],
        "monitorName": incident.monitor_name,
        "monitorType": incident.monitor_type,
        "firstAlertUuid": incident.alert_id,
        "incidentLink": f"https://portal.victorops.com/ui/{config.org_slug}/incident/{incident.number}/details",
    }


def _reporting_transition(transition: Transition, incident: Incident) -> Json:
    """Reporting names the alert of every transition, a person's ack too, and has no `manually` (§8 item 14)."""
    alert = transition.alert_id or incident.last_alert_id
    view: Json = {"name": REPORTING_PHASES[transition.phase], "at": iso(transition.at)}
    if transition.by:
        view["by"] = transition.by
    if transition.message:
        view["message"] = transition.message
    return view | {"alertId": alert, "alertUrl": ALERT_URL + alert}


def reporting_view(incident: Incident) -> Json:
    """The incident as /api-reporting/v2/incidents shows it: lower case, `default` route, with the trigger,
    and the users paged still listed after an ack."""
    return _shared_fields(incident) | {
        "currentPhase": REPORTING_PHASES[incident.phase],
        "entityState": incident.entity_state.lower(),
        "entityType": "service",
        "routingKey": reporting_route(incident.routing_key),
        "pagedUsers": list(incident.notified),
        "transitions": [_reporting_transition(t, incident) for t in incident.transitions],
    }


def reporting_v1_view(incident: Incident, directory: Directory) -> Json:
    """The deprecated reporting v1 model of spec 0.0.3 (`entityDispName`, `lastAlertID`, `teams` as text)."""
    view: Json = {
        "incidentNumber": str(incident.number),
        "startTime": iso(incident.start_time),
        "currentPhase": REPORTING_PHASES[incident.phase],
        "alertCount": incident.alert_count,
        "lastAlertTime": iso(incident.last_alert_time),
        "lastAlertID": incident.last_alert_id,
        "entityId": incident.entity_id,
        "entityDispName": incident.summary,
        "entityType": "service",
        "host": incident.host or "",
        "service": incident.summary,
        "teams": ",".join(incident.paged_teams),
    }
    if ack := incident.last("ACKED"):
        user = directory.user(ack.by or "")
        view["ackTime"], view["ackUserId"] = iso(ack.at), ack.by or ""
        view["ackUser"] = (
            {"email": user.email, "first": user.first_name, "last": user.last_name}
            if user
            else {"email": "", "first": ack.by or "", "last": ""}
        )
    if resolved := incident.last("RESOLVED"):
        view["endTime"] = iso(resolved.at)
    return view


def user_view(user: User) -> Json:
    created = iso(user.created_at)
    return {
        "firstName": user.first_name,
        "lastName": user.last_name,
        "displayName": user.display_name,
        "username": user.username,
        "email": user.email,
        "createdAt": created,
        "passwordLastUpdated": created,
        "verified": user.verified,
        "_selfUrl": f"/api-public/v1/user/{user.username}",
    }


def team_view(team: Team) -> Json:
    url = f"/api-public/v1/team/{team.slug}"
    return {
        "name": team.name,
        "slug": team.slug,
        "memberCount": len(team.members),
        "version": 1,
        "isDefaultTeam": team.is_default,
        "_selfUrl": url,
        "_membersUrl": f"{url}/members",
        "_policiesUrl": f"{url}/policies",
        "_adminsUrl": f"{url}/admins",
    }


def _result(name: str, entity_id: str, accepted: bool, message: str) -> Json:
    return {"incidentNumber": name, "entityId": entity_id, "cmdAccepted": accepted, "message": message}


_T = TypeVar("_T")


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------------------------
# The state

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _millis(timestamp: float) -> int:
    return int(timestamp * 1000)


def webhook_body(incident: Incident) -> Json:
    """The raw outgoing-webhook body (reference §6a): flat dotted keys, lists by index, numbers partly as
    strings, `null` for what has not happened."""
    acked, resolved = incident.last("ACKED"), incident.last("RESOLVED")
    body: Json = {
        "INCIDENT.INCIDENT_ID": str(incident.number),
        "INCIDENT.INCIDENT_NAME": f"#{incident.number}",
        "INCIDENT.INCIDENT_TIMESTAMP": _millis(incident.start_time),
        "INCIDENT.CURRENT_PHASE": incident.phase,
        "INCIDENT.ENTITY_STATE": incident.entity_state,
        "INCIDENT.ENTITY_DISPLAY_NAME": incident.summary,
        "INCIDENT.SERVICE": incident.summary,
        "INCIDENT.HOST": incident.host,
        "INCIDENT.ENTITY_TYPE": "SERVICE",
        "INCIDENT.MONITOR_TYPE": incident.monitor_type,
        "INCIDENT.MONITOR_NAME": incident.monitor_name,
        "INCIDENT.ALERT_COUNT": str(incident.alert_count),
        "INCIDENT.TAGS.0": "routing" + reporting_route(incident.routing_key),
        "INCIDENT.SEQUENCING.SEQUENCE": str(len(incident.transitions)),
        "ALERT.entity_id": incident.entity_id,
        "ALERT.entity_display_name": incident.summary,
        "ALERT.entity_state": incident.entity_state,
        "ALERT.VO_UUID": incident.last_alert_id,
        "ALERT.VO_ALERT_RCV_TIME": str(_millis(incident.last_alert_time)),
        "STATE.INCIDENT_NAME": str(incident.number),
        "STATE.CURRENT_ALERT_PHASE": incident.phase,
        "STATE.ACK_USER": acked.by if acked and acked.by else "SYSTEM",
        "STATE.ACK_MSG": (acked.message or "") if acked else "",
        "STATE.ACK_TIMESTAMP": _millis(acked.at) if acked else 0,
        "STATE.ACKED_BY": acked.by if acked else None,
        "STATE.ACKED_AT": str(_millis(acked.at)) if acked else None,
        "STATE.RESOLVED_BY": resolved.by if resolved else None,
        "STATE.RESOLVED_AT": str(_millis(resolved.at)) if resolved else None,
        "STATE.ENTITY_ID": incident.entity_id,
        "STATE.ALERT_COUNT": incident.alert_count,
    }
    if incident.monitor_type == "API":  # an alert through the REST endpoint carries its routing key
        body["ALERT.routing_key"] = incident.routing_key
    for index, user in enumerate(incident.paged_users):
        body[f"STATE.USERS_PAGED.{index}"] = user
    for index, policy in enumerate(incident.paged_policies):
        prefix = f"INCIDENT.POLICIES_PAGED.{index}"
        team = policy.team
        body |= {
            f"{prefix}.POLICY.NAME": policy.name,
            f"{prefix}.POLICY.SLUG": policy.slug,
            f"{prefix}.TEAM.NAME": team.name if team else "",
            f"{prefix}.TEAM.SLUG": team.slug if team else "",
        }
    return body


class WebhookSender:
    """POSTs webhook bodies, in order, from a thread of its own: a change never waits for the receiver."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self._token = url, token
        self._queue: queue.Queue[Json | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
        self._thread.start()

    def send(self, body: Json) -> None:
        self._queue.put(body)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        params = {"token": self._token} if self._token else {}
        with httpx.Client(timeout=10) as client:
            while (body := self._queue.get()) is not None:
                try:
                    client.post(self.url, params=params, json=body)
                except httpx.HTTPError as exc:  # as VictorOps would: the delivery is lost
                    log.warning("webhook to %s failed: %s", self.url, type(exc).__name__)


def _fingerprint(incident: Incident) -> tuple[Any, ...]:
    return (incident.phase, len(incident.transitions), incident.alert_count, tuple(incident.paged_users))


def _emitting(method: Callable[Concatenate[SimState, _P], _R]) -> Callable[Concatenate[SimState, _P], _R]:
    """After a change, a webhook for each incident it changed (lock held)."""

    @functools.wraps(method)
    def emitting(self: SimState, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if self._webhooks is None:
            return method(self, *args, **kwargs)
        before = {n: _fingerprint(i) for n, i in self._incidents.items()}
        try:
            return method(self, *args, **kwargs)
        finally:
            for number, incident in self._incidents.items():
                if before.get(number) != _fingerprint(incident):
                    self._webhooks.send(webhook_body(incident))

    return emitting


def _locked(method: Callable[Concatenate[SimState, _P], _R]) -> Callable[Concatenate[SimState, _P], _R]:
    @functools.wraps(method)
    def locked(self: SimState, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class SimState:
    """Directory, incidents, rate-limit windows and the call log.

    Every public method holds one lock, so a test can poke and read the state from its own thread while the
    server runs in another. Private methods expect the lock to be held.
    """

    directory: Directory
    _incidents: dict[int, Incident]
    _windows: dict[Family, SlidingWindow]
    _calls: list[CallRecord]
    _faults: dict[tuple[str, str], Fault]
    _rng: random.Random

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._lock = threading.Lock()
        self._webhooks: WebhookSender | None = None
        self.reset()

    @_locked
    def webhook(self, number: str) -> Json | None:
        """The webhook body the incident's last change sent (or would have)."""
        found = self._find(number)
        return webhook_body(found) if found else None

    @_locked
    def send_webhooks(self, url: str | None, token: str | None = None) -> None:
        """POST the §6a body to `url` on every incident change from now on (None: stop), as VictorOps'
        outgoing webhook `Any-Incident` would, with the token in the query."""
        if self._webhooks is not None:
            self._webhooks.close()
        self._webhooks = WebhookSender(url, token) if url else None

    def now(self) -> float:
        return self.config.clock()

    @_locked
    def reset(self) -> None:
        """Reseed: the seeded directory and incidents, full budgets, an empty call log."""
        config = self.config
        seed = build_seed(config.seed, self.now())
        self.directory = seed.directory
        self._rotated_at = self.now()
        self._rng = random.Random(config.seed)  # ids of new incidents and alerts, deterministic too
        self._incidents = {}
        self._calls = []
        self._faults = {}
        self._windows = {
            "incidents": SlidingWindow(config.incidents, config.clock),
            "reporting": SlidingWindow(config.reporting, config.clock),
            "lookups": SlidingWindow(config.lookups, config.clock),
        }
        for recipe in seed.incidents:
            self._replay(recipe)

    # -- who is on call

    @_locked
    def set_on_call(self, policy_slug: str, usernames: Sequence[str]) -> None:
        """POST /_sim/oncall: who is on call for a policy from now on (new incidents page them)."""
        self._rotate()
        if self.directory.policy(policy_slug) is None:
            raise ApiError(404, f"no policy {policy_slug}")
        if unknown := [u for u in usernames if self.directory.user(u) is None]:
            raise ApiError(400, f"no user {unknown[0]}")
        self._set_policies(lambda p: tuple(dict.fromkeys(usernames)) if p.slug == policy_slug else p.on_call)

    @_locked
    def on_call_now(self) -> dict[str, tuple[str, ...]]:
        """Policy slug -> who is on call, as GET /oncall/current would say now."""
        self._rotate()
        return {p.slug: p.on_call for p in self.directory.policies}

    def _rotate(self) -> None:
        """The rotations due by now (`rotate_every`), each passing every policy's on-call to the next member."""
        every = self.config.rotate_every
        if not every:
            return
        due = int((self.now() - self._rotated_at) // every)
        for _ in range(due):
            self._set_policies(lambda p: tuple(dict.fromkeys(_next_member(p.team.members, u) for u in p.on_call)))
        self._rotated_at += due * every

    def _set_policies(self, on_call: Callable[[Policy], tuple[str, ...]]) -> None:
        policies = tuple(dataclasses.replace(p, on_call=on_call(p)) for p in self.directory.policies)
        self.directory = dataclasses.replace(self.directory, policies=policies)

    # -- gate and call log

    @_locked
    def admit(self, family: Family, api_id: str | None, api_key: str | None, write: bool = False) -> None:
        """Auth, then budget: a refused call costs no budget, and a rate-limited call is not applied."""
        if not api_id or not api_key:
            raise ApiError(401, "Authentication parameters missing")
        read_only = self.config.read_only_key is not None and hmac.compare_digest(api_key, self.config.read_only_key)
        if not (
            hmac.compare_digest(api_id, self.config.api_id)
            and (read_only or hmac.compare_digest(api_key, self.config.api_key))
        ):
            raise ApiError(403, "Authentication failed")
        if read_only and write:
            raise ApiError(403, "Forbidden")
        self._rotate()
        window = self._windows[family]
        if not window.try_acquire():
            retry = {"Retry-After": str(max(1, math.ceil(window.wait_time())))} if self.config.send_retry_after else {}
            status, body = self.config.rate_limit_status, self.config.rate_limit_body
            raise ApiError(status, body, retry, rate_limited=True)

    @_locked
    def fail_next(self, method: str, path: str, *, status: int | None = 500, delay: float = 0.0) -> None:
        """The next `method path` call is applied as usual and then its answer is lost: a 500 instead, or
        (with `delay` longer than the client waits) a timeout — a write VictorOps made but never confirmed."""
        self._faults[(method.upper(), path)] = Fault(status, delay)

    @_locked
    def take_fault(self, method: str, path: str) -> Fault | None:
        return self._faults.pop((method, path), None)

    @_locked
    def log_call(self, record: CallRecord) -> None:
        self._calls.append(record)

    @_locked
    def calls(self) -> list[CallRecord]:
        return list(self._calls)

    @_locked
    def budget(self) -> dict[Family, int | None]:
        """Calls left in each family's window right now (None: unlimited)."""
        return self._budget()

    @_locked
    def snapshot(self) -> Json:
        """What GET /_sim/state shows."""
        phases = Counter(i.phase for i in self._incidents.values())
        return {
            "now": iso(self.now()),
            "incidents": self._listed(),
            "budget": self._budget(),
            "counts": {
                "incidents": len(self._incidents),
                **{phase: phases[phase] for phase in PHASES},
                "calls": len(self._calls),
                "rateLimited": sum(c.rate_limited for c in self._calls),
            },
        }

    # -- reading incidents

    @_locked
    def incidents(self) -> list[Json]:
        """GET /api-public/v1/incidents: open and acked incidents, and those resolved in the last while."""
        return self._listed()

    @_locked
    def incident(self, number: str) -> Json | None:
        incident = self._find(number)
        return public_view(incident, self.config) if incident else None

    @_locked
    def report(self, query: ReportQuery, view: Callable[[Incident], Json]) -> tuple[int, list[Json]]:
        """The total that matches `query` and one page of it, newest first."""
        found = [i for i in reversed(self._incidents.values()) if query.matches(i)]  # numbers only grow
        return len(found), [view(i) for i in found[query.offset : query.offset + query.limit]]

    # -- changing incidents

    @_locked
    @_emitting
    def trigger(self, summary: str, routing_key: str = DEFAULT_ROUTE, *, entity_id: str | None = None) -> str:
        """A CRITICAL alert as the REST endpoint would take it; returns the incident number."""
        self._rotate()
        event = AlertEvent("CRITICAL", entity_id or self._new_id(), summary)
        return str(self._critical(routing_key, event, self.now()).number)

    @_locked
    @_emitting
    def ingest_alert(self, routing_key: str, body: Mapping[str, Any]) -> str:
        """The REST endpoint: returns the entity id; a bad body raises ApiError."""
        self._rotate()
        event = self._alert_event(body)
        self._on_alert(routing_key, event, self.now())
        return event.entity_id

    @_locked
    @_emitting
    def create(self, username: str, summary: str, targets: list[Target]) -> Json:
        """POST /incidents. The required `details` are checked by the handler but shown by no view."""
        self._require_user(username)
        for target in targets:
            if self._paged_policy(target) is None:
                raise ApiError(400, f"Unknown target: {target.type} {target.slug!r}")
        incident = self._create(username, summary, targets, self.now())
        return {"incidentNumber": str(incident.number), "entityId": incident.entity_id}

    @_locked
    @_emitting
    def act(self, command: Command, username: str, names: list[str], message: str | None = None) -> list[Json]:
        """Ack or resolve by number. An unknown or closed incident gets `cmdAccepted: false` and a message
        (UNCONFIRMED); with `strict_ack_errors` the whole call fails instead, 404 or 400, and changes nothing."""
        self._require_user(username)
        if self.config.strict_ack_errors:
            self._check_all(command, names)
        return [self._act_one(command, name, username, message) for name in names]

    @_locked
    @_emitting
    def act_by_user(self, command: Command, username: str, message: str | None = None) -> list[Json]:
        """Ack or resolve every incident the user is paged for; see `paged_for`."""
        self._require_user(username)
        now = self.now()
        chosen = [
            i for i in self._incidents.values() if i.refusal(command) is None and paged_for(i, username, self.directory)
        ]
        for incident in chosen:
            incident.apply(command, now, username, message)
        return [_result(str(i.number), i.entity_id, True, "") for i in chosen]

    @_locked
    @_emitting
    def reroute(self, username: str, reroutes: list[Reroute]) -> list[Json]:
        self._require_user(username)
        return [self._reroute_one(r) for r in reroutes]

    # -- private helpers (lock held)

    def _budget(self) -> dict[Family, int | None]:
        return {family: window.remaining() for family, window in self._windows.items()}

    def _listed(self) -> list[Json]:
        since = self.now() - self.config.resolved_listed_for
        return [
            public_view(i, self.config)
            for i in self._incidents.values()
            if (resolved := i.last("RESOLVED")) is None or resolved.at >= since
        ]

    def _find(self, number: str) -> Incident | None:
        return self._incidents.get(int(number)) if number.isascii() and number.isdigit() else None

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _require_user(self, username: str) -> None:
        if self.directory.user(username) is None:
            raise ApiError(404, f"User not found: {username}")

    def _paged_policy(self, target: Target) -> PagedPolicy | None:
        if target.type == "User":
            if self.directory.user(target.slug) is None:
                return None
            return PagedPolicy(f"Generated Direct User Policy for {target.slug}", DIRECT_USER_POLICY + target.slug)
        policy = self.directory.policy(target.slug)
        return PagedPolicy(policy.name, policy.slug, policy.team) if policy else None

    def _page(self, incident: Incident, policies: list[PagedPolicy], *, add: bool = False) -> None:
        """Page `policies` (instead of, or with `add` besides, those paged now) and their on-call users."""
        if add:
            policies = incident.paged_policies + policies
        incident.paged_policies = _unique(policies)
        incident.paged_users = _unique(u for p in incident.paged_policies for u in on_call(p, self.directory))
        incident.notified = list(incident.paged_users)
        incident.paged_teams = _unique(p.team.slug for p in incident.paged_policies if p.team)

    def _open(
        self,
        at: float,
        entity_id: str,
        summary: str,
        routing_key: str,
        monitor: tuple[str, str],
        host: str | None = None,
    ) -> Incident:
        alert_id = self._new_id()
        incident = Incident(
            number=max(self._incidents, default=0) + 1,
            entity_id=entity_id,
            summary=summary,
            routing_key=routing_key,
            start_time=at,
            alert_id=alert_id,
            monitor_name=monitor[0],
            monitor_type=monitor[1],
            host=host,
            transitions=[Transition("UNACKED", at, alert_id=alert_id)],
            last_alert_time=at,
            last_alert_id=alert_id,
        )
        self._incidents[incident.number] = incident
        return incident

    def _create(self, username: str, summary: str, targets: list[Target], at: float) -> Incident:
        incident = self._open(at, self._new_id(), summary, DEFAULT_ROUTE, (f"vouser-{username}", "Manual"))
        self._page(incident, [p for t in targets if (p := self._paged_policy(t))])
        return incident

    def _on_alert(self, routing_key: str, event: AlertEvent, at: float) -> None:
        """CRITICAL opens or adds to the entity's incident; ACKNOWLEDGEMENT and RECOVERY ack and resolve its
        open incident; WARNING and INFO change nothing here."""
        if event.message_type == "CRITICAL":
            self._critical(routing_key, event, at)
        elif event.message_type in ("ACKNOWLEDGEMENT", "RECOVERY") and (incident := self._open_for(event.entity_id)):
            command: Command = "ack" if event.message_type == "ACKNOWLEDGEMENT" else "resolve"
            if incident.refusal(command) is None:
                incident.apply(command, at, event.author, event.message, alert_id=self._new_id())

    def _open_for(self, entity_id: str) -> Incident | None:
        incidents = reversed(self._incidents.values())
        return next((i for i in incidents if i.entity_id == entity_id and i.phase != "RESOLVED"), None)

    def _critical(self, routing_key: str, event: AlertEvent, at: float) -> Incident:
        incident = self._open_for(event.entity_id)
        if incident:
            incident.alert_count += 1
            incident.last_alert_time, incident.last_alert_id = at, self._new_id()
            return incident
        monitor = (event.monitoring_tool, "API")
        incident = self._open(at, event.entity_id, event.display_name, routing_key, monitor, event.host)
        policies = [self._paged_policy(Target("EscalationPolicy", s)) for s in self.directory.route(routing_key)]
        self._page(incident, [p for p in policies if p])
        return incident

    def _alert_event(self, body: Mapping[str, Any]) -> AlertEvent:
        message_type = body.get("message_type")
        if not isinstance(message_type, str) or message_type.upper() not in ALERT_TYPES:
            raise ApiError(400, f"message_type is required and must be one of {', '.join(ALERT_TYPES)}")
        entity_id = _field(body, "entity_id") or self._new_id()  # random when omitted, as VictorOps does
        return AlertEvent(
            message_type.upper(),
            entity_id,
            _field(body, "entity_display_name") or entity_id,
            host=_field(body, "host_name"),
            monitoring_tool=_field(body, "monitoring_tool") or "REST",
            author=_field(body, "ack_author"),
            message=_field(body, "ack_message"),
        )

    def _replay(self, recipe: IncidentSeed) -> None:
        """Make a seeded incident through the same code paths as the API and the REST endpoint."""
        if recipe.created_by:
            targets = [Target("User", u) for u in recipe.page_users]
            incident = self._create(recipe.created_by, recipe.summary, targets, recipe.started)
        else:
            event = AlertEvent(
                "CRITICAL", recipe.entity_id or self._new_id(), recipe.summary, recipe.host, recipe.monitoring_tool
            )
            incident = self._critical(recipe.routing_key, event, recipe.started)
            for n in range(1, recipe.alert_count):  # repeats, a minute apart
                self._critical(recipe.routing_key, event, recipe.started + 60.0 * n)
        steps: tuple[tuple[Command, Action | None], ...] = (("ack", recipe.ack), ("resolve", recipe.resolve))
        for command, action in steps:
            if action:
                alert_id = None if action.by else self._new_id()  # no person: the monitoring tool did it
                incident.apply(command, action.at, action.by, action.message, alert_id)

    def _check_all(self, command: Command, names: list[str]) -> None:
        for name in names:
            incident = self._find(name)
            if incident is None:
                raise ApiError(404, f"Incident {name} not found")
            if refusal := incident.refusal(command):
                raise ApiError(400, refusal)

    def _act_one(self, command: Command, name: str, username: str, message: str | None) -> Json:
        incident = self._find(name)
        if incident is None:
            return _result(name, "", False, f"Incident {name} not found")
        refusal = incident.refusal(command)
        if refusal is None:
            incident.apply(command, self.now(), username, message)
        return _result(name, incident.entity_id, refusal is None, refusal or "")

    def _reroute_one(self, reroute: Reroute) -> Json:
        """Page the valid targets; each target reports its own status, the incident succeeds when all did.
        A rerouted incident is UNACKED again, since new people are paged (UNCONFIRMED)."""
        incident = self._find(reroute.number)
        problem = (
            f"Incident {reroute.number} not found"
            if incident is None
            else (f"Incident {reroute.number} is resolved" if incident.phase == "RESOLVED" else None)
        )
        if incident is None or problem:
            statuses = [{"slug": t.slug, "success": False, "message": problem} for t in reroute.targets]
            return {"incidentNumber": reroute.number, "success": False, "message": problem, "targetStatus": statuses}
        policies = [self._paged_policy(t) for t in reroute.targets]
        valid = [p for p in policies if p]
        if valid:
            self._page(incident, valid, add=reroute.add)
            incident.phase = "UNACKED"
        statuses = [
            {"slug": t.slug, "success": p is not None, "message": "Rerouted" if p else f"Unknown {t.type} {t.slug!r}"}
            for t, p in zip(reroute.targets, policies, strict=True)
        ]
        success = bool(statuses) and all(s["success"] for s in statuses)
        message = f"Incident {reroute.number} rerouted" if success else "Some targets were not rerouted"
        return {"incidentNumber": reroute.number, "success": success, "message": message, "targetStatus": statuses}


# ---------------------------------------------------------------------------------------------------------------
# Request parsing


@dataclass(frozen=True)
class ApiRequest:
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes

    def json(self) -> Json:
        return _json_object(self.body)


def _json_object(body: bytes) -> Json:
    try:
        value = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return value


def _text(body: Json, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{key} is required and must be a non-empty string")
    return value


def _optional_text(body: Json, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{key} must be a string")
    return value


def _field(body: Mapping[str, Any], key: str) -> str | None:
    """A REST-endpoint field as text; the endpoint is lenient about types."""
    value = body.get(key)
    return str(value) if value not in (None, "") else None


def _targets(value: Any, where: str) -> list[Target]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, f"{where} is required and must be a non-empty list of {{type, slug}}")
    targets = []
    for item in value:
        kind, slug = (item.get("type"), item.get("slug")) if isinstance(item, dict) else (None, None)
        if kind not in ("User", "EscalationPolicy") or not isinstance(slug, str) or not slug:
            raise ApiError(400, f"each of {where} needs type User or EscalationPolicy and a slug, got {item!r}")
        targets.append(Target(kind, slug))
    return targets


def _names(body: Json) -> list[str]:
    names = body.get("incidentNames")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "incidentNames is required and must be a non-empty list of strings")
    return names


def _reroutes(body: Json) -> list[Reroute]:
    items = body.get("reroutes")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ApiError(400, "reroutes is required and must be a non-empty list of objects")
    reroutes = []
    for index, item in enumerate(items):
        number, add = item.get("incidentNumber"), item.get("addTargets", False)
        if not isinstance(number, str) or not isinstance(add, bool):
            raise ApiError(400, f"reroutes[{index}] needs incidentNumber as a string and addTargets as a boolean")
        reroutes.append(Reroute(number, _targets(item.get("targets"), f"reroutes[{index}].targets"), add))
    return reroutes


def parse_report_query(params: Mapping[str, str], config: SimConfig) -> ReportQuery:
    """The reporting query string; a bad value raises ApiError 400."""
    limit = _count(params, "limit", 20)
    if limit > MAX_REPORT_LIMIT and config.reporting_limit_over_max == "reject":
        raise ApiError(400, f"limit must be at most {MAX_REPORT_LIMIT}")
    return ReportQuery(
        offset=_count(params, "offset", 0),
        limit=min(limit, MAX_REPORT_LIMIT),
        phases=_phases(params.get("currentPhase") or "resolved"),
        numbers=_number_ranges(params.get("incidentNumber") or ""),
        entity_id=params.get("entityId") or None,
        started_after=_time(params, "startedAfter"),
        started_before=_time(params, "startedBefore"),
        hosts=_csv(params.get("host")),
        services=_csv(params.get("service")),
        routing_key=params.get("routingKey") or None,
    )


def _csv(value: str | None) -> frozenset[str]:
    return frozenset(v.strip() for v in (value or "").split(",") if v.strip())


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _count(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not _is_number(value):
        raise ApiError(400, f"{name} must be a whole number, got {value!r}")
    return int(value)


def _phases(value: str) -> frozenset[str]:
    phases = _csv(value.lower())
    unknown = phases - set(REPORTING_PHASES.values())
    if unknown or not phases:
        raise ApiError(400, f"currentPhase takes triggered, acknowledged or resolved, got {value!r}")
    return phases


def _number_ranges(value: str) -> tuple[tuple[int, int], ...]:
    """`4,5,20:50` -> ((4, 4), (5, 5), (20, 50))."""
    ranges = []
    for part in _csv(value):
        low, _, high = part.partition(":")
        high = high or low
        if not (_is_number(low) and _is_number(high)) or int(low) > int(high):
            raise ApiError(400, f"incidentNumber takes numbers and ranges like 4,5,20:50, got {value!r}")
        ranges.append((int(low), int(high)))
    return tuple(ranges)


def _time(params: Mapping[str, str], name: str) -> float | None:
    value = params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO-8601 time like 2024-05-01T12:00:00Z, got {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# ---------------------------------------------------------------------------------------------------------------
# Handlers: parse, ask the state, return JSON

Handler = Callable[[SimState, ApiRequest], Json | list[Json]]


def list_incidents(state: SimState, request: ApiRequest) -> Json:
    return {"incidents": state.incidents()}


def get_incident(state: SimState, request: ApiRequest) -> Json:
    number = request.path_params["number"]
    view = state.incident(number)
    if view is None:
        raise ApiError(404, f"Incident {number} not found")
    return view


def create_incident(state: SimState, request: ApiRequest) -> Json:
    body = request.json()
    summary, _details, username = _text(body, "summary"), _text(body, "details"), _text(body, "userName")
    return state.create(username, summary, _targets(body.get("targets"), "targets"))


def _act(command: Command) -> Handler:
    def act(state: SimState, request: ApiRequest) -> Json:
        body = request.json()
        username, names, message = _text(body, "userName"), _names(body), _optional_text(body, "message")
        return {"results": state.act(command, username, names, message)}

    return act


def _act_by_user(command: Command) -> Handler:
    def act_by_user(state: SimState, request: ApiRequest) -> Json:
        body = request.json()
        return {"results": state.act_by_user(command, _text(body, "userName"), _optional_text(body, "message"))}

    return act_by_user


def reroute(state: SimState, request: ApiRequest) -> Json:
    body = request.json()
    username, reroutes = _text(body, "userName"), _reroutes(body)
    return {"statuses": state.reroute(username, reroutes)}


def report_v2(state: SimState, request: ApiRequest) -> Json:
    query = parse_report_query(request.query, state.config)
    total, incidents = state.report(query, reporting_view)
    return {"offset": query.offset, "limit": query.limit, "total": total, "incidents": incidents}


def report_v1(state: SimState, request: ApiRequest) -> list[Json]:
    """Spec 0.0.3's odd shape: an array holding one page object. v1 has no routingKey filter."""
    params = {k: v for k, v in request.query.items() if k != "routingKey"}
    query = parse_report_query(params, state.config)
    directory = state.directory
    total, incidents = state.report(query, lambda i: reporting_v1_view(i, directory))
    return [{"incidents": incidents, "limit": query.limit, "offset": query.offset, "total": total}]


def users_v1(state: SimState, request: ApiRequest) -> Json:
    return {"users": [[user_view(u) for u in state.directory.users]]}  # nested, as real responses are


def users_v2(state: SimState, request: ApiRequest) -> Json:
    email = (request.query.get("email") or "").lower()
    return {"users": [user_view(u) for u in state.directory.users if not email or u.email.lower() == email]}


def get_user(state: SimState, request: ApiRequest) -> Json:
    username = request.path_params["username"]
    user = state.directory.user(username)
    if user is None:
        raise ApiError(404, f"User not found: {username}")
    return user_view(user)


def list_policies(state: SimState, request: ApiRequest) -> Json:
    return {
        "policies": [
            {
                "policy": {"name": p.name, "slug": p.slug, "_selfUrl": f"/api-public/v1/policies/{p.slug}"},
                "team": {"name": p.team.name, "slug": p.team.slug},
            }
            for p in state.directory.policies
        ]
    }


def list_teams(state: SimState, request: ApiRequest) -> list[Json]:
    return [team_view(t) for t in state.directory.teams]  # a bare array


def team_members(state: SimState, request: ApiRequest) -> Json:
    directory = state.directory
    team = directory.team(request.path_params["team"])
    if team is None:
        raise ApiError(404, "Team not found")
    url = f"/api-public/v1/team/{team.slug}"
    members = [directory.user(name) for name in team.members]
    return {
        "members": [
            {
                "username": u.username,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "verified": u.verified,
                "version": 1,
            }
            for u in members
            if u
        ],
        "_selfUrl": f"{url}/members",
        "_teamUrl": url,
    }


def _next_member(members: Sequence[str], username: str) -> str:
    return members[(members.index(username) + 1) % len(members)] if username in members else username


def oncall_current(state: SimState, request: ApiRequest) -> Json:
    """Keys spelled as real responses spell them: `oncallNow`, `onCalluser` (not the spec's camel case)."""
    directory = state.directory
    return {
        "teamsOnCall": [
            {
                "team": {"name": team.name, "slug": team.slug},
                "oncallNow": [
                    {
                        "escalationPolicy": {"name": p.name, "slug": p.slug},
                        "users": [{"onCalluser": {"username": u}} for u in p.on_call],
                    }
                    for p in directory.policies
                    if p.team == team and p.on_call
                ],
            }
            for team in directory.teams
            if not state.config.oncall_omits_empty or any(p.team == team and p.on_call for p in directory.policies)
        ]
    }


_INCIDENTS = "/api-public/v1/incidents"
_API: tuple[tuple[str, str, Family, Handler], ...] = (
    ("GET", _INCIDENTS, "incidents", list_incidents),
    ("POST", _INCIDENTS, "incidents", create_incident),
    ("GET", f"{_INCIDENTS}/{{number}}", "incidents", get_incident),
    ("PATCH", f"{_INCIDENTS}/ack", "incidents", _act("ack")),
    ("PATCH", f"{_INCIDENTS}/resolve", "incidents", _act("resolve")),
    ("PATCH", f"{_INCIDENTS}/byUser/ack", "incidents", _act_by_user("ack")),
    ("PATCH", f"{_INCIDENTS}/byUser/resolve", "incidents", _act_by_user("resolve")),
    ("POST", f"{_INCIDENTS}/reroute", "incidents", reroute),
    ("GET", "/api-reporting/v2/incidents", "reporting", report_v2),
    ("GET", "/api-reporting/v1/incidents", "reporting", report_v1),
    ("GET", "/api-public/v1/user", "lookups", users_v1),
    ("GET", "/api-public/v2/user", "lookups", users_v2),
    ("GET", "/api-public/v1/user/{username}", "lookups", get_user),
    ("GET", "/api-public/v1/policies", "lookups", list_policies),
    ("GET", "/api-public/v1/team", "lookups", list_teams),
    ("GET", "/api-public/v1/team/{team}/members", "lookups", team_members),
    ("GET", "/api-public/v1/oncall/current", "lookups", oncall_current),
)


# ---------------------------------------------------------------------------------------------------------------
# The app

Endpoint = Callable[[Request], Awaitable[Response]]


def _log(state: SimState, request: Request, family: Family | None, status: int, body: bytes, limited: bool) -> None:
    query, text = request.url.query, body.decode(errors="replace")
    state.log_call(CallRecord(state.now(), request.method, request.url.path, query, family, status, limited, text))


def _api_endpoint(state: SimState, family: Family, handler: Handler) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        limited = False
        try:
            api_id, api_key = request.headers.get("X-VO-Api-Id"), request.headers.get("X-VO-Api-Key")
            state.admit(family, api_id, api_key, write=request.method != "GET")
            call = ApiRequest(request.path_params, request.query_params, body)
            response: Response = JSONResponse(handler(state, call))
            if fault := state.take_fault(request.method, request.url.path):
                await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    response = JSONResponse({"message": "Internal Server Error"}, fault.status)
        except ApiError as error:
            response, limited = error.response(), error.rate_limited
        _log(state, request, family, response.status_code, body, limited)
        return response

    return endpoint


def build_app(config: SimConfig | None = None, state: SimState | None = None) -> Starlette:
    """The simulator as an ASGI app. Pass `state` to keep a handle on it (it brings its own config)."""
    if state is not None and config is not None and config is not state.config:
        raise ValueError("pass either a config or a state built from it, not two different configs")
    sim = state or SimState(config)

    async def unknown_path(request: Request, exc: Exception) -> Response:
        """What the real API gateway says for a path or method it does not know; no auth needed."""
        _log(sim, request, None, 403, await request.body(), False)
        return JSONResponse({"message": "Missing Authentication Token"}, 403)

    async def alert(request: Request) -> Response:
        try:
            entity_id = sim.ingest_alert(request.path_params["routing_key"], _json_object(await request.body()))
        except ApiError as error:
            return JSONResponse({"result": "failure", "message": error.message}, error.status)
        return JSONResponse({"result": "success", "entity_id": entity_id})

    async def sim_state(request: Request) -> Response:
        return JSONResponse(sim.snapshot())

    async def sim_calls(request: Request) -> Response:
        return JSONResponse({"calls": [c.view() for c in sim.calls()]})

    async def sim_webhook(request: Request) -> Response:
        body = _json_object(await request.body())
        sim.send_webhooks(_optional_text(body, "url"), _optional_text(body, "token"))
        return JSONResponse({"result": "ok"})

    async def sim_oncall(request: Request) -> Response:
        body = _json_object(await request.body())
        users = body.get("users")
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return JSONResponse({"result": "failure", "message": "users: a list of usernames"}, 400)
        try:
            sim.set_on_call(_optional_text(body, "policy") or "", users)
        except ApiError as error:
            return JSONResponse({"result": "failure", "message": error.message}, error.status)
        return JSONResponse({"result": "ok"})

    async def sim_reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"result": "reset"})

    routes = [
        Route(path, _api_endpoint(sim, family, handler), methods=[method]) for method, path, family, handler in _API
    ]
    routes += [
        Route("/integrations/generic/20131114/alert/{integration_key}/{routing_key}", alert, methods=["POST"]),
        Route("/_sim/state", sim_state, methods=["GET"]),
        Route("/_sim/calls", sim_calls, methods=["GET"]),
        Route("/_sim/reset", sim_reset, methods=["POST"]),
        Route("/_sim/webhook", sim_webhook, methods=["POST"]),
        Route("/_sim/oncall", sim_oncall, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: unknown_path, 405: unknown_path})
    app.router.redirect_slashes = False  # the gateway does not redirect /incidents/ either
    return app
