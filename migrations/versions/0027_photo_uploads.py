"""Condition-report photos on record (who uploaded each, when), so those no report names are removed after a day.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_uploads",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_photo_uploads_account_id"), "photo_uploads", ["account_id"])
    op.create_index(op.f("ix_photo_uploads_created_at"), "photo_uploads", ["created_at"])


def downgrade() -> None:
    op.drop_table("photo_uploads")
