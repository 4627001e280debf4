"""VictorOps' outgoing webhook body (reference §6a): a flat object of dotted keys, read into an Incident.

Pure and tolerant: numbers may come as strings or numbers, `null`s anywhere, lists flattened by index
(`STATE.USERS_PAGED.0`), every key but a number and a phase may be missing. A nested body (a custom payload
written as JSON objects) is flattened first, so it reads the same.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from bot.victorops.models import Incident, Phase, parse_phase

Flat = dict[str, Any]

ROUTING_TAG = "routing"
_INDEXED = re.compile(r"^(?P<prefix>.+)\.(?P<index>\d+)(?:\.(?P<rest>.+))?$")


class NotAnIncident(ValueError):
    """The body is not an incident event; its message is the one line that says why."""


def flatten(body: Mapping[str, Any]) -> Flat:
    """Dotted keys for nested objects and lists; a flat body comes back as it is."""
    flat: Flat = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
        else:
            flat[prefix] = value

    walk("", body)
    return flat


def event_key(flat: Mapping[str, Any]) -> str:
    """sha256 of the canonical body: an identical redelivery has the same key."""
    canonical = json.dumps(flat, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text(flat: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = flat.get(key)
        if value is not None and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _moment(value: str | None) -> datetime | None:
    """Epoch milliseconds (as a number or a string), or ISO-8601; 0 means "not yet"."""
    if value is None:
        return None
    try:
        millis = float(value)
    except ValueError:
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    if millis <= 0:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _count(value: str | None) -> int:
    try:
        return max(0, int(float(value))) if value is not None else 0
    except ValueError:
        return 0


def _indexed(flat: Mapping[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """`prefix.<i>` (value under "") and `prefix.<i>.<rest>`, by index."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        match = _INDEXED.match(key)
        if match and match["prefix"] == prefix and value is not None:
            found.setdefault(int(match["index"]), {})[match["rest"] or ""] = value
    return dict(sorted(found.items()))


def incident_number(flat: Mapping[str, Any]) -> str | None:
    name = _text(flat, "STATE.INCIDENT_NAME", "INCIDENT.INCIDENT_ID", "INCIDENT.INCIDENT_NAME")
    number = name.lstrip("#").strip() if name else ""
    return number if number.isascii() and number.isdigit() else None


def phase_of(flat: Mapping[str, Any]) -> Phase | None:
    found = parse_phase(_text(flat, "INCIDENT.CURRENT_PHASE", "STATE.CURRENT_ALERT_PHASE") or "")
    return found if isinstance(found, Phase) else None


def _routing_key(flat: Mapping[str, Any]) -> str | None:
    if key := _text(flat, "ALERT.routing_key", "INCIDENT.ROUTING_KEY"):
        return key
    tags = [str(t.get("", "")) for t in _indexed(flat, "INCIDENT.TAGS").values()]
    tag = next((t for t in tags if t.startswith(ROUTING_TAG) and len(t) > len(ROUTING_TAG)), None)
    if tag is None:
        return None
    key = tag.removeprefix(ROUTING_TAG)  # `routing<key>`; the default route keeps the public API's spelling
    return tag if key == "default" else key


def _policies(flat: Mapping[str, Any]) -> list[dict[str, Any]]:
    policies = []
    for item in _indexed(flat, "INCIDENT.POLICIES_PAGED").values():
        slug = str(item.get("POLICY.SLUG") or "")
        if not slug:
            continue
        policy: dict[str, Any] = {"policy": {"name": str(item.get("POLICY.NAME") or slug), "slug": slug}}
        if team_slug := str(item.get("TEAM.SLUG") or ""):
            policy["team"] = {"name": str(item.get("TEAM.NAME") or team_slug), "slug": team_slug}
        policies.append(policy)
    return policies


