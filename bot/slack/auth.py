"""What Slack says about our token (auth.test), asked at most once per few seconds however often it is needed:
readiness probes and the request edge share one answer, failures included."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.slack_errors import TokenRevoked, code_of, typed
from bot.victorops.limits import Clock

OK_FOR = 30.0  # a good answer is trusted this long
FAILED_FOR = 3.0  # a refusal or timeout too, so a probe storm against a refused token is not a storm at Slack
TIMEOUT = 5.0


@dataclass(frozen=True)
class AuthAnswer:
    team_id: str | None  # our workspace, when Slack accepted the token
    problem: str | None  # why not, otherwise


class SlackAuth:
    def __init__(self, client: AsyncWebClient, clock: Clock = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._lock = asyncio.Lock()  # one auth.test in flight: the others wait for its answer
        self._answer: AuthAnswer | None = None
        self._until = 0.0
        self._team_id: str | None = None

    async def answer(self) -> AuthAnswer:
        async with self._lock:
            if self._answer is None or self._clock() >= self._until:
                self._answer = await self._ask()
                self._until = self._clock() + (FAILED_FOR if self._answer.problem else OK_FOR)
                self._team_id = self._team_id or self._answer.team_id
            return self._answer

    async def team_id(self) -> str | None:
        """Our workspace; learned once (a token never moves to another workspace), None until Slack answers."""
        return self._team_id or (await self.answer()).team_id

    async def _ask(self) -> AuthAnswer:
        try:
            async with asyncio.timeout(TIMEOUT):
                found = await self._client.auth_test()
        except SlackApiError as exc:
            refusal = typed(exc)
            return AuthAnswer(
                None, refusal.sentence if isinstance(refusal, TokenRevoked) else f"unavailable: {code_of(exc)}"
            )
        except Exception as exc:
            return AuthAnswer(None, f"unavailable: {type(exc).__name__}")
        team = found.get("team_id")
        return AuthAnswer(team, None) if isinstance(team, str) else AuthAnswer(None, "unavailable: no team_id")
