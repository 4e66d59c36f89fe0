"""A queued match request can be refused (the wallet cannot cover the booking, or the booking failed for another
reason of the driver's): it is marked with its reason and the batch serves the others.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_match_requests_status"), "match_requests", type_="check")
    op.create_check_constraint(
        "status", "match_requests", "status IN ('pending', 'matched', 'expired', 'cancelled', 'refused')"
    )


def downgrade() -> None:
    op.execute("UPDATE match_requests SET status = 'expired' WHERE status = 'refused'")
    op.drop_constraint(op.f("ck_match_requests_status"), "match_requests", type_="check")
    op.create_check_constraint("status", "match_requests", "status IN ('pending', 'matched', 'expired', 'cancelled')")
