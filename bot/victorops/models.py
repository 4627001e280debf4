"""Typed VictorOps requests and responses.

Tolerant by design: unknown fields are ignored, both phase vocabularies are read (the public API's
UNACKED/ACKED/RESOLVED and reporting's triggered/acknowledged/resolved), incident numbers are strings even
when sent as numbers, and timestamps become aware datetimes. The spec calls every field optional: an incident
without a start time is kept (its start is unknown), and one that cannot be read at all (no number, no phase)
is left out of its list, logged once, so it never sinks the others. See docs/reference/victorops-api.md.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

log = logging.getLogger(__name__)


class Phase(StrEnum):
    """An incident's phase, named as the public API names it."""

    UNACKED = "UNACKED"
    ACKED = "ACKED"
    RESOLVED = "RESOLVED"

    @property
    def reporting_name(self) -> str:
        """The reporting API's lower-case word for this phase."""
        return _REPORTING_NAMES[self]


_REPORTING_NAMES = {Phase.UNACKED: "triggered", Phase.ACKED: "acknowledged", Phase.RESOLVED: "resolved"}
_PHASE_WORDS = {
    "unacked": Phase.UNACKED,
    "triggered": Phase.UNACKED,
    "acked": Phase.ACKED,
    "acknowledged": Phase.ACKED,
    "resolved": Phase.RESOLVED,
}


def parse_phase(value: Any) -> Any:
    """Map either vocabulary to a Phase; anything else is left for pydantic to reject."""
    if isinstance(value, str):
        return _PHASE_WORDS.get(value.lower(), value)
    return value


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PhaseField = Annotated[Phase, BeforeValidator(parse_phase)]
IncidentNumber = Annotated[str, BeforeValidator(_to_str)]

_M = TypeVar("_M", bound=BaseModel)
_SKIPPED: set[str] = set()  # what was already logged as unreadable, so a poll every 30 s does not repeat it


