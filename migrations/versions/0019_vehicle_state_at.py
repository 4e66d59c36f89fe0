"""A vehicle's state at an instant (its latest event at or before it) by one index probe: (vehicle_id, at) replaces
the index on vehicle_id alone. The KPI table reads the fleet's states hour by hour this way.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_vehicle_events_vehicle_at", "vehicle_events", ["vehicle_id", "at"])
    op.drop_index("ix_vehicle_events_vehicle_id", table_name="vehicle_events")


def downgrade() -> None:
    op.create_index("ix_vehicle_events_vehicle_id", "vehicle_events", ["vehicle_id"])
    op.drop_index("ix_vehicle_events_vehicle_at", table_name="vehicle_events")