def _transitions(flat: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps = []
    for phase, by_key, at_key, message in (
        (Phase.ACKED, "STATE.ACKED_BY", "STATE.ACKED_AT", _text(flat, "STATE.ACK_MSG")),
        (Phase.RESOLVED, "STATE.RESOLVED_BY", "STATE.RESOLVED_AT", None),
    ):
        by, at = _text(flat, by_key), _moment(_text(flat, at_key))
        if by is not None or at is not None:
            steps.append({"name": phase.value, "at": at or datetime.now(UTC), "by": by, "message": message})
    return steps


def parse(body: Mapping[str, Any]) -> Incident:
    """The incident a webhook body describes, as far as it says; raises NotAnIncident with the reason."""
    flat = flatten(body)
    number = incident_number(flat)
    if number is None:
        raise NotAnIncident("not an incident event: no incident number (STATE.INCIDENT_NAME or INCIDENT.INCIDENT_ID)")
    phase = phase_of(flat)
    if phase is None:
        raise NotAnIncident(
            f"not an incident event: incident {number} has no phase (INCIDENT.CURRENT_PHASE or "
            "STATE.CURRENT_ALERT_PHASE: UNACKED, ACKED or RESOLVED)"
        )
    fields: dict[str, Any] = {"incident_number": number, "current_phase": phase}
    optional: dict[str, Any] = {
        "start_time": _moment(_text(flat, "INCIDENT.INCIDENT_TIMESTAMP", "STATE.INCIDENT_TIMESTAMP")),
        "entity_state": _text(flat, "INCIDENT.ENTITY_STATE", "ALERT.entity_state", "STATE.CURRENT_STATE"),
        "entity_type": _text(flat, "INCIDENT.ENTITY_TYPE"),
        "entity_id": _text(flat, "ALERT.entity_id", "STATE.ENTITY_ID", "INCIDENT.ENTITY_ID"),
        "entity_display_name": _text(
            flat, "INCIDENT.ENTITY_DISPLAY_NAME", "ALERT.entity_display_name", "ALERT.state_message"
        ),
        "host": _text(flat, "INCIDENT.HOST", "STATE.HOST"),
        "service": _text(flat, "INCIDENT.SERVICE", "STATE.SERVICE"),
        "routing_key": _routing_key(flat),
        "monitor_name": _text(flat, "INCIDENT.MONITOR_NAME"),
        "monitor_type": _text(flat, "INCIDENT.MONITOR_TYPE", "STATE.MONITOR_TYPE"),
        "last_alert_time": _moment(_text(flat, "ALERT.VO_ALERT_RCV_TIME")),
        "last_alert_id": _text(flat, "ALERT.VO_UUID"),
    }
    fields |= {k: v for k, v in optional.items() if v is not None}
    if (count := _count(_text(flat, "INCIDENT.ALERT_COUNT", "STATE.ALERT_COUNT"))) > 0:
        fields["alert_count"] = count
    users = [str(u[""]) for u in _indexed(flat, "STATE.USERS_PAGED").values() if u.get("")]
    if users or phase is not Phase.UNACKED:
        fields["paged_users"] = users  # once acknowledged, nobody is being paged
    if policies := _policies(flat):
        fields["paged_policies"] = policies
        fields["paged_teams"] = list(dict.fromkeys(p["team"]["slug"] for p in policies if "team" in p))
    if transitions := _transitions(flat):
        fields["transitions"] = transitions
    return Incident.model_validate(fields)


# VictorOps' on-call webhooks (`Any-On-Call`, `On-Call`, `Off-Call`) have no documented body (reference §6a),
# so none is trusted: one that is no incident event counts as an on-call event when the URL says so
# (`kind=oncall`, which the admin adds) or a key of it names on-call or off-call as words (`ONCALL.USER`,
# `on_call`, `OFF-CALL`, `onCall`...; not `action_callback`). It only makes vobot read `oncall/current` again;
# that answer decides.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")  # words of a key: split on `.`, `_`, `-` and camelCase
_ONCALL_WORDS = {"ONCALL", "OFFCALL"}
_ONCALL_PAIRS = {("ON", "CALL"), ("OFF", "CALL")}


def key_words(key: str) -> list[str]:
    """ "ONCALL.USER" -> ONCALL, USER; "onCallUser" -> ON, CALL, USER; "action_callback" -> ACTION, CALLBACK."""
    return [word.upper() for word in _WORDS.findall(key)]


def oncall_event(body: Mapping[str, Any], kind: str | None) -> bool:
    if (kind or "").strip().lower() == "oncall":
        return True
    for key in flatten(body):
        words = key_words(key)
        if _ONCALL_WORDS.intersection(words) or _ONCALL_PAIRS.intersection(pairwise(words)):
            return True
    return False
