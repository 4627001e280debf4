"""Seed data for the VictorOps simulator: a small, lively organisation, deterministic given a seed.

The directory (users, teams, policies, routes) is used as is by the simulator. Incidents are recipes
(`IncidentSeed`) that the simulator replays through its own trigger/ack/resolve code, so seeded incidents
look exactly like ones made over the API.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_ROUTE = "routingdefault"
_MINUTE = 60.0
_HOUR = 3600.0
_DAY = 86400.0
_SLUG_CHARS = string.ascii_letters + string.digits
_ACCOUNTS_CREATED = datetime(2021, 3, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class User:
    username: str
    first_name: str
    last_name: str
    email: str
    created_at: float
    verified: bool = True

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Team:
    name: str
    slug: str
    members: tuple[str, ...]
    is_default: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    slug: str
    team: Team
    on_call: tuple[str, ...]  # usernames on call right now


@dataclass(frozen=True)
class Directory:
    users: tuple[User, ...]
    teams: tuple[Team, ...]
    policies: tuple[Policy, ...]
    routes: dict[str, tuple[str, ...]]  # routing key -> policy slugs paged by an alert

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def team(self, slug: str) -> Team | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def policy(self, slug: str) -> Policy | None:
        return next((p for p in self.policies if p.slug == slug), None)

    def on_call(self, policy_slug: str) -> tuple[str, ...]:
        policy = self.policy(policy_slug)
        return policy.on_call if policy else ()

    def route(self, routing_key: str) -> tuple[str, ...]:
        """Policies an alert pages; an unknown routing key falls back to the default route, as in VictorOps."""
        return self.routes.get(routing_key) or self.routes[DEFAULT_ROUTE]


@dataclass(frozen=True)
class Action:
    """An ack or resolve in a seeded incident's life; `by` None means it came from the monitoring tool."""

    at: float
    by: str | None
    message: str | None = None


@dataclass(frozen=True)
class IncidentSeed:
    """Either alerts on an entity (`alert_count` CRITICALs a minute apart) or, with `created_by`, a manual
    incident that pages `page_users` directly."""

    summary: str
    started: float
    entity_id: str | None = None
    routing_key: str = DEFAULT_ROUTE
    host: str | None = None
    alert_count: int = 1
    monitoring_tool: str = "prometheus"
    created_by: str | None = None
    page_users: tuple[str, ...] = ()
    ack: Action | None = None
    resolve: Action | None = None


@dataclass(frozen=True)
class Seed:
    directory: Directory
    incidents: tuple[IncidentSeed, ...]  # oldest first, so replaying them numbers them in order


@dataclass(frozen=True)
class Alert:
    """A REST-endpoint alert: POST it to /integrations/generic/20131114/alert/<key>/<routing_key>."""

    routing_key: str
    body: dict[str, Any]


# (username, first, last)
_PEOPLE = (
    ("alice", "Alice", "Nguyen"),
    ("bob.martinez", "Bob", "Martinez"),
    ("cchen", "Carol", "Chen"),
    ("dave", "Dave", "Okafor"),
    ("erin.walsh", "Erin", "Walsh"),
    ("frank", "Frank", "Moreau"),
    ("gkim", "Grace", "Kim"),
    ("heidi", "Heidi", "Schmidt"),
    ("ivan.petrov", "Ivan", "Petrov"),
    ("judy", "Judy", "Alvarez"),
)

# team name, members, is default, routing key, policies as (name, on call); the first policy of a team
# reuses the team's slug, as a team's default policy often does in VictorOps.
_TEAMS = (
    ("Ops", ("alice", "bob.martinez", "cchen"), True, DEFAULT_ROUTE,
     (("Ops Primary", ("alice",)), ("Ops Escalation", ("cchen",)))),
    ("Database", ("dave", "erin.walsh", "alice"), False, "database",
     (("Database On-Call", ("dave",)),)),
    ("Payments", ("frank", "gkim", "heidi"), False, "payments",
     (("Payments Primary", ("frank",)), ("Payments Managers", ("heidi",)))),
    ("Frontend", ("ivan.petrov", "judy", "bob.martinez"), False, "frontend",
     (("Frontend", ("ivan.petrov", "judy")),)),
)  # fmt: skip

# routing key -> (summary, entity id, host) of alerts that fire on it
_ALERTS = {
    DEFAULT_ROUTE: (
        ("api-gateway 5xx rate above 5%", "http/api-gateway", "gw-01"),
        ("Memory pressure on web-03", "mem/web-03", "web-03"),
        ("Kafka consumer lag: orders", "kafka/orders-consumer", None),
        ("SSL certificate for api.example.com expires in 7 days", "cert/api.example.com", None),
        ("Node not ready: k8s-worker-7", "k8s/worker-7", "k8s-worker-7"),
    ),
    "database": (
        ("Disk usage 95% on db01", "disk/db01", "db01"),
        ("Replication lag on db-replica-2 above 30s", "replication/db-replica-2", "db-replica-2"),
        ("Nightly backup job failed", "cron/backup-nightly", "db01"),
        ("Connection pool exhausted on pg-main", "pool/pg-main", "pg-main"),
    ),
    "payments": (
        ("Checkout API p99 latency above 2s", "latency/checkout-api", None),
        ("Payment provider webhook failures", "webhooks/payment-provider", None),
        ("Refund queue backlog above 500", "queue/refunds", None),
    ),
    "frontend": (
        ("CDN errors serving the web bundle", "cdn/web-bundle", None),
        ("Login page returns 500", "http/login", "web-01"),
        ("Core Web Vitals: LCP regression", "rum/lcp", None),
    ),
}


