"""interaction_contexts: server-side context of modals and link prompts, found by an opaque token

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interaction_contexts",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_interaction_contexts")),
    )
    op.create_index(op.f("ix_interaction_contexts_expires_at"), "interaction_contexts", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_interaction_contexts_expires_at"), table_name="interaction_contexts")
    op.drop_table("interaction_contexts")
