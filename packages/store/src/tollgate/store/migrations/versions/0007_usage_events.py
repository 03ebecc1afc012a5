"""metered uses

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.store.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id", sa.String(length=64), sa.ForeignKey("customers.id"), nullable=False
        ),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=40), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("addon_id", sa.Integer(), sa.ForeignKey("addons.id"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.UniqueConstraint("customer_id", "event_id", name="uq_usage_customer_event"),
    )
    op.create_index("ix_usage_events_customer_id", "usage_events", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_events_customer_id", table_name="usage_events")
    op.drop_table("usage_events")
