"""Faults in the middle of things: a lease that cannot be renewed, a read that fails after a write, a digest
that cannot be posted, a database URL that cannot work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_settings
from bot.core.dispatch import Dispatcher
from bot.core.incidents import IncidentView
from bot.core.sender import ActionSender
from bot.slack import grammar as g
from bot.store.digests import SlotClaims
from bot.victorops import errors
from bot.victorops.models import ActionResult, Incident
from tests.harness import CHANNEL, running_bot


class FlakyLease:
    ttl = 0.03

    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self) -> bool:
        self.calls += 1
        if self.calls > 1:
            raise OSError("the database went away")
        return True

    async def release(self) -> None:
        raise AssertionError("not ours to release any more")


async def test_a_lease_that_cannot_be_renewed_stops_sending(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        lease = FlakyLease()
        dispatcher = Dispatcher(
            queue=bot.vobot.store.queue,
            lease=lease,  # type: ignore[arg-type]
            sender=ActionSender(bot.vobot.vo, bot.vobot.lookups.incidents),
            gate=bot.vobot.vo.budgets[next(iter(bot.vobot.vo.budgets))],
            auditor=bot.vobot.core.dispatcher._audit,
            on_done=bot.vobot.slack_side.notifier,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        await bot.until(lambda: lease.calls >= 3)
        assert dispatcher.leader is False  # it lost the lease: another replica may be sending now
        stop.set()
        await running  # and it stops cleanly, without trying to release what it no longer holds


class Writer:
    """Accepts every ack, as VictorOps would."""

    def __init__(self) -> None:
        self.acks: list[list[str]] = []

    async def ack(self, user: str, numbers: list[str], message: str | None = None) -> list[ActionResult]:
        self.acks.append(numbers)
        return [ActionResult(incident_number=n, cmd_accepted=True) for n in numbers]


class FailingSource:
    async def list_incidents(self) -> list[Incident]:
        raise errors.Unavailable("timed out")


async def test_a_failed_read_after_an_accepted_write_does_not_fail_the_action() -> None:
    writer = Writer()
    sender = ActionSender(writer, IncidentView(FailingSource()))  # type: ignore[arg-type]
    action: Any = type("A", (), {
        "id": 1, "verb": "ack", "mine": False, "vo_username": "alice", "slack_user_id": "U1", "slack_name": "alice",
        "incidents": ("42",), "payload": {}, "attempts": 1, "created_at": datetime.now(UTC),
    })()  # fmt: skip
    sent = await sender.send([action])
    assert writer.acks == [["42"]] and sent[1].outcomes[0].done  # done, not "failed" and sent again


async def test_a_digest_that_cannot_be_posted_gives_its_slot_back(tmp_path: Path) -> None:
    digest = {"name": "morning", "channel": CHANNEL, "schedule": "0 9 * * *", "timezone": "UTC"}
    async with running_bot(tmp_path, config={"digests": [digest]}) as bot:
        slot = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
        bot.slack.fail_next(
            "chat.postMessage", status=500, error="internal_error", retry_after=None, times=3
        )  # past the 5xx retries
        with pytest.raises(Exception, match="internal_error"):
            await bot.vobot.core.digests.run_slot("morning", slot)
        assert await SlotClaims(bot.vobot.store.db, "x").last("morning") is None  # free to be posted again
        assert await bot.vobot.core.digests.run_slot("morning", slot) is True
        assert len(bot.slack.messages(CHANNEL)) == 1


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://x/y", "unsupported database URL scheme 'mysql'"),
        ("postgresql://u:pw@h:54x32/db", "the port is not a number"),
        ("sqlite:///no/such/folder/v.db", "the folder of the SQLite database"),
    ],
)
def test_a_database_url_that_cannot_work_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("VOBOT_DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].startswith(f"VOBOT_DATABASE_URL: {problem}")
    assert "pw" not in str(caught.value)


def test_history_searches_typed_again_soon_are_the_same_query() -> None:
    first = g.parse("history since:2d", now=datetime(2026, 11, 26, 9, 0, 5, tzinfo=UTC))
    again = g.parse("history since:2d", now=datetime(2026, 11, 26, 9, 0, 40, tzinfo=UTC))
    default = g.parse("history", now=datetime(2026, 11, 26, 9, 0, 40, tzinfo=UTC))
    assert first == again  # so the reporting API is not asked twice
    assert isinstance(default, g.History) and default.since == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    assert isinstance(first, g.History) and first.since == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
