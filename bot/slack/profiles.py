"""Slack profiles (email, names) for identity matching, from `users.info`, cached per user; and the roster
of every person's email, from `users.list`, to tell an email two Slack users share (it proves neither).

A burst of clicks by one person costs one `users.info`; emails rarely change, so an hour is fresh enough.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.cache import Cached
from bot.core.identity import Profile, email_key
from bot.victorops.limits import Clock

ROSTER_PAGE = 200  # Slack's advice for users.list pages
ROSTER_RETRY_AFTER = 60.0  # someone missing from the roster refreshes it, at most this often

Roster = dict[str, str | None]  # Slack user ID -> email_key of their email; None for bots, the deleted, no email


class SlackProfiles:
    def __init__(self, client: AsyncWebClient, *, max_age: float = 3600.0, clock: Clock = monotonic) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._cache: dict[str, Cached[Profile | None]] = {}
        self._roster: Cached[Roster] = Cached(self._fetch_roster, max_age, clock)

    async def profile(self, user_id: str) -> Profile | None:
        if user_id not in self._cache:

            async def fetch() -> Profile | None:
                return await self._fetch(user_id)

            self._cache[user_id] = Cached(fetch, self._max_age, self._clock)
        return await self._cache[user_id].get()

    async def email_shared(self, profile: Profile) -> bool:
        if not profile.email:
            return False
        roster = await self._roster.get()
        if profile.user_id not in roster:  # joined since the roster was read: so may others with that email
            roster = await self._roster.get(max_age=ROSTER_RETRY_AFTER)
        if profile.user_id not in roster:
            return True  # still not listed: vobot cannot tell who else has that email, so it proves nothing
        key = email_key(profile.email)
        return any(email == key for user_id, email in roster.items() if user_id != profile.user_id)

    async def _fetch(self, user_id: str) -> Profile | None:
        try:
            answer = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") == "user_not_found":
                return None
            raise
        user = answer["user"]
        if not _person(user):
            return None
        profile = user.get("profile") or {}
        return Profile(
            user_id=user_id,
            name=user.get("name") or "",
            real_name=profile.get("real_name") or user.get("real_name") or "",
            email=profile.get("email"),
        )

    async def _fetch_roster(self) -> Roster:
        roster: Roster = {}
        cursor: str | None = None
        while True:
            page = await self._client.users_list(limit=ROSTER_PAGE, cursor=cursor)
            for user in page.get("members") or []:
                email = (user.get("profile") or {}).get("email")
                roster[user["id"]] = email_key(email) if email and _person(user) else None
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return roster


def _person(user: dict[str, Any]) -> bool:
    return not (user.get("is_bot") or user.get("deleted"))
