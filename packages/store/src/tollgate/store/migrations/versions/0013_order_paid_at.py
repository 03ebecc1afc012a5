"""orders: when each was paid, kept apart from updated_at (which a refund moves)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollgate.store.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("paid_at", UTCDateTime(timezone=True), nullable=True))
    # Until now a paid order's last change was its payment; a refunded one's was its refund,
    # the closest time there is to its payment.
    op.execute("UPDATE orders SET paid_at = updated_at WHERE status IN ('paid', 'refunded')")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("paid_at")
