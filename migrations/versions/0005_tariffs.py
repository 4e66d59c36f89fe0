"""Tariffs by zone, slot kind, day type and time band; city price caps; public holidays; booking quotes and charges.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), nullable=False, index=True),
        sa.Column("slot_kind", sa.String(24), nullable=False),
        sa.Column("day_type", sa.String(16), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("unit_minutes", sa.Integer(), nullable=False),
        sa.Column("unit_price_krw", sa.Integer(), nullable=False),
        sa.CheckConstraint("day_type IN ('weekday', 'weekend', 'holiday')", name="day_type"),
        sa.CheckConstraint("start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440", name="band"),
        sa.CheckConstraint("unit_minutes IN (10, 15, 30, 60)", name="unit"),
        sa.CheckConstraint("unit_price_krw >= 0", name="price"),
        pg.ExcludeConstraint(
            ("zone_id", "="),
            ("slot_kind", "="),
            ("day_type", "="),
            (sa.text("int4range(start_minute, end_minute)"), "&&"),
            name="tariff_bands_do_not_overlap",
            using="gist",
        ),
    )
    op.create_table(
        "zone_price_caps",
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), primary_key=True),
        sa.Column("min_krw_per_hour", sa.Integer(), nullable=False),
        sa.Column("max_krw_per_hour", sa.Integer(), nullable=False),
        sa.CheckConstraint("0 <= min_krw_per_hour AND min_krw_per_hour <= max_krw_per_hour", name="caps"),
    )
    op.create_table(
        "public_holidays",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.add_column("bookings", sa.Column("quote_krw", sa.BigInteger(), nullable=True))
    op.add_column("bookings", sa.Column("quote_lines", pg.JSON(), nullable=True))
    op.add_column("bookings", sa.Column("charged_krw", sa.BigInteger(), nullable=True))
    op.add_column("bookings", sa.Column("charge_lines", pg.JSON(), nullable=True))
    op.create_check_constraint("money", "bookings", "quote_krw >= 0 AND (charged_krw IS NULL OR charged_krw >= 0)")


def downgrade() -> None:
    op.drop_constraint("ck_bookings_money", "bookings")
    for column in ("charge_lines", "charged_krw", "quote_lines", "quote_krw"):
        op.drop_column("bookings", column)
    op.drop_table("public_holidays")
    op.drop_table("zone_price_caps")
    op.drop_table("tariffs")
