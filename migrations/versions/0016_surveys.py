"""Residents' satisfaction survey: one answer (1-5 and a comment) per completed booking or ride.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("respondent_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.String(2000), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("subject IN ('booking', 'ride')", name="subject"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        sa.UniqueConstraint("subject", "subject_id", name="uq_survey_responses_subject"),
    )
    op.create_index("ix_survey_responses_respondent_id", "survey_responses", ["respondent_id"])
    op.create_index("ix_survey_responses_answered_at", "survey_responses", ["answered_at"])


def downgrade() -> None:
    op.drop_table("survey_responses")
