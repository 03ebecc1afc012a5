"""the client meter: use numbers, meter generations and renewal holds

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_usage_order_seq", ["customer_id", "order_id", "seq"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("meter_generation", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("renewal_hold", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("renewal_hold")
        batch.drop_column("meter_generation")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_constraint("uq_usage_order_seq", type_="unique")
        batch.drop_column("seq")
