"""action_queue, leases, api_calls, snapshots: the durable action queue and what replicas share

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("vo_username", sa.String(length=255), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("slack_name", sa.String(length=255), nullable=False),
        sa.Column("incidents", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_queue")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_action_queue_dedupe_key")),
    )
    op.create_index(op.f("ix_action_queue_status"), "action_queue", ["status"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "api_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_calls")),
    )
    op.create_index("ix_api_calls_family_at", "api_calls", ["family", "at"])
    op.create_table(
        "snapshots",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.Double(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
    op.drop_index("ix_api_calls_family_at", table_name="api_calls")
    op.drop_table("api_calls")
    op.drop_table("leases")
    op.drop_index(op.f("ix_action_queue_status"), table_name="action_queue")
    op.drop_table("action_queue")
