"""user_links: one Slack user per VictorOps user, enforced by a unique index

A partial unique index on lower(vo_username) over live links (explicit unlinks, source "none" with an
empty username, are exempt). Databases written before it may hold a VictorOps user linked to several Slack
users (concurrent links raced past the check): the earliest link of each VictorOps user is kept, and every
later one becomes an explicit unlink, so email matching does not quietly link that person again; an admin
links them again if that is wrong. A downgrade drops the index and leaves those unlinks in place.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_user_links_live_vo_username"
LIVE = "source <> 'none'"

# The database's own lower(), the one the index uses. The earliest link of a VictorOps user is never
# changed, so it witnesses every later one, whatever order the rows are updated in.
UNLINK_LATER_DUPLICATES = """
UPDATE user_links SET vo_username = '', source = 'none', linked_by = NULL
WHERE source <> 'none' AND EXISTS (
    SELECT 1 FROM user_links AS earlier
    WHERE earlier.source <> 'none' AND lower(earlier.vo_username) = lower(user_links.vo_username)
      AND (earlier.at < user_links.at
           OR (earlier.at = user_links.at AND earlier.slack_user_id < user_links.slack_user_id))
)
"""


def upgrade() -> None:
    op.execute(UNLINK_LATER_DUPLICATES)
    op.create_index(
        INDEX,
        "user_links",
        [sa.text("lower(vo_username)")],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="user_links")
