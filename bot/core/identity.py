"""Who a Slack user is in VictorOps, who may link whom, and who is an admin.

Resolution order (the contract): the YAML `users:` map (config as code wins and cannot be changed from
Slack) → a stored link (made by the user, an admin, an import, or an earlier email match) → an automatic
email match, stored as a link, when `email_matching` is on. An explicit unlink is stored too, so an email
match does not quietly link the person again.

A VictorOps user belongs to one Slack user: the store refuses a second (`VictorOpsUserTaken`, a database
rule, so it holds under races); the check before each link is only there for the friendly answer. An email
proves a person only when exactly one VictorOps user and one Slack user have it.

Nothing is cached here except through the directory (VictorOps users) and the profiles (Slack emails):
the stored links are read from the database each time, so every replica sees a new link at once.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from bot.core.audit import Auditor
from bot.core.directory import Directory
from bot.core.errors import ActionError
from bot.victorops.models import User


class IdentityError(ActionError):
    """A link that is not allowed; the subclasses say why (and who can help: `admins`, Slack user IDs)."""


class AdminOnly(StrEnum):
    """What only admins may do."""

    LINK_OTHERS = "link others"
    UNLINK_OTHERS = "unlink others"
    DIGESTS = "add or remove digests"
    FEEDS = "subscribe or unsubscribe channels"


@dataclass(eq=False)
class NotAdmin(IdentityError):
    wanted: AdminOnly
    admins: tuple[str, ...]


@dataclass(eq=False)
class Configured(IdentityError):
    """The configuration file's `users:` maps `slack_user_id` (asked about by `asker`) to `vo_username`."""

    slack_user_id: str
    vo_username: str
    asker: str


@dataclass(eq=False)
class Taken(IdentityError):
    """`vo_username` is linked to `holder` (None: a Slack user not known here)."""

    vo_username: str
    holder: str | None
    admins: tuple[str, ...]


class Unproven(StrEnum):
    """Why an email does not prove a self-link."""

    NO_EMAIL = "no email"  # Slack did not say (no users:read.email, or a bot)
    OTHER_EMAIL = "other email"  # the VictorOps user's is another
    SHARED_EMAIL = "shared email"  # another Slack user has it too


@dataclass(eq=False)
class EmailUnproven(IdentityError):
    vo_username: str
    why: Unproven
    admins: tuple[str, ...]


@dataclass(eq=False)
class NoSuchUser(IdentityError):
    """VictorOps has no user `vo_username` to link to."""

    vo_username: str


@dataclass(eq=False)
class NothingToUnlink(IdentityError):
    """`slack_user_id` (asked about by `asker`) is not linked."""

    slack_user_id: str
    asker: str


class VictorOpsUserTaken(Exception):
    """Raised by `LinkRepository.put`: another Slack user holds this VictorOps user (the database's rule,
    which holds under races where a check before the write cannot)."""

    def __init__(self, vo_username: str) -> None:
        super().__init__(f"VictorOps user {vo_username} is linked to another Slack user")
        self.vo_username = vo_username


@dataclass(frozen=True)
class Profile:
    """What Slack says about a user."""

    user_id: str
    name: str  # the handle
    real_name: str
    email: str | None  # None without the users:read.email scope, or for bots


class Profiles(Protocol):
    async def profile(self, user_id: str) -> Profile | None: ...

    async def email_shared(self, profile: Profile) -> bool:
        """Whether another Slack user has this person's email, or may have (then it proves nobody)."""
        ...


Source = Literal["config", "self", "admin", "email", "import", "none"]  # none: explicitly unlinked


@dataclass(frozen=True)
class Link:
    slack_user_id: str
    vo_username: str
    source: Source
    linked_by: str | None = None
    at: datetime | None = None


class LinkRepository(Protocol):
    async def all(self) -> list[Link]: ...
    async def get(self, slack_user_id: str) -> Link | None: ...
    async def holders(self, vo_username: str) -> list[Link]: ...

    async def put(self, link: Link) -> Link:
        """Create or replace the link; VictorOpsUserTaken when another Slack user holds its VictorOps user."""
        ...


@dataclass(frozen=True)
class Suggestion:
    user: User
    reason: Literal["email", "name"]

    @property
    def verified(self) -> bool:
        """An email match proves the person; a name match is only a guess."""
        return self.reason == "email"


