"""Water-level gauges by the riverside lots (device keys like the cameras') and their readings: a level at the
threshold floods the lot and warns the drivers booked there.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "water_gauges",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("location", Geography("POINT", srid=4326), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=True),
        _at("key_rotated_at", nullable=True),
        sa.Column("lot_id", sa.Uuid(), sa.ForeignKey("lots.id"), nullable=False),
        sa.Column("threshold_cm", sa.Integer(), nullable=False),
        sa.Column("level_cm", sa.Integer(), nullable=True),
        _at("level_at", nullable=True),
        _at("flooding_since", nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("threshold_cm > 0", name="threshold"),
    )
    op.create_index("ix_water_gauges_lot_id", "water_gauges", ["lot_id"])
    op.create_table(
        "water_levels",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("gauge_id", sa.Uuid(), sa.ForeignKey("water_gauges.id"), nullable=False),
        _at("at"),
        sa.Column("level_cm", sa.Integer(), nullable=False),
        _at("received_at"),
        sa.UniqueConstraint("gauge_id", "at", name="uq_water_levels_gauge_at"),
    )


def downgrade() -> None:
    op.drop_table("water_levels")
    op.drop_table("water_gauges")
