"""Table definitions. Every change here needs a new revision in `bot/store/migrations/versions/`."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, MetaData, String, Text, TypeDecorator, false, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so Alembic can refer to them (batch mode on SQLite needs them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored and returned in UTC.

    SQLite has no time zone type: SQLAlchemy would drop the offset on write and return naive values.
    Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware one (tzinfo set)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as UTC without an offset
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime}


class AuditLog(Base):
    """One row per action a Slack user took on VictorOps incidents (ack, resolve, reroute, create)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    vo_username: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    incidents: Mapped[list[str]] = mapped_column(JSON)  # incident numbers as VictorOps gives them
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class UserLink(Base):
    """A Slack user linked to a VictorOps username, made in Slack or imported (the YAML map is not stored)."""

    __tablename__ = "user_links"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vo_username: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(16))  # self | admin | email | import | none (explicitly unlinked)
    linked_by: Mapped[str | None] = mapped_column(String(32))  # the Slack user who made the link
    at: Mapped[datetime]


# A VictorOps user belongs to one Slack user, whatever races the writers run (case-insensitive, as VictorOps
# usernames are); explicit unlinks (source "none", no username) are exempt.
LIVE_LINK_INDEX = "uq_user_links_live_vo_username"
_live = UserLink.source != "none"
Index(LIVE_LINK_INDEX, func.lower(UserLink.vo_username), unique=True, sqlite_where=_live, postgresql_where=_live)


class QueuedActionRow(Base):
    """An ack/resolve/reroute/create written before it is sent, so none is lost to a restart or the rate limit."""

    __tablename__ = "action_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    verb: Mapped[str] = mapped_column(String(16))
    vo_username: Mapped[str] = mapped_column(String(255))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    slack_name: Mapped[str] = mapped_column(String(255))
    incidents: Mapped[list[str]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the VictorOps request body
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)  # where and how to answer in Slack
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | sending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # The person who asked stopped waiting for the outcome: the dispatcher tells them when it lands.
    handed_off: Mapped[bool] = mapped_column(default=False)
    # Someone (the asker, or a dispatcher) has told the person how it ended: set by one conditional UPDATE,
    # so whoever sets it tells, once.
    told: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set while pending or sending, NULL once finished: a double click finds the first action, a later
    # click makes a new one. Both databases allow any number of NULLs in a unique column.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)


class LeaseRow(Base):
    """A named lease: `holder` may act (e.g. send queued actions) until `expires_at`."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class ApiCallRow(Base):
    """One VictorOps call in a sliding window shared by every replica; rows older than the window are deleted."""

    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_family_at", "family", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(16))  # the endpoint family the limit applies to
    at: Mapped[float]  # epoch seconds, compared with the window's clock


class SnapshotRow(Base):
    """The latest answer of a VictorOps read (e.g. the incident list), shared so replicas fetch it once."""

    __tablename__ = "snapshots"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fetched_at: Mapped[float]  # epoch seconds
    body: Mapped[str] = mapped_column(Text)


class DigestRow(Base):
    """A scheduled digest: from the YAML file (source "config", rewritten at every start) or made in Slack."""

    __tablename__ = "digests"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    schedule: Mapped[str] = mapped_column(String(120))  # five-field cron
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    when_empty: Mapped[str] = mapped_column(String(8))  # post | skip
    routes: Mapped[list[str]] = mapped_column(JSON)
    teams: Mapped[list[str]] = mapped_column(JSON)
    phases: Mapped[list[str]] = mapped_column(JSON)  # UNACKED and/or ACKED; empty means both
    source: Mapped[str] = mapped_column(String(8))  # config | slack
    created_by: Mapped[str | None] = mapped_column(String(32))  # the Slack user, for source "slack"
    created_at: Mapped[datetime]


class DigestSlotRow(Base):
    """A digest's slot, claimed by one replica: the primary key lets only the first claim in, so it posts once."""

    __tablename__ = "digest_slots"

    digest: Mapped[str] = mapped_column(String(40), primary_key=True)
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)  # local wall-clock time, YYYY-MM-DDTHH:MM
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]
    posted_ts: Mapped[str | None] = mapped_column(String(32))  # the Slack message, once posted


