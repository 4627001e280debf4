"""The identity rules through the core's ports: links, Slack profiles, the VictorOps directory (all fakes)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.directory import Directory
from bot.core.identity import Identity, IdentityError, Link, Profile, email_key, same_email
from bot.slack.errors import explain
from bot.victorops.models import User
from tests.memory import MemoryAuditor, MemoryVictorOps
from tests.memory import MemoryLinks as Links
from tests.memory import MemoryProfiles as Profiles

KELVIN = "\u212a"  # KELVIN SIGN: str.lower() makes it "k"
HEIDI = User(username="heidi", first_name="Heidi", last_name="Schmidt", email="Heidi.Schmidt@example.com")
FRANK = User(username="frank", first_name="Frank", last_name="Moreau", email="frank.moreau@example.com")
ADMIN = "U0ADMIN"


def person(user_id: str, email: str | None, name: str = "") -> Profile:
    return Profile(user_id, name or user_id.lower(), "", email)


def identity(profiles: Profiles, links: Links | None = None, *, allow_unverified: bool = False) -> Identity:
    return Identity(
        static_users={},
        admins=[ADMIN],
        links=links or Links(),
        directory=Directory(MemoryVictorOps(users=[HEIDI, FRANK])),
        profiles=profiles,
        auditor=MemoryAuditor(),
        allow_unverified_self_link=allow_unverified,
    )


# ---- emails compare as emails -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Frank.Moreau@Example.COM", "frank.moreau@example.com", True),  # ASCII case does not count
        (" frank@example.com\n", "frank@example.com", True),
        (f"fran{KELVIN}.moreau@example.com", "frank.moreau@example.com", False),  # a different mailbox
        (f"FRAN{KELVIN}@example.com", f"fran{KELVIN}@example.com", True),  # identical outside ASCII
        ("jos\u00e9@example.com", "JOS\u00c9@example.com", False),  # non-ASCII must match exactly
        ("stra\u00dfe@example.com", "strasse@example.com", False),
        ("", "", False),
        ("  ", "  ", False),
        (None, "a@example.com", False),
    ],
)
def test_same_email(a: str | None, b: str | None, same: bool) -> None:
    assert same_email(a, b) is same


@given(st.text())
def test_email_key_changes_nothing_but_ascii_case(address: str) -> None:
    key = email_key(address)
    kept = address.strip(" \t\r\n")
    assert len(key) == len(kept)
    for original, folded in zip(kept, key, strict=True):
        assert folded == (original.lower() if original in string.ascii_uppercase else original)


@given(st.text(alphabet=string.printable))
def test_ascii_addresses_match_in_any_case(address: str) -> None:
    assert email_key(address.swapcase()) == email_key(address.upper()) == email_key(address)


async def test_a_kelvin_sign_is_not_a_k() -> None:
    kelvin = person("U0KELVIN", f"fran{KELVIN}.moreau@example.com", "frank")
    who = identity(Profiles(kelvin))
    assert await who.resolve("U0KELVIN") is None
    suggestion = await who.suggest("U0KELVIN")
    assert suggestion is not None and not suggestion.verified  # only the name matches
    with pytest.raises(IdentityError) as refused:
        await who.link_self("U0KELVIN", "frank")
    assert "Your Slack email does not match VictorOps user `frank`'s" in explain(refused.value, "/vo")


# ---- a shared Slack email proves nobody -------------------------------------------------------------------


async def test_an_email_two_slack_users_share_links_neither() -> None:
    links = Links()
    twins = Profiles(
        person("U0ONE", "heidi.schmidt@example.com", "heidi"), person("U0TWO", "HEIDI.schmidt@example.com")
    )
    who = identity(twins, links)
    assert await who.resolve("U0ONE") is None and await who.resolve("U0TWO") is None
    assert links.rows == {}
    suggestion = await who.suggest("U0ONE")
    assert suggestion is not None and (suggestion.reason, suggestion.verified) == ("name", False)
    assert await who.suggest("U0TWO") is None
    with pytest.raises(IdentityError) as refused:
        await who.link_self("U0ONE", "heidi")
    assert "Another Slack user has your Slack email too, so it does not prove" in explain(refused.value, "/vo")
    assert links.rows == {}


async def test_an_email_one_slack_user_has_links_them() -> None:
    links = Links()
    who = identity(Profiles(person("U0ONE", "heidi.schmidt@example.com")), links)
    assert await who.resolve("U0ONE") == links.rows["U0ONE"]
    assert links.rows["U0ONE"].vo_username == "heidi"


# ---- the losing write of a race is a refusal ---------------------------------------------------------------


def competitor(links: Links, slack_user_id: str, vo_username: str) -> None:
    """Another request links someone between this request's check and its write, once."""

    def sneak_in() -> None:
        links.before_put = lambda: None
        links.rows[slack_user_id] = Link(slack_user_id, vo_username, "admin", ADMIN)

    links.before_put = sneak_in


async def test_an_admin_link_that_loses_the_race_is_refused_with_the_usual_sentence() -> None:
    links = Links()
    competitor(links, "U0WINNER", "heidi")
    who = identity(Profiles(), links)
    with pytest.raises(IdentityError) as refused:
        await who.link_other(ADMIN, "U0LOSER", "heidi")
    assert explain(refused.value, "/vo") == (
        "`heidi` is already linked to <@U0WINNER>; an admin (<@U0ADMIN>) can unlink them first if that is wrong."
    )
    assert set(links.rows) == {"U0WINNER"}


async def test_a_self_link_that_loses_the_race_is_refused() -> None:
    links = Links()
    competitor(links, "U0WINNER", "HEIDI")
    who = identity(Profiles(person("U0LOSER", None)), links, allow_unverified=True)
    with pytest.raises(IdentityError) as refused:
        await who.link_self("U0LOSER", "heidi")
    assert explain(refused.value, "/vo").startswith("`heidi` is already linked to <@U0WINNER>; an admin")


async def test_an_email_match_that_loses_the_race_does_not_link() -> None:
    links = Links()
    competitor(links, "U0WINNER", "heidi")
    who = identity(Profiles(person("U0LOSER", "heidi.schmidt@example.com")), links)
    assert await who.resolve("U0LOSER") is None
    assert set(links.rows) == {"U0WINNER"}
