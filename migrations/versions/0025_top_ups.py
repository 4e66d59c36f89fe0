"""Wallet top-ups as orders confirmed by the payment gateway: no wallet is credited without a confirmed payment.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "top_ups",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_key", sa.String(200), nullable=True),
        sa.Column("method", sa.String(40), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.String(300), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_krw > 0", name="amount"),
        sa.CheckConstraint("status IN ('pending', 'confirmed', 'failed', 'cancelled')", name="status"),
        sa.CheckConstraint(
            "(status = 'confirmed') = (payment_key IS NOT NULL AND confirmed_at IS NOT NULL)", name="paid"
        ),
        sa.UniqueConstraint("payment_key", name="uq_top_ups_payment_key"),
    )
    op.create_index(op.f("ix_top_ups_account_id"), "top_ups", ["account_id"])


def downgrade() -> None:
    op.drop_table("top_ups")