class PostLimitRow(Base):
    """One of the `count` slots of a sliding window on channel posts (`bot.store.post_limits`): a slot holds the
    time of its last post and is taken again only once that has left the window."""

    __tablename__ = "post_limits"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)  # kind:channel[:person]
    slot: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[float]  # epoch seconds of the slot's last post


class SeenRequestRow(Base):
    """A Slack request already taken (its signature, or an Events API event id): a replay's insert loses."""

    __tablename__ = "seen_requests"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # kept until then, so replays inside the window lose


class InteractionContextRow(Base):
    """What a later Slack request needs from an earlier, signed one (where to answer, which card to redraw),
    found by the opaque token that the modal or button carries instead."""

    __tablename__ = "interaction_contexts"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # modal | link
    slack_user_id: Mapped[str] = mapped_column(String(32))  # the person it was made for
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IncidentEventRow(Base):
    """A VictorOps outgoing-webhook delivery, kept before it is answered: `key` (a digest of the body) lets a
    duplicate delivery in once only; `processed_at` is NULL until the view and the feeds have taken it."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    number: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the flat body as VictorOps sent it
    processed_at: Mapped[datetime | None]


class FeedRow(Base):
    """A channel's live feed: from the YAML file (source "config", rewritten at every start) or `/vo subscribe`."""

    __tablename__ = "feeds"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    routes: Mapped[list[str]] = mapped_column(JSON)
    teams: Mapped[list[str]] = mapped_column(JSON)
    policies: Mapped[list[str]] = mapped_column(JSON)
    remind_unacked: Mapped[int | None]  # seconds; NULL: off
    remind_acked: Mapped[int | None]
    handoff: Mapped[bool] = mapped_column(default=False)
    max_cards_per_minute: Mapped[int]
    source: Mapped[str] = mapped_column(String(8))  # config | slack
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]  # incidents that started before it are the backlog: not posted


class FeedCardRow(Base):
    """An incident's card in a feed's channel: the primary key lets one claim in, so it is posted once ever; `phase`
    only moves forward (one conditional UPDATE), so each change edits the card and adds its thread line once."""

    __tablename__ = "feed_cards"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str | None] = mapped_column(String(32))  # NULL while the post is in flight
    phase: Mapped[str] = mapped_column(String(16), index=True)  # as last drawn; indexed: reminders read open ones
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FeedRollupRow(Base):
    """A channel's minute of new incidents, in order: those past `max_cards_per_minute` are in its rolled-up
    message (`ts`)."""

    __tablename__ = "feed_rollups"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    minute: Mapped[str] = mapped_column(String(16), primary_key=True)  # UTC, YYYY-MM-DDTHH:MM
    ts: Mapped[str | None] = mapped_column(String(32))
    numbers: Mapped[list[str]] = mapped_column(JSON)


class ReminderSlotRow(Base):
    """A reminder slot (incident, channel, kind, k-th interval in the phase): the primary key lets one claim in, so
    each reminder is posted once; `ts` NULL while its post is in flight (a claim left so by a crash is taken over
    once stale)."""

    __tablename__ = "reminder_slots"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ts: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]


class ReminderSnoozeRow(Base):
    """An incident's reminders paused until `until` (NULL: stopped for good), by a Slack user: one row per incident,
    written by one upsert, read by every replica."""

    __tablename__ = "reminder_snoozes"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[datetime | None]
    by: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class OnCallSeenRow(Base):
    """Who was last seen on call for a team (a canonical JSON list of usernames), or what a user group was last
    set to, and when VictorOps was asked: a change is handled by the one replica whose compare-and-set on `users`
    wins."""

    __tablename__ = "oncall_seen"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # a team slug, or a Slack user group ID
    users: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[float]  # epoch seconds of the answer it came from: an older answer never wins
    was: Mapped[str | None] = mapped_column(Text)  # `users` before this claim, while it is pending
    pending_at: Mapped[float | None]  # epoch seconds of the claim, until its post or update is done; NULL: done
