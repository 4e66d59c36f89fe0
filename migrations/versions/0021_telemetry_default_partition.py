"""A DEFAULT partition for telemetry: a fix of a day whose partition the worker has not made (the worker down for
days) is kept there instead of failing the request; the worker moves such rows into the day's partition when it
makes it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT")


def downgrade() -> None:
    op.execute("DROP TABLE telemetry_default")
