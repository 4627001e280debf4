"""What to do about a write VictorOps may have applied although its answer never came (a 5xx, a timeout, a
connection cut after sending): look at the incident as VictorOps has it now and send only what did not
happen. Resending blind would page a reroute's targets twice and tell the user "already acknowledged" about
their own ack. Pure functions over the incident read back."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.actions import WANTED, Actor, already_done, done
from bot.core.outcomes import Outcome, Verb
from bot.victorops.models import DIRECT_USER_POLICY, Incident, Target


def settled(verb: Verb, actor: Actor, incident: Incident | None) -> Outcome | None:
    """The outcome of an ack or resolve the incident already shows, or None when it still has to be sent.

    In the wanted phase by the same VictorOps user, it is this action that landed (or theirs from elsewhere):
    a success. Past it, or by someone else, it is already done, as the check before queueing says."""
    if incident is None or (already := already_done(incident, verb)) is None:
        return None
    transition = incident.last_transition(incident.current_phase)
    if incident.current_phase is WANTED[verb] and transition is not None and transition.by == actor.vo_username:
        return done(verb, actor, incident.incident_number, incident)
    return Outcome(incident.incident_number, already, incident)


def rerouted(incident: Incident | None, targets: Sequence[Target]) -> bool:
    """Whether the incident pages every target now: the reroute landed, and must not be sent (and paged) again."""
    if incident is None or not targets:
        return False
    policies = {p.policy.slug for p in incident.paged_policies}

    def paged(target: Target) -> bool:
        if target.type == "EscalationPolicy":
            return target.slug in policies
        return target.slug in incident.paged_users or DIRECT_USER_POLICY + target.slug in policies

    return all(paged(t) for t in targets)
