"""Names as people know them, in mrkdwn: a linked VictorOps user is a Slack mention, anyone else their full
name, a policy its name, and the one person who alone sees a message "you". Pure; every name from VictorOps
is escaped here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.slack.mrkdwn import escape
from bot.victorops.models import Target


@dataclass(frozen=True)
class Names:
    slack_ids: Mapping[str, str] = field(default_factory=dict)  # VictorOps username (lower) -> linked Slack user
    full_names: Mapping[str, str] = field(default_factory=dict)  # VictorOps username (lower) -> full name
    policies: Mapping[str, str] = field(default_factory=dict)  # policy slug -> name
    # The Slack user who alone sees the message (an ephemeral reply to them), or None: a channel message is
    # read by everyone, so there nobody is "you".
    viewer: str | None = None

    def seen_by(self, viewer: str | None) -> Names:
        return replace(self, viewer=viewer)

    def person(self, slack_user_id: str) -> str:
        return "you" if slack_user_id == self.viewer else f"<@{slack_user_id}>"

    def user(self, vo_username: str) -> str:
        key = vo_username.lower()
        if slack_user_id := self.slack_ids.get(key):
            return self.person(slack_user_id)
        return escape(self.full_names.get(key) or vo_username)

    def policy(self, slug: str, name: str = "") -> str:
        return escape(self.policies.get(slug) or name or slug)

    def target(self, target: Target) -> str:
        return self.policy(target.slug) if target.type == "EscalationPolicy" else self.user(target.slug)


def when(at: datetime) -> str:
    """A moment Slack shows in the reader's own time zone, right however late the message is read (an age such
    as "5m ago" is wrong an hour later); the fallback is for clients that cannot."""
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
