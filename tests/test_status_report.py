"""`/vo status` as a core use case through in-memory ports, and its lines as bot.slack writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.digest import Digest
from bot.core.digests import Digests
from bot.core.refusals import EVERYWHERE, Hold, PostRefused, Refusals
from bot.core.status import BudgetLeft, DigestPosted, FamilyBudget, Status, StatusReport
from bot.slack.status import status_text
from bot.victorops.errors import Unavailable, VictorOpsError
from bot.victorops.limits import RateSpec
from bot.victorops.models import TeamOnCall
from tests.test_digest_admin import FILE, NOW, Claims, Poster, Store, View

EVENING = Digest("evening", "C0DEV", "0 18 * * *", "UTC", "skip", (), (), (), "slack", "U0ADMIN1")
SIX = RateSpec(6, 60)


class OnCall:
    def __init__(self, *teams: list[str], error: VictorOpsError | None = None) -> None:
        self.teams = [
            TeamOnCall.model_validate(
                {"team": {"slug": f"team-{i}"}, "oncallNow": [{"users": [{"onCalluser": {"username": u}} for u in t]}]}
            )
            for i, t in enumerate(teams)
        ]
        self.error = error

    async def get(self) -> list[TeamOnCall]:
        if self.error is not None:
            raise self.error
        return self.teams


class Left:
    def __init__(self, remaining: int | None) -> None:
        self.left = remaining

    async def remaining(self) -> int | None:
        return self.left


class Queue:
    async def depth(self) -> int:
        return 3


class Identity:
    async def linked_usernames(self) -> set[str]:
        return {"alice", "bob"}


async def report(oncall: OnCall, refusals: Refusals | None = None) -> StatusReport:
    claims = Claims()
    await claims.claim("morning", "2026-11-26T09:00")
    await claims.posted("morning", "2026-11-26T09:00", "1.2")
    await claims.claim("morning", "2026-11-27T09:00")  # claimed, its post failed: not "last posted"
    digests = Digests(Store(FILE, EVENING), claims, View(), poster=Poster(), now=lambda: NOW)
    if refusals is not None:
        digests.refusals = refusals
    budgets = [FamilyBudget("incidents", SIX, Left(4)), FamilyBudget("lookups", RateSpec(0, 60), Left(None))]
    return await Status(oncall, budgets, Queue(), digests, Identity()).report()


async def test_the_report_states_the_facts() -> None:
    refusals = Refusals(lambda: NOW)
    refusals.hold(PostRefused("C0DEV", "vobot is not in <#C0DEV>"))
    found = await report(OnCall(["Bob", "zoe"], ["alice", "zoe", "Carl"]), refusals)
    assert found.victorops_error is None
    assert found.budgets == [BudgetLeft("incidents", 4, SIX), BudgetLeft("lookups", None, RateSpec(0, 60))]
    assert found.queued == 3
    assert found.digests == [DigestPosted(EVENING, None), DigestPosted(FILE, "2026-11-26T09:00")]
    assert [(h.refusal.channel, h.until) for h in found.holds] == [("C0DEV", NOW + timedelta(minutes=30))]
    assert found.oncall == ["Bob", "Carl", "alice", "zoe"] and found.unlinked == ["Carl", "zoe"]  # case does not count


async def test_victorops_not_answering_is_a_fact_and_the_rest_is_still_reported() -> None:
    down = Unavailable("timed out")
    found = await report(OnCall(error=down))
    assert found.victorops_error is down and found.oncall == [] and found.unlinked == []
    assert found.queued == 3 and len(found.digests) == 2


async def test_another_error_is_not_mistaken_for_victorops() -> None:
    with pytest.raises(RuntimeError):
        await report(OnCall(error=RuntimeError("a bug")))  # type: ignore[arg-type]


UNTIL = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "lines", "absent"),
    [
        (
            {},
            [
                ":large_green_circle: VictorOps answers.",
                "Budget: incidents 4 of 6/minute left, lookups unlimited left.",
                "Queued actions waiting for VictorOps: 3.",
                "Digest *evening* in <#C0DEV>: not posted yet.",
                "Digest *morning* in <#C0OPS>: last posted 2026-11-26T09:00 (Europe/Berlin).",
                "Everyone on call is linked to Slack.",
            ],
            [":red_circle:", "On call but not linked"],
        ),
        (
            {"victorops_error": Unavailable("timed out <b>"), "oncall": []},
            [":red_circle: VictorOps does not answer: VictorOps could not be reached (timed out &lt;b&gt;); try"],
            [":large_green_circle:", "Everyone on call", "On call but not linked"],  # nobody known to be on call
        ),
        (
            {"oncall": ["alice", "zoe_<x>"], "unlinked": ["zoe_<x>"]},
            ["On call but not linked to Slack: `zoe_&lt;x&gt;` (`/oncall link @someone <victorops-username>` links"],
            ["Everyone on call"],
        ),
        (
            {
                "holds": [
                    Hold(PostRefused("C0DEV", "vobot is not in <#C0DEV>."), UNTIL),
                    Hold(PostRefused(EVERYWHERE, "token revoked or invalid."), UNTIL),
                ]
            },
            [
                ":red_circle: Digests to <#C0DEV> held until 08:30 UTC: vobot is not in <#C0DEV>.",
                ":red_circle: Every digest held until 08:30 UTC: token revoked or invalid.",
            ],
            [],
        ),
    ],
)
def test_slack_writes_the_report_in_lines(changes: dict[str, object], lines: list[str], absent: list[str]) -> None:
    base = StatusReport(
        victorops_error=None,
        budgets=[BudgetLeft("incidents", 4, SIX), BudgetLeft("lookups", None, RateSpec(0, 60))],
        queued=3,
        digests=[DigestPosted(EVENING, None), DigestPosted(FILE, "2026-11-26T09:00")],
        holds=[],
        oncall=["alice"],
        unlinked=[],
    )
    text = status_text(StatusReport(**{**base.__dict__, **changes}), "/oncall")  # type: ignore[arg-type]
    for line in lines:
        assert any(written.startswith(line) for written in text.split("\n")), (line, text)
    assert not [word for word in absent if word in text], text
