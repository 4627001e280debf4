"""post_limits: how many channel posts a person (or a channel) made lately, shared by replicas

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_limits",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", "slot", name=op.f("pk_post_limits")),
    )


def downgrade() -> None:
    op.drop_table("post_limits")
