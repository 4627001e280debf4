"""oncall_seen: a claim is pending (`pending_at`) until its handoff is posted or its group set, with the on-call
it replaced (`was`), so a replica that crashed in between is taken over and the handoff still says who was on call

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("oncall_seen", sa.Column("was", sa.Text(), nullable=True))
    op.add_column("oncall_seen", sa.Column("pending_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oncall_seen") as batch:
        batch.drop_column("pending_at")
        batch.drop_column("was")
