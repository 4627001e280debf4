"""The `vobot` command line, run as a user would: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.sim.server import free_port


def test_victorops_sim_serves_the_seeded_api(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "VICTOROPS_LOOKUP_RATE_LIMIT": "2/minute"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "victorops-sim", "--port", str(port), "--api-key", "k3y"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"X-VO-Api-Id": "demo", "X-VO-Api-Key": "k3y"}
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"{url}/api-public/v1/incidents", headers=headers)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and len(response.json()["incidents"]) > 5
        assert httpx.get(f"{url}/api-public/v1/team", headers={**headers, "X-VO-Api-Key": "demo"}).status_code == 403
        # the lookup budget came from the environment: 2/minute
        statuses = [httpx.get(f"{url}/api-public/v1/team", headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "lookups 2/minute" in out and "Traceback" not in err
