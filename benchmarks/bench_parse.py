"""How long parsing a 2,000-incident `GET /api-public/v1/incidents` answer takes (target < 50 ms).

Baseline in the same run: `json.loads` of the same bytes, so a noisy machine shows in both numbers.
Run: .venv/bin/python benchmarks/bench_parse.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bot.victorops.models import IncidentList


def incident(n: int) -> dict[str, Any]:
    acked = n % 3 == 0
    return {
        "incidentNumber": str(n),
        "startTime": "2024-05-01T12:00:05Z",
        "currentPhase": "ACKED" if acked else "UNACKED",
        "entityState": "CRITICAL",
        "entityType": "SERVICE",
        "routingKey": "database",
        "alertCount": 3,
        "lastAlertTime": "2024-05-01T12:10:05Z",
        "lastAlertId": "0b8d2f0e-5c1a-4f7e-9a51-3d2f6a1e9c11",
        "entityId": f"disk/db{n:02d}",
        "entityDisplayName": f"Low disk on db{n:02d}",
        "service": f"Low disk on db{n:02d}",
        "pagedUsers": [] if acked else ["jdoe", "asmith"],
        "pagedTeams": ["team-AbCdEfGhIjKlMnOp"],
        "pagedPolicies": [
            {
                "policy": {"name": "Primary", "slug": "pol-AbCdEfGhIjKlMnOp"},
                "team": {"name": "Ops", "slug": "team-AbCdEfGhIjKlMnOp"},
            }
        ],
        "transitions": [{"name": "ACKED", "at": "2024-05-01T12:03:10Z", "by": "jdoe", "manually": True}]
        if acked
        else [],
        "monitorName": "vouser-jdoe",
        "monitorType": "Manual",
        "firstAlertUuid": "0b8d2f0e-5c1a-4f7e-9a51-3d2f6a1e9c11",
        "incidentLink": f"https://portal.victorops.com/ui/acme/incident/{n}/details",
    }


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """(min, median) in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    body = json.dumps({"incidents": [incident(n) for n in range(1, 2001)]}).encode()
    parsed = IncidentList.model_validate_json(body)
    assert len(parsed.incidents) == 2000
    base_min, base_med = best_of(30, lambda: json.loads(body))
    ours_min, ours_med = best_of(30, lambda: IncidentList.model_validate_json(body))
    print(f"payload: 2,000 incidents, {len(body) / 1e6:.1f} MB")
    print(f"json.loads (baseline):        min {base_min:6.1f} ms   median {base_med:6.1f} ms")
    print(f"IncidentList.model_validate:  min {ours_min:6.1f} ms   median {ours_med:6.1f} ms   (target < 50 ms)")


if __name__ == "__main__":
    main()
