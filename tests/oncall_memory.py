"""The on-call watch's ports in memory, with the real store's rule (bot/store/oncall.py: a compare-and-set on the
team's last seen on-call, an older answer never wins), and Slack as the watch sees it: handoffs posted, groups set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.core.oncall import Handoff, Seen
from bot.core.refusals import PostRefused
from bot.victorops.models import Incident, Named, OnCallEntry, OnCallPolicy, TeamOnCall, UsernameRef


def team_oncall(name: str, slug: str, *usernames: str) -> TeamOnCall:
    users = [OnCallEntry(on_call_user=UsernameRef(username=u)) for u in usernames]
    policy = OnCallPolicy(escalation_policy=Named(name=f"{name} Primary", slug=slug), users=users)
    return TeamOnCall(team=Named(name=name, slug=slug), oncall_now=[policy] if usernames else [])


class MemorySeen:
    def __init__(self) -> None:
        self.rows: dict[str, Seen] = {}

    async def all(self) -> dict[str, Seen]:
        return dict(self.rows)

    async def claim(self, key: str, before: str | None, after: str, asked_at: float, pending_at: float | None) -> bool:
        row = self.rows.get(key)
        if (before is None) != (row is None):
            return False
        if row is not None and (row.users != before or row.asked_at > asked_at):
            return False
        self.rows[key] = Seen(after, asked_at, before, pending_at)
        return True

    async def retake(self, key: str, held: Seen, at: float) -> bool:
        if self.rows.get(key) != held:
            return False
        self.rows[key] = replace(held, pending_at=at)
        return True

    async def done(self, key: str, took: Seen) -> None:
        if self.rows.get(key) == took:
            self.rows[key] = Seen(took.users, took.asked_at)

    async def give_back(self, key: str, took: Seen, back: Seen | None) -> None:
        if self.rows.get(key) == took:
            if back is None:
                del self.rows[key]
            else:
                self.rows[key] = back


class RecordingHandoffs:
    def __init__(self) -> None:
        self.posted: list[tuple[str, Handoff]] = []
        self.refuse: dict[str, str] = {}  # channel -> Slack's refusal
        self.fail: set[str] = set()  # channels whose next post times out

    async def handoff(self, channel: str, handoff: Handoff) -> None:
        if channel in self.refuse:
            raise PostRefused(channel, self.refuse[channel])
        if channel in self.fail:
            self.fail.discard(channel)
            raise TimeoutError("Slack did not answer")
        self.posted.append((channel, handoff))


class RecordingGroups:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.members: dict[str, tuple[str, ...]] = {}
        self.refuse: list[Exception] = []  # the next calls raise these, in order (GroupRefused: Slack refused)

    async def set_members(self, group: str, slack_users: Sequence[str]) -> None:
        self.calls.append((group, tuple(slack_users)))
        if self.refuse:
            raise self.refuse.pop(0)
        self.members[group] = tuple(slack_users)


class FixedIncidents:
    def __init__(self, *incidents: Incident) -> None:
        self.incidents = list(incidents)
        self.read: float | None = 1.0  # when the incidents were read; None: never
        self.fail = False

    async def latest(self) -> list[Incident]:
        if self.fail:
            raise ConnectionError("the database went away")
        return self.incidents

    def asked_at(self) -> float | None:
        return self.read


class FixedPeople:
    def __init__(self, links: dict[str, str]) -> None:
        self.links = links  # VictorOps username (lower) -> Slack user

    async def slack_users(self) -> dict[str, str]:
        return dict(self.links)
