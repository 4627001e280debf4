"""Posting a digest to its channel, as a listing whose cards act like any other (the core's `Poster`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.digest import Digest
from bot.metrics import Metrics
from bot.slack.blocks import Block, ListSpec, check_message
from bot.slack.cards import listing_message
from bot.slack.names import Names
from bot.slack.slack_errors import post_message
from bot.victorops.models import Incident


def spec_for(digest: Digest) -> ListSpec:
    scopes: dict[tuple[str, ...], str] = {("UNACKED",): "triggered", ("ACKED",): "acked"}
    scope = scopes.get(tuple(digest.phases), "open")
    return ListSpec(s=scope, r=digest.routes, t=digest.teams, d=digest.name)


class DigestPoster:
    def __init__(
        self,
        slack: AsyncWebClient,
        command: str,
        names: Callable[[], Awaitable[Names]],
        known_routes: Callable[[], list[str]],
        metrics: Metrics,
    ) -> None:
        self._slack = slack
        self._command = command
        self._names = names  # for a channel message: nobody is "you"
        self._known_routes = known_routes
        self._metrics = metrics

    async def digest(self, digest: Digest, incidents: list[Incident]) -> str | None:
        """Post the digest; returns the message's ts, or None when it is empty and set to skip."""
        if not incidents and digest.when_empty == "skip":
            return None
        spec = spec_for(digest)
        text, blocks = listing_message(
            spec, incidents, self._command, known_routes=self._known_routes(), names=await self._names()
        )
        ts = await self._post(digest.channel, text, blocks)
        self._metrics.digests_posted.labels(digest.name).inc()
        return ts

    async def listing(self, channel: str, incidents: list[Incident]) -> None:
        """Post every open incident, for a channel that has no digest of its own."""
        text, blocks = listing_message(ListSpec(), incidents, self._command, names=await self._names())
        await self._post(channel, text, blocks)

    async def _post(self, channel: str, text: str, blocks: list[Block]) -> str:
        check_message(blocks, text)
        # Slack's ~1 message/s per channel: the client waits out a 429 (Retry-After) rather than dropping it.
        # A channel gone, archived or without vobot raises a `PostRefused`: the scheduler holds it a while.
        return await post_message(self._slack, channel, text=text, blocks=blocks)
