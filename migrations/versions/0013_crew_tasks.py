"""Crew tasks name the fleet vehicle they move or swap, and the parking area a vehicle is taken to.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("vehicle_id", sa.Uuid(), sa.ForeignKey("vehicles.id"), nullable=True))
    op.add_column("tasks", sa.Column("geofence_id", sa.Uuid(), sa.ForeignKey("geofences.id"), nullable=True))
    op.create_index("ix_tasks_vehicle_id", "tasks", ["vehicle_id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_vehicle_id", table_name="tasks")
    op.drop_column("tasks", "geofence_id")
    op.drop_column("tasks", "vehicle_id")
