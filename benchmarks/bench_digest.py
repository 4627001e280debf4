"""Render a digest of 2,000 open incidents (target < 200 ms) and check the message against Slack's limits.

Baseline in the same run: rendering a digest of 15 incidents, the size of a typical morning.
Run: .venv/bin/python benchmarks/bench_digest.py
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bot.slack.blocks import ListSpec, check_message
from bot.slack.cards import listing_message
from bot.victorops.models import Incident, Named, PagedPolicy, Phase, Transition

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def incident(n: int) -> Incident:
    acked = n % 3 == 0
    return Incident(
        incident_number=str(n),
        start_time=NOW - timedelta(minutes=n),
        current_phase=Phase.ACKED if acked else Phase.UNACKED,
        entity_display_name=f"Disk usage 95% on db{n:04d}",
        routing_key="database",
        paged_users=[] if acked else ["alice", "bob"],
        paged_policies=[PagedPolicy(policy=Named(name="Primary", slug="pol-x"), team=Named(name="Ops", slug="team-x"))],
        transitions=[Transition(name="ACKED", at=NOW, by="dave")] if acked else [],
        incident_link=f"https://portal.victorops.com/ui/acme/incident/{n}/details",
    )


def timed(incidents: list[Incident], runs: int = 20) -> tuple[float, float, int]:
    spec = ListSpec(d="morning", r=("database",))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        text, blocks = listing_message(spec, incidents, NOW, "/vo")
        check_message(blocks, text)
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times), len(blocks)


def main() -> None:
    small, large = [incident(n) for n in range(1, 16)], [incident(n) for n in range(1, 2001)]
    for label, incidents in [("15 incidents (baseline)", small), ("2,000 incidents", large)]:
        best, median, blocks = timed(incidents)
        print(f"{label:24s} min {best:6.1f} ms   median {median:6.1f} ms   {blocks} blocks, passes Slack's limits")
    print("target: 2,000 incidents < 200 ms")


if __name__ == "__main__":
    main()
