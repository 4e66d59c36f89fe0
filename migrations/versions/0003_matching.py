"""Matching: drivers' requests for parking later, matched in batches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_requests",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("driver_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("destination", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("period", pg.TSTZRANGE(), nullable=False),
        sa.Column("max_walk_m", sa.Integer(), nullable=False),
        sa.Column("needs_ev", sa.Boolean(), nullable=False),
        sa.Column("needs_accessible", sa.Boolean(), nullable=False),
        sa.Column("vehicle_size", sa.String(16), nullable=False),
        sa.Column("vehicle_plate", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booking_id", sa.Uuid(), sa.ForeignKey("bookings.id"), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("explanation", pg.JSON(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'matched', 'expired', 'cancelled')", name="status"),
        sa.CheckConstraint("vehicle_size IN ('compact', 'regular', 'large')", name="vehicle_size"),
        sa.CheckConstraint("max_walk_m > 0", name="max_walk_m"),
        sa.CheckConstraint(
            "NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)"
            " AND lower_inc(period) AND NOT upper_inc(period)",
            name="period",
        ),
    )
    op.create_index("ix_match_requests_status_start", "match_requests", ["status", sa.text("lower(period)")])


def downgrade() -> None:
    op.drop_table("match_requests")
