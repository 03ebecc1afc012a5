"""card declines, by keyed hash, shared by every store process

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.store.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_declines",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("declined_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_card_declines_fingerprint", "card_declines", ["fingerprint"])
    op.create_index("ix_card_declines_declined_at", "card_declines", ["declined_at"])


def downgrade() -> None:
    op.drop_index("ix_card_declines_declined_at", table_name="card_declines")
    op.drop_index("ix_card_declines_fingerprint", table_name="card_declines")
    op.drop_table("card_declines")
