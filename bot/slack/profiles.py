"""Slack profiles (email, names) for identity matching, from `users.info`, cached per user.

A burst of clicks by one person costs one `users.info`; emails rarely change, so an hour is fresh enough.
"""

from __future__ import annotations

from time import monotonic

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.cache import Cached
from bot.core.identity import Profile
from bot.victorops.limits import Clock


class SlackProfiles:
    def __init__(self, client: AsyncWebClient, *, max_age: float = 3600.0, clock: Clock = monotonic) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._cache: dict[str, Cached[Profile | None]] = {}

    async def profile(self, user_id: str) -> Profile | None:
        if user_id not in self._cache:

            async def fetch() -> Profile | None:
                return await self._fetch(user_id)

            self._cache[user_id] = Cached(fetch, self._max_age, self._clock)
        return await self._cache[user_id].get()

    async def _fetch(self, user_id: str) -> Profile | None:
        try:
            answer = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") == "user_not_found":
                return None
            raise
        user = answer["user"]
        if user.get("is_bot") or user.get("deleted"):
            return None
        profile = user.get("profile") or {}
        return Profile(
            user_id=user_id,
            name=user.get("name") or "",
            real_name=profile.get("real_name") or user.get("real_name") or "",
            email=profile.get("email"),
        )