def build_seed(seed: int, now: float) -> Seed:
    """The organisation and its incidents; the same `seed` and `now` always give the same data."""
    rng = random.Random(seed)
    directory = _directory(rng)
    incidents = _history(rng, directory, now) + _live(now)
    return Seed(directory, tuple(sorted(incidents, key=lambda i: i.started)))


def random_alert(rng: random.Random) -> Alert:
    """A new CRITICAL alert on a random route, with a fresh entity id so that it opens a new incident."""
    routing_key = rng.choice(sorted(_ALERTS))
    summary, entity_id, host = rng.choice(_ALERTS[routing_key])
    body: dict[str, Any] = {
        "message_type": "CRITICAL",
        "entity_id": f"{entity_id}#{rng.randrange(10**6)}",
        "entity_display_name": summary,
        "state_message": f"{summary} (demo alert)",
        "monitoring_tool": "prometheus",
    }
    if host:
        body["host_name"] = host
    return Alert(routing_key, body)


def _slug(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(_SLUG_CHARS, k=16))


def _directory(rng: random.Random) -> Directory:
    users = tuple(
        User(name, first, last, f"{first}.{last}@example.com".lower(), _ACCOUNTS_CREATED + i * 17 * _DAY)
        for i, (name, first, last) in enumerate(_PEOPLE)
    )
    teams: list[Team] = []
    policies: list[Policy] = []
    routes: dict[str, tuple[str, ...]] = {}
    for name, members, is_default, routing_key, team_policies in _TEAMS:
        team = Team(name, _slug(rng, "team-"), members, is_default)
        teams.append(team)
        slugs = [team.slug] + [_slug(rng, "pol-") for _ in team_policies[1:]]
        policies += [Policy(p, slug, team, on_call) for slug, (p, on_call) in zip(slugs, team_policies, strict=True)]
        routes[routing_key] = (team.slug,)
    return Directory(users, tuple(teams), tuple(policies), routes)


def _alert(routing_key: str, index: int, started: float, **more: Any) -> IncidentSeed:
    summary, entity_id, host = _ALERTS[routing_key][index]
    return IncidentSeed(summary, started, entity_id, routing_key, host, **more)


def _live(now: float) -> list[IncidentSeed]:
    """About a dozen current incidents: triggered, acknowledged, and a few resolved."""

    def ago(minutes: float) -> float:
        return now - minutes * _MINUTE

    return [
        _alert("database", 0, ago(4), alert_count=3),
        _alert("payments", 0, ago(12)),
        _alert(DEFAULT_ROUTE, 0, ago(2), alert_count=2),
        _alert("payments", 1, ago(6 * 60), alert_count=5),
        IncidentSeed(
            "Please check the certificate renewal job", ago(35), created_by="alice", page_users=("bob.martinez",)
        ),
        _alert("database", 1, ago(50), ack=Action(ago(45), "dave", "Looking at the replica")),
        _alert(DEFAULT_ROUTE, 2, ago(3 * 60), ack=Action(ago(170), "bob.martinez", "Restarting consumers")),
        _alert("frontend", 0, ago(26 * 60), ack=Action(ago(25 * 60), "ivan.petrov")),
        _alert(DEFAULT_ROUTE, 3, ago(3 * 24 * 60), ack=Action(ago(3 * 24 * 60 - 30), "cchen", "Renewal booked")),
        _alert(DEFAULT_ROUTE, 1, ago(40), ack=Action(ago(35), "alice"), resolve=Action(ago(10), None)),
        _alert("frontend", 1, ago(120), resolve=Action(ago(30), "judy", "Rolled back the deploy")),
        _alert("database", 2, ago(5 * 60), ack=Action(ago(290), "erin.walsh"), resolve=Action(ago(180), "erin.walsh")),
    ]


def _history(rng: random.Random, directory: Directory, now: float, count: int = 60) -> list[IncidentSeed]:
    """Older resolved incidents from the last 30 days, for the reporting API."""
    incidents = []
    for _ in range(count):
        routing_key = rng.choice(sorted(_ALERTS))
        started = now - rng.uniform(1.0, 30.0) * _DAY
        responders = [u for slug in directory.route(routing_key) for u in directory.on_call(slug)]
        acked = started + rng.uniform(1, 20) * _MINUTE
        ack = Action(acked, rng.choice(responders)) if rng.random() < 0.9 else None
        resolver = rng.choice([*responders, None])  # None: the monitoring tool sent a recovery
        resolve = Action(acked + rng.uniform(5, 240) * _MINUTE, resolver)
        index = rng.randrange(len(_ALERTS[routing_key]))
        incidents.append(_alert(routing_key, index, started, alert_count=rng.randint(1, 4), ack=ack, resolve=resolve))
    return incidents
