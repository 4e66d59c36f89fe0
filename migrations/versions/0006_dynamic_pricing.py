"""Dynamic pricing: a multiplier per zone and hour of the day, recomputed from occupancy by the worker.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_multipliers",
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), primary_key=True),
        sa.Column("hour", sa.Integer(), primary_key=True),
        sa.Column("occupancy_permille", sa.Integer(), nullable=False),
        sa.Column("multiplier_permille", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hour >= 0 AND hour < 24", name="hour"),
        sa.CheckConstraint("multiplier_permille > 0", name="multiplier"),
        sa.CheckConstraint("occupancy_permille >= 0 AND occupancy_permille <= 1000", name="occupancy"),
    )


def downgrade() -> None:
    op.drop_table("price_multipliers")
