"""reminder_slots, reminder_snoozes, and feed_cards indexed by phase: reminders in the cards' threads

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_feed_cards_phase"), "feed_cards", ["phase"])
    op.create_table(
        "reminder_slots",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", "channel", "kind", "slot", name=op.f("pk_reminder_slots")),
    )
    op.create_table(
        "reminder_snoozes",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_reminder_snoozes")),
    )


def downgrade() -> None:
    op.drop_table("reminder_snoozes")
    op.drop_table("reminder_slots")
    op.drop_index(op.f("ix_feed_cards_phase"), table_name="feed_cards")
