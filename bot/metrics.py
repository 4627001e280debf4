"""Prometheus metrics, one registry per running bot (no globals, so tests can build several)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_NUMBER = re.compile(r"/\d+(?=/|$)")
_NAMED = re.compile(r"/(user|team)/[^/]+")


def endpoint(method: str, path: str) -> str:
    """A path without its variable parts, so that labels stay few: `PATCH /api-public/v1/incidents/ack`."""
    template = _NAMED.sub(r"/\1/{name}", _NUMBER.sub("/{n}", path))
    return f"{method} {template}"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vobot_slack_requests",
            "Requests from Slack, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "vobot_ack_seconds",
            "Seconds from a Slack request arriving to vobot's answer (HTTP mode)",
            ["kind"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
            registry=self.registry,
        )
        self.victorops_calls = Counter(
            "vobot_victorops_calls", "VictorOps API calls, by endpoint and status", ["endpoint", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.budget_wait = Counter(
            "vobot_budget_wait_seconds", "Seconds VictorOps calls waited for budget", ["family"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "vobot_queue_depth", "Actions queued for VictorOps and not sent yet", registry=self.registry
        )
        self.digests_posted = Counter(
            "vobot_digests_posted", "Digests posted to Slack", ["digest"], registry=self.registry
        )
        self.webhooks = Counter(
            "vobot_webhooks", "VictorOps webhook deliveries, by result", ["result"], registry=self.registry
        )
        self.last_webhook = Gauge(
            "vobot_last_webhook_timestamp_seconds", "When the last VictorOps webhook was accepted",
            registry=self.registry,
        )  # fmt: skip
        self.polls = Counter(
            "vobot_polls", "Polls of the open incidents, by result", ["result"], registry=self.registry
        )
        self.last_poll = Gauge(
            "vobot_last_poll_timestamp_seconds", "When the last poll read the open incidents", registry=self.registry
        )
        self.feed_posts = Counter(
            "vobot_feed_posts", "Live feed messages posted, by channel and kind (card, thread, rollup)",
            ["channel", "kind"], registry=self.registry,
        )  # fmt: skip
        self.feed_edits = Counter(
            "vobot_feed_edits", "Live feed messages edited in place, by channel", ["channel"], registry=self.registry
        )
        self.feed_failures = Counter(
            "vobot_feed_failures", "Live feed posts and edits Slack refused or that failed, by channel", ["channel"],
            registry=self.registry,
        )  # fmt: skip

    def poll(self, result: str) -> None:
        self.polls.labels(result).inc()
        if result == "ok":
            self.last_poll.set_to_current_time()

    def victorops_call(self, method: str, path: str, status: str, family: str, waited: float) -> None:
        self.victorops_calls.labels(endpoint(method, path), status).inc()
        if waited:
            self.budget_wait.labels(family).inc(waited)

    def render(self) -> bytes:
        return generate_latest(self.registry)
