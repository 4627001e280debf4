"""Who a Slack user is in VictorOps, and who may do what.

Today: the YAML `users:` map (config as code) and the admins from the file and VOBOT_ADMINS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Identity:
    def __init__(self, static_users: Mapping[str, str], admins: Iterable[str]) -> None:
        self._static = dict(static_users)
        self._admins = frozenset(admins)

    async def vo_username(self, slack_user_id: str) -> str | None:
        return self._static.get(slack_user_id)

    def is_admin(self, slack_user_id: str) -> bool:
        return slack_user_id in self._admins

    @property
    def admins(self) -> frozenset[str]:
        return self._admins