UNLINKED: Literal["none"] = "none"  # the source of a stored "explicitly unlinked" row


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def email_key(address: str) -> str:
    """The form in which two addresses name the same mailbox: ASCII letters case-folded, the rest exact.

    Unicode case folding would merge distinct mailboxes: `str.lower()` turns the Kelvin sign (U+212A) into
    "k", so an address spelt with one where the real one has a "k" would pass for it.
    """
    return address.strip(" \t\r\n").translate(_ASCII_LOWER)


def same_email(a: str | None, b: str | None) -> bool:
    return bool(a and b and email_key(a) and email_key(a) == email_key(b))


async def linked_usernames(static_users: Mapping[str, str], links: LinkRepository) -> set[str]:
    """Every VictorOps username some Slack user acts as (lower case): the file's `users`, then the links."""
    stored = {link.vo_username for link in await links.all() if link.source != UNLINKED}
    return {name.lower() for name in [*static_users.values(), *stored]}


class Identity:
    def __init__(
        self,
        *,
        static_users: Mapping[str, str],
        admins: Iterable[str],
        links: LinkRepository,
        directory: Directory,
        profiles: Profiles,
        auditor: Auditor,
        email_matching: bool = True,
        allow_unverified_self_link: bool = False,
    ) -> None:
        self._static = dict(static_users)
        self._admins = tuple(dict.fromkeys(admins))
        self._links = links
        self._directory = directory
        self._profiles = profiles
        self._audit = auditor
        self.email_matching = email_matching
        self.allow_unverified = allow_unverified_self_link

    # ---- who is who ------------------------------------------------------------------------------------

    def is_admin(self, slack_user_id: str) -> bool:
        return slack_user_id in self._admins

    @property
    def admins(self) -> tuple[str, ...]:
        """Slack user IDs of the admins, as configured."""
        return self._admins

    async def resolve(self, slack_user_id: str) -> Link | None:
        """The user's link in resolution order; None when they are not linked."""
        if slack_user_id in self._static:
            return Link(slack_user_id, self._static[slack_user_id], "config")
        stored = await self._links.get(slack_user_id)
        if stored is not None:
            # the file wins over a link stored before it gave that VictorOps user to someone else
            return None if stored.source == UNLINKED or self._configured_holder(stored.vo_username) else stored
        if self.email_matching:
            match = await self._email_match(slack_user_id)
            if match is not None and not await self._taken(match.username, slack_user_id):
                try:
                    link = await self._links.put(Link(slack_user_id, match.username, "email"))
                except VictorOpsUserTaken:
                    return None  # someone else was linked to it meanwhile: this person gets the link prompt
                await self._record(slack_user_id, link.vo_username, "link", "ok", "email match")
                return link
        return None

    async def linked_usernames(self) -> set[str]:
        """Every VictorOps username some Slack user acts as (lower case)."""
        return await linked_usernames(self._static, self._links)

    async def slack_users(self) -> dict[str, str]:
        """VictorOps username (lower case) -> the Slack user linked to it, for naming people in messages."""
        stored = [(link.vo_username, link.slack_user_id) for link in await self._links.all() if link.source != UNLINKED]
        found: dict[str, str] = {}
        for vo_username, slack_user_id in [*((v, s) for s, v in self._static.items()), *stored]:
            found.setdefault(vo_username.lower(), slack_user_id)  # config first, as `resolve` has it
        return found

    async def vo_username(self, slack_user_id: str) -> str | None:
        link = await self.resolve(slack_user_id)
        return link.vo_username if link else None

    async def _email_match(self, slack_user_id: str) -> User | None:
        profile = await self._profiles.profile(slack_user_id)
        if profile is None or not profile.email:
            return None
        matches = [u for u in await self._directory.users.get() if same_email(u.email, profile.email)]
        # a shared address proves nobody, on either side
        if len(matches) != 1 or await self._profiles.email_shared(profile):
            return None
        return matches[0]

    async def suggest(self, slack_user_id: str) -> Suggestion | None:
        """The VictorOps user this person probably is: by email (verified), else by handle or name."""
        if match := await self._email_match(slack_user_id):
            return Suggestion(match, "email")
        profile = await self._profiles.profile(slack_user_id)
        if profile is None:
            return None
        names = {profile.name.lower(), profile.real_name.lower()} - {""}
        for user in await self._directory.users.get():
            if user.username.lower() in names or user.full_name.lower() in names:
                return Suggestion(user, "name")
        return None

    def _configured_holder(self, vo_username: str) -> str | None:
        """The Slack user the configuration file gives this VictorOps user to, if any."""
        return next((slack for slack, name in self._static.items() if name.lower() == vo_username.lower()), None)

    async def _taken(self, vo_username: str, slack_user_id: str) -> str | None:
        """The other Slack user already linked to this VictorOps user, if any."""
        if (other := self._configured_holder(vo_username)) and other != slack_user_id:
            return other
        holders = [h for h in await self._links.holders(vo_username) if h.slack_user_id != slack_user_id]
        return holders[0].slack_user_id if holders else None

    # ---- linking ----------------------------------------------------------------------------------------

    async def link_self(self, slack_user_id: str, vo_username: str) -> Link:
        """Link the caller, proved by matching emails unless `allow_unverified_self_link`."""
        self._not_configured(slack_user_id, slack_user_id)
        user = await self._existing(vo_username)
        await self._free(user.username, slack_user_id)
        if not self.allow_unverified:
            profile = await self._profiles.profile(slack_user_id)
            if profile is None or not profile.email:
                raise EmailUnproven(user.username, Unproven.NO_EMAIL, self._admins)
            if not same_email(profile.email, user.email):
                raise EmailUnproven(user.username, Unproven.OTHER_EMAIL, self._admins)
            if await self._profiles.email_shared(profile):
                raise EmailUnproven(user.username, Unproven.SHARED_EMAIL, self._admins)
        link = await self._put(Link(slack_user_id, user.username, "self", slack_user_id))
        await self._record(slack_user_id, user.username, "link", "ok", "self")
        return link

    async def link_other(self, admin: str, slack_user_id: str, vo_username: str) -> Link:
        self._require_admin(admin, AdminOnly.LINK_OTHERS)
        self._not_configured(slack_user_id, admin)
        user = await self._existing(vo_username)
        await self._free(user.username, slack_user_id)
        link = await self._put(Link(slack_user_id, user.username, "admin", admin))
        await self._record(admin, user.username, "link", "ok", f"linked {slack_user_id}")
        return link

    async def unlink(self, actor: str, slack_user_id: str) -> Link:
        """Remove a stored link (the caller's own, or anyone's for an admin); returns what was removed."""
        if actor != slack_user_id:
            self._require_admin(actor, AdminOnly.UNLINK_OTHERS)
        self._not_configured(slack_user_id, actor)
        current = await self.resolve(slack_user_id)
        if current is None:
            raise NothingToUnlink(slack_user_id, actor)
        await self._links.put(Link(slack_user_id, "", UNLINKED, actor))
        await self._record(actor, current.vo_username, "unlink", "ok", f"unlinked {slack_user_id}")
        return current

    def _require_admin(self, slack_user_id: str, wanted: AdminOnly) -> None:
        if not self.is_admin(slack_user_id):
            raise NotAdmin(wanted, self._admins)

    def _not_configured(self, slack_user_id: str, asker: str) -> None:
        if slack_user_id in self._static:
            raise Configured(slack_user_id, self._static[slack_user_id], asker)

    async def _existing(self, vo_username: str) -> User:
        user = await self._directory.user(vo_username)
        if user is None:
            raise NoSuchUser(vo_username)
        return user

    async def _free(self, vo_username: str, slack_user_id: str) -> None:
        """The friendly check before a link; the database's rule (see `_put`) is what guarantees it."""
        if other := await self._taken(vo_username, slack_user_id):
            raise Taken(vo_username, other, self._admins)

    async def _put(self, link: Link) -> Link:
        try:
            return await self._links.put(link)
        except VictorOpsUserTaken:  # lost a race to a link made since `_free` looked
            other = await self._taken(link.vo_username, link.slack_user_id)
            raise Taken(link.vo_username, other, self._admins) from None

    async def _record(self, slack_user_id: str, vo_username: str | None, action: str, result: str, detail: str) -> None:
        await self._audit.record(
            slack_user_id=slack_user_id,
            vo_username=vo_username,
            action=action,
            incidents=[],
            result=result,
            detail=detail,
        )
