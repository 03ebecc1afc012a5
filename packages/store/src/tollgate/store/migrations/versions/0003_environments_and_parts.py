"""environments, requirements and parts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("requires", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("environment", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("parts", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("parts")
        batch.drop_column("environment")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("requires")
