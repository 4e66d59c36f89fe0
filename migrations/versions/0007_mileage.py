"""Mileage: earning rules as data, and points earned and redeemed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rules = op.create_table(
        "mileage_rules",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("condition", pg.JSON(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("points_per_1000_krw", sa.Integer(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("points >= 0 AND points_per_1000_krw >= 0 AND valid_days > 0", name="points"),
    )
    op.create_table(
        "mileage_entries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points <> 0", name="points"),
        sa.CheckConstraint("remaining >= 0 AND (points < 0 OR remaining <= points)", name="remaining"),
    )
    op.bulk_insert(
        rules,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "maeul:mileage:outside-core"),
                "code": "park-outside-core",
                "description": "parking outside the village core for an hour or more, leaving its lanes free",
                "event": "booking_completed",
                "condition": {"zone_code_not_in": ["sangsalmi"], "min_minutes": 60},
                "points": 300,
                "points_per_1000_krw": 0,
                "valid_days": 365,
                "active": True,
            },
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "maeul:mileage:every-booking"),
                "code": "every-booking",
                "description": "1% back on every completed booking",
                "event": "booking_completed",
                "condition": {},
                "points": 0,
                "points_per_1000_krw": 10,
                "valid_days": 365,
                "active": True,
            },
        ],
    )


def downgrade() -> None:
    op.drop_table("mileage_entries")
    op.drop_table("mileage_rules")
