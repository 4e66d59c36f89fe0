"""The ledger's origin: a name of this log, unique to the deployment, so that a monitor remembers each log apart.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_head", sa.Column("origin", sa.String(80), nullable=True))
    op.execute("UPDATE ledger_head SET origin = 'maeul/' || gen_random_uuid()")
    op.alter_column("ledger_head", "origin", nullable=False)


def downgrade() -> None:
    op.drop_column("ledger_head", "origin")
