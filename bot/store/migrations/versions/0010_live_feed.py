"""incident_events, feeds, feed_cards, feed_rollups: the live feed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("key", name=op.f("uq_incident_events_key")),
    )
    op.create_index(op.f("ix_incident_events_received_at"), "incident_events", ["received_at"])
    op.create_table(
        "feeds",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("policies", sa.JSON(), nullable=False),
        sa.Column("remind_unacked", sa.Integer(), nullable=True),
        sa.Column("remind_acked", sa.Integer(), nullable=True),
        sa.Column("handoff", sa.Boolean(), nullable=False),
        sa.Column("max_cards_per_minute", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_feeds")),
    )
    op.create_table(
        "feed_cards",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", "channel", name=op.f("pk_feed_cards")),
    )
    op.create_table(
        "feed_rollups",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("minute", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "minute", name=op.f("pk_feed_rollups")),
    )


def downgrade() -> None:
    op.drop_table("feed_rollups")
    op.drop_table("feed_cards")
    op.drop_table("feeds")
    op.drop_index(op.f("ix_incident_events_received_at"), table_name="incident_events")
    op.drop_table("incident_events")
