"""add-on descriptions: what an add-on gives, as its manifest says

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("addons") as batch:
        batch.add_column(
            sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''"))
        )


def downgrade() -> None:
    with op.batch_alter_table("addons") as batch:
        batch.drop_column("description")
