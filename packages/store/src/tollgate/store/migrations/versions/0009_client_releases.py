"""client releases

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.store.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_releases",
        sa.Column("version", sa.String(length=64), primary_key=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_client_releases_digest", "client_releases", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_client_releases_digest", table_name="client_releases")
    op.drop_table("client_releases")