def _readable(model: type[_M]) -> BeforeValidator:
    """A list validator that drops the items `model` cannot read instead of failing the whole list."""

    def keep(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        kept = []
        for item in items:
            try:
                kept.append(model.model_validate(item))
            except ValidationError as exc:
                _skip_once(model, item, exc)
        return kept

    return BeforeValidator(keep)


def _skip_once(model: type[BaseModel], item: Any, exc: ValidationError) -> None:
    number = item.get("incidentNumber") if isinstance(item, dict) else None
    problems = ", ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
    key = f"{model.__name__}:{number}:{problems}"
    if key not in _SKIPPED:
        if len(_SKIPPED) > 1000:
            _SKIPPED.clear()
        _SKIPPED.add(key)
        where = f" (#{number})" if number else ""
        log.warning("VictorOps sent an unreadable %s%s, left out: %s", model.__name__, where, problems)


class VOModel(BaseModel):
    """camelCase on the wire, snake_case in Python, extra fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body VictorOps expects."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---- incidents -------------------------------------------------------------------------------------------


class Named(VOModel):
    """A {name, slug} pair: a policy or a team."""

    name: str = ""
    slug: str = ""


class PagedPolicy(VOModel):
    policy: Named
    team: Named | None = None


class Transition(VOModel):
    name: str
    at: AwareDatetime
    by: str | None = None
    message: str | None = None
    manually: bool | None = None
    alert_id: str | None = None
    alert_url: str | None = None

    @property
    def phase(self) -> Phase | None:
        """The phase this transition entered, when it is a phase change."""
        found = parse_phase(self.name)
        return found if isinstance(found, Phase) else None


class Incident(VOModel):
    incident_number: IncidentNumber
    current_phase: PhaseField  # without it nobody can say whether it is open: such an incident is left out
    start_time: AwareDatetime | None = None  # None: VictorOps did not say; shown as unknown
    entity_state: str | None = None
    entity_type: str | None = None
    routing_key: str | None = None
    alert_count: int = 0
    last_alert_time: AwareDatetime | None = None
    last_alert_id: str | None = None
    entity_id: str = ""
    entity_display_name: str | None = None
    host: str | None = None
    service: str | None = None
    paged_users: list[str] = Field(default_factory=list)
    paged_teams: list[str] = Field(default_factory=list)
    paged_policies: Annotated[list[PagedPolicy], _readable(PagedPolicy)] = Field(default_factory=list)
    transitions: Annotated[list[Transition], _readable(Transition)] = Field(default_factory=list)
    monitor_name: str | None = None
    monitor_type: str | None = None
    first_alert_uuid: str | None = None
    incident_link: str | None = None

    @property
    def title(self) -> str:
        """What people call the incident: display name, else service, else entity id."""
        return self.entity_display_name or self.service or self.entity_id or f"Incident {self.incident_number}"

    def last_transition(self, phase: Phase) -> Transition | None:
        """The most recent transition into `phase` (who acked, who resolved)."""
        return next((t for t in reversed(self.transitions) if t.phase is phase), None)


Incidents = Annotated[list[Incident], _readable(Incident)]


class IncidentList(VOModel):
    incidents: Incidents = Field(default_factory=list)


# The policy VictorOps generates to page a user directly is `directUserPolicySlug-<username>` (reference §1).
DIRECT_USER_POLICY = "directUserPolicySlug-"


class Target(VOModel):
    """Who an incident pages: a VictorOps user or an escalation policy (by slug)."""

    type: Literal["User", "EscalationPolicy"]
    slug: str


class CreateIncidentRequest(VOModel):
    summary: str
    details: str
    user_name: str
    targets: list[Target]
    is_multi_responder: bool | None = None


class CreatedIncident(VOModel):
    incident_number: IncidentNumber | None = None
    entity_id: str | None = None
    error: str | None = None


class AckOrResolveRequest(VOModel):
    user_name: str
    incident_names: list[IncidentNumber]
    message: str | None = None


class ByUserRequest(VOModel):
    user_name: str
    message: str | None = None


class ActionResult(VOModel):
    incident_number: IncidentNumber
    entity_id: str | None = None
    cmd_accepted: bool = True  # an answer without it is VictorOps applying the command (go-victorops' mock)
    message: str = ""


class ActionResults(VOModel):
    results: list[ActionResult] = Field(default_factory=list)


class Reroute(VOModel):
    incident_number: IncidentNumber
    targets: list[Target]
    add_targets: bool | None = None


class RerouteRequest(VOModel):
    user_name: str
    reroutes: list[Reroute]


class TargetStatus(VOModel):
    slug: str
    success: bool
    message: str = ""


class RerouteStatus(VOModel):
    incident_number: IncidentNumber
    success: bool
    message: str = ""
    target_status: list[TargetStatus] = Field(default_factory=list)


class RerouteStatuses(VOModel):
    statuses: list[RerouteStatus] = Field(default_factory=list)


# ---- reporting (history) ---------------------------------------------------------------------------------


class HistoryQuery(VOModel):
    """Filters of GET /api-reporting/v2/incidents. `phases` None means the API default (resolved only)."""

    offset: int = 0
    limit: int = Field(default=20, ge=1, le=100)
    entity_id: str | None = None
    incident_number: str | None = None  # "4,5,20:50"
    started_after: datetime | None = None
    started_before: datetime | None = None
    host: list[str] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list)
    phases: list[Phase] | None = None
    routing_key: str | None = None

    def params(self, *, with_routing_key: bool = True) -> dict[str, str]:
        """Query parameters in the reporting API's vocabulary."""
        params: dict[str, str] = {"offset": str(self.offset), "limit": str(self.limit)}
        if self.entity_id:
            params["entityId"] = self.entity_id
        if self.incident_number:
            params["incidentNumber"] = self.incident_number
        if self.started_after:
            params["startedAfter"] = self.started_after.isoformat()
        if self.started_before:
            params["startedBefore"] = self.started_before.isoformat()
        if self.host:
            params["host"] = ",".join(self.host)
        if self.service:
            params["service"] = ",".join(self.service)
        if self.phases:
            params["currentPhase"] = ",".join(p.reporting_name for p in self.phases)
        if self.routing_key and with_routing_key:
            params["routingKey"] = self.routing_key
        return params


class HistoryPage(VOModel):
    offset: int = 0
    limit: int = 20
    total: int = 0
    incidents: Incidents = Field(default_factory=list)


class PersonV1(VOModel):
    email: str | None = None
    first: str | None = None
    last: str | None = None


class IncidentV1(VOModel):
    """An incident of the deprecated reporting v1 API, with its own field names."""

    incident_number: IncidentNumber
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    current_phase: PhaseField
    ack_time: AwareDatetime | None = None
    ack_user: PersonV1 | None = None
    ack_user_id: str | None = None
    alert_count: int = 0
    entity_disp_name: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    host: str | None = None
    service: str | None = None
    last_alert_id: str | None = Field(default=None, validation_alias=AliasChoices("lastAlertID", "lastAlertId"))
    last_alert_time: AwareDatetime | None = None
    teams: str | None = None


class HistoryPageV1(VOModel):
    offset: int = 0
    limit: int = 20
    total: int = 0
    incidents: Annotated[list[IncidentV1], _readable(IncidentV1)] = Field(default_factory=list)


# ---- lookups ---------------------------------------------------------------------------------------------


class User(VOModel):
    username: str
    first_name: str = ""
    last_name: str = ""
    display_name: str | None = None
    email: str | None = None
    created_at: AwareDatetime | None = None
    verified: bool | None = None

    @property
    def full_name(self) -> str:
        return self.display_name or f"{self.first_name} {self.last_name}".strip() or self.username


class UsersV1(VOModel):
    """GET /api-public/v1/user answers a nested list, `{"users": [[...]]}`; flatten it."""

    users: list[list[User]] = Field(default_factory=list)


class UsersV2(VOModel):
    users: list[User] = Field(default_factory=list)


class PolicyInfo(VOModel):
    policy: Named
    team: Named | None = None


class Policies(VOModel):
    policies: list[PolicyInfo] = Field(default_factory=list)


class Team(VOModel):
    name: str
    slug: str
    member_count: int | None = None
    is_default_team: bool | None = None


class UsernameRef(VOModel):
    username: str


class TeamMembers(VOModel):
    """`GET /team/{team}/members`: only the usernames are read."""

    members: list[UsernameRef] = Field(default_factory=list)


class OnCallEntry(VOModel):
    # Real responses spell it onCalluser; the spec says onCallUser. Read both.
    on_call_user: UsernameRef = Field(validation_alias=AliasChoices("onCalluser", "onCallUser"))


class OnCallPolicy(VOModel):
    escalation_policy: Named | None = None
    users: list[OnCallEntry] = Field(default_factory=list)


class TeamOnCall(VOModel):
    team: Named
    oncall_now: list[OnCallPolicy] = Field(
        default_factory=list, validation_alias=AliasChoices("oncallNow", "onCallNow")
    )

    @property
    def usernames(self) -> list[str]:
        """Everyone on call now for this team, in order, without repeats."""
        seen: dict[str, None] = {}
        for policy in self.oncall_now:
            for entry in policy.users:
                seen.setdefault(entry.on_call_user.username, None)
        return list(seen)


class OnCallNow(VOModel):
    teams_on_call: list[TeamOnCall] = Field(default_factory=list)
