"""Complaints in the village enterprise's queue (states, assignment, replies, SLA times) and assisted bookings (an
operator books on a resident's behalf, recorded as such).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("filed_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("subject", sa.String(16), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True),
        _at("filed_at"),
        _at("response_due_at"),
        _at("resolution_due_at"),
        _at("first_response_at", nullable=True),
        _at("resolved_at", nullable=True),
        _at("state_changed_at"),
        sa.Column("reopened", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "category IN ('service_quality', 'digital_skills', 'billing', 'noise', 'other')", name="category"
        ),
        sa.CheckConstraint("state IN ('open', 'in_progress', 'resolved')", name="state"),
        sa.CheckConstraint("subject IN ('booking', 'ride')", name="subject"),
        sa.CheckConstraint("(subject IS NULL) = (subject_id IS NULL)", name="subject_given_whole"),
        sa.CheckConstraint("(state = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_stamped"),
    )
    op.create_index("ix_complaints_filed_by", "complaints", ["filed_by"])
    op.create_index("ix_complaints_assignee_id", "complaints", ["assignee_id"])
    op.create_index("ix_complaints_queue", "complaints", ["state", "resolution_due_at"])
    op.create_table(
        "complaint_replies",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        sa.Column("complaint_id", sa.Uuid(), sa.ForeignKey("complaints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("from_operator", sa.Boolean(), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        _at("at"),
    )
    op.create_index("ix_complaint_replies_complaint_id", "complaint_replies", ["complaint_id"])
    op.add_column("bookings", sa.Column("assisted_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True))


def downgrade() -> None:
    op.drop_column("bookings", "assisted_by")
    op.drop_table("complaint_replies")
    op.drop_table("complaints")
