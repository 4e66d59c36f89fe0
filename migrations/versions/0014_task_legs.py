"""A second leg names its first (a ride's drop-off its pick-up, a crew dropoff its pickup); a ride's party size.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("leg_of", sa.Uuid(), sa.ForeignKey("tasks.id"), nullable=True))
    op.add_column("tasks", sa.Column("passengers", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_leg_of", "tasks", ["leg_of"])
    op.create_check_constraint("passengers", "tasks", "passengers IS NULL OR passengers > 0")


def downgrade() -> None:
    op.drop_constraint("passengers", "tasks", type_="check")
    op.drop_index("ix_tasks_leg_of", table_name="tasks")
    op.drop_column("tasks", "passengers")
    op.drop_column("tasks", "leg_of")
