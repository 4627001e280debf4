"""Who a Slack user is in VictorOps, in the contract's order (bot.core.identity): the configuration file, then a
stored link (an explicit unlink included), then an email match — which only an email that names one person on
each side proves. In-memory links, profiles and directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bot.core.directory import Directory
from bot.core.identity import UNLINKED, Identity, Link, Profile
from bot.victorops.models import User
from tests.memory import MemoryAuditor, MemoryLinks, MemoryProfiles, MemoryVictorOps

HEIDI = User(username="heidi", first_name="Heidi", last_name="Schmidt", email="Heidi.Schmidt@example.com")
FRANK = User(username="frank", first_name="Frank", last_name="Moreau", email="frank.moreau@example.com")
OPS_A = User(username="ops-a", email="ops@example.com")  # one shared mailbox, two VictorOps users
OPS_B = User(username="ops-b", email="ops@example.com")
ONE, TWO = "U0ONE", "U0TWO"


def person(user_id: str, email: str | None) -> Profile:
    return Profile(user_id, user_id.lower(), "", email)


HEIDIS_EMAIL = person(ONE, "heidi.schmidt@example.com")


def identity(
    *,
    static: Mapping[str, str] | None = None,
    stored: Sequence[Link] = (),
    profiles: Sequence[Profile] = (HEIDIS_EMAIL,),
    email_matching: bool = True,
) -> tuple[Identity, MemoryLinks, MemoryAuditor]:
    links, audit = MemoryLinks(*stored), MemoryAuditor()
    who = Identity(
        static_users=static or {},
        admins=["U0ADMIN"],
        links=links,
        directory=Directory(MemoryVictorOps(users=[HEIDI, FRANK, OPS_A, OPS_B])),
        profiles=MemoryProfiles(*profiles),
        auditor=audit,
        email_matching=email_matching,
    )
    return who, links, audit


@pytest.mark.parametrize(
    ("options", "resolved"),
    [
        pytest.param({"static": {ONE: "frank"}, "stored": [Link(ONE, "heidi", "self")]}, ("frank", "config"),
                     id="the file wins over a stored link"),
        pytest.param({"static": {ONE: "frank"}}, ("frank", "config"), id="the file wins over an email match"),
        pytest.param({"stored": [Link(ONE, "frank", "admin", "U0ADMIN")]}, ("frank", "admin"),
                     id="a stored link wins over an email match"),
        pytest.param({"stored": [Link(ONE, "", UNLINKED, ONE)]}, None, id="an explicit unlink stops the email match"),
        pytest.param({"email_matching": False}, None, id="email matching off"),
        pytest.param({"profiles": [person(ONE, None)]}, None, id="Slack did not give the email"),
        pytest.param({"profiles": []}, None, id="Slack does not know the user"),
        pytest.param({"profiles": [person(ONE, "nobody@example.com")]}, None, id="no VictorOps user has the email"),
        pytest.param({"profiles": [HEIDIS_EMAIL, person(TWO, "HEIDI.schmidt@example.com")]}, None,
                     id="a Slack email two people share proves nobody"),
        pytest.param({"profiles": [person(ONE, "ops@example.com")]}, None,
                     id="a VictorOps email two users share proves nobody"),
        pytest.param({"stored": [Link(TWO, "heidi", "self")]}, None,
                     id="an email match to a VictorOps user someone holds"),
        pytest.param({"static": {TWO: "HEIDI"}}, None, id="an email match to a VictorOps user the file gives away"),
        pytest.param({"static": {TWO: "Heidi"}, "stored": [Link(ONE, "heidi", "self")]}, None,
                     id="the file wins over a stored link to the same VictorOps user"),
    ],
)  # fmt: skip
async def test_resolution_order(options: dict[str, object], resolved: tuple[str, str] | None) -> None:
    who, links, _ = identity(**options)  # type: ignore[arg-type]
    before = dict(links.rows)
    link = await who.resolve(ONE)
    assert ((link.vo_username, link.source) if link else None) == resolved
    assert links.rows == before  # nothing stored but an email match


async def test_an_email_match_is_stored_as_a_link_and_audited() -> None:
    who, links, audit = identity()
    link = await who.resolve(ONE)
    assert link is not None and (link.vo_username, link.source) == ("heidi", "email")
    assert links.rows[ONE] == link
    assert [(r.slack_user_id, r.vo_username, r.action, r.result) for r in audit.records] == [
        (ONE, "heidi", "link", "ok")
    ]
    assert await who.resolve(ONE) == link and len(audit.records) == 1  # from the store now, not matched again


async def test_the_file_names_the_person_of_a_victorops_user_before_a_stored_link() -> None:
    who, _, _ = identity(static={TWO: "heidi"}, stored=[Link(ONE, "heidi", "self"), Link("U0FRANK", "frank", "self")])
    assert await who.slack_users() == {"heidi": TWO, "frank": "U0FRANK"}
    resolved = await who.resolve(TWO)
    assert resolved is not None and (resolved.vo_username, resolved.source) == ("heidi", "config")


async def test_an_unlinked_person_acts_as_nobody() -> None:
    who, _, _ = identity(stored=[Link(ONE, "", UNLINKED, ONE), Link(TWO, "frank", "email")], profiles=[])
    assert await who.linked_usernames() == {"frank"}
    assert await who.vo_username(ONE) is None and await who.vo_username(TWO) == "frank"
