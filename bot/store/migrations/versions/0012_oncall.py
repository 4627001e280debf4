"""oncall_seen: who was last seen on call per team and what each on-call user group was set to, so one replica
handles each change; a claim is pending (`pending_at`) until its handoff is posted or its group set, with the
on-call it replaced (`was`), so a replica that crashed in between is taken over

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oncall_seen",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("users", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.Double(), nullable=False),
        sa.Column("was", sa.Text(), nullable=True),
        sa.Column("pending_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oncall_seen")),
    )


def downgrade() -> None:
    op.drop_table("oncall_seen")
