"""action_queue.told: whether the person who asked has been told how their action ended

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-11
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("action_queue", sa.Column("told", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Actions finished before this revision were told (or never will be): nobody hears about them again.
    op.execute("UPDATE action_queue SET told = true WHERE status IN ('done', 'failed')")


def downgrade() -> None:
    op.drop_column("action_queue", "told")
