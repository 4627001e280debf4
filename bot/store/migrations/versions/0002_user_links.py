"""user_links: Slack user -> VictorOps username

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_links",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("vo_username", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("linked_by", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_user_links")),
    )
    op.create_index(op.f("ix_user_links_vo_username"), "user_links", ["vo_username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_user_links_vo_username"), table_name="user_links")
    op.drop_table("user_links")
