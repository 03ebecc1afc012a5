"""add-on updates: encrypted patches and upgrade orders

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patches") as batch:
        batch.add_column(sa.Column("stream_header", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("upgrade_of", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("upgrade_of")
    with op.batch_alter_table("patches") as batch:
        batch.drop_column("stream_header")
