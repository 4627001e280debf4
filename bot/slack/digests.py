"""Posting a digest to its channel, as a listing whose cards act like any other."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.incidents import IncidentView
from bot.metrics import Metrics
from bot.slack.blocks import ListSpec, check_message
from bot.slack.cards import Cards, listing_message
from bot.slack.slack_errors import post_message
from bot.store.digests import Digest
from bot.victorops.models import Incident


def spec_for(digest: Digest) -> ListSpec:
    scopes: dict[tuple[str, ...], str] = {("UNACKED",): "triggered", ("ACKED",): "acked"}
    scope = scopes.get(tuple(digest.phases), "open")
    return ListSpec(s=scope, r=digest.routes, t=digest.teams, d=digest.name)


class DigestPoster:
    def __init__(self, incidents: IncidentView, cards: Cards, slack: AsyncWebClient, metrics: Metrics) -> None:
        self.incidents = incidents
        self.cards = cards
        self.slack = slack
        self.metrics = metrics

    async def __call__(self, digest: Digest, incidents: list[Incident]) -> str | None:
        """Post the digest; returns the message's ts, or None when it is empty and set to skip."""
        if not incidents and digest.when_empty == "skip":
            return None
        known = self.incidents.routes()
        text, blocks = listing_message(
            spec_for(digest),
            incidents,
            self.cards.command,
            known_routes=known,
            names=await self.cards.names(),  # a channel message: nobody is "you"
        )
        check_message(blocks, text)
        # Slack's ~1 message/s per channel: the client waits out a 429 (Retry-After) rather than dropping it.
        # A channel gone, archived or without vobot raises a `PostRefused`: the scheduler holds it a while.
        ts = await post_message(self.slack, digest.channel, text=text, blocks=blocks)
        self.metrics.digests_posted.labels(digest.name).inc()
        return ts
