"""oncall_seen: who was last seen on call per team and what each on-call user group was set to, so one replica
handles each change

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
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oncall_seen")),
    )


def downgrade() -> None:
    op.drop_table("oncall_seen")
