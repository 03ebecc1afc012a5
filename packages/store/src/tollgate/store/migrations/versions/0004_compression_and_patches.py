"""compression and patches

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(
            sa.Column("compression", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("plain_digest", sa.String(length=64), nullable=True))
    op.create_table(
        "patches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("base_digest", sa.String(length=64), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_id", "base_digest"),
    )
    op.create_index("ix_patches_digest", "patches", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_patches_digest", table_name="patches")
    op.drop_table("patches")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("plain_digest")
        batch.drop_column("compression")
