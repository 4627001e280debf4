"""The bot token scopes vobot uses, and why: the one list the manifest, `vobot check` and the README follow."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "commands": "the /vo slash command",
    "chat:write": "post and update incident cards, digests and replies",
    "chat:write.public": "post digests to public channels without inviting the bot first",
    "users:read": "read a Slack user's name for VictorOps messages and name-based link suggestions, and the member "
    "list, to tell an email two people share",
    "users:read.email": "match Slack users to VictorOps users by email (email_matching, verified /vo link)",
    "channels:read": "check that a digest's public channel exists (vobot check, /vo digest add)",
    "groups:read": "check that a digest's private channel exists and the bot is in it",
    "usergroups:write": "keep the on-call user groups (oncall_groups) equal to who is on call",
}
