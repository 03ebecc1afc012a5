"""licence policies: orders bound to an OS release

An add-on bound to the OS release is bought again on a new release, so an order is unique per
(customer, add-on, OS release); ``os_release`` is '' for add-ons that are not bound, which keeps
"one order per customer and add-on" for them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("os_release", sa.String(length=200), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_orders_customer_addon", type_="unique")
        batch.create_unique_constraint(
            "uq_orders_customer_addon", ["customer_id", "addon_id", "os_release"]
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_orders_customer_addon", type_="unique")
        batch.create_unique_constraint("uq_orders_customer_addon", ["customer_id", "addon_id"])
        batch.drop_column("os_release")
