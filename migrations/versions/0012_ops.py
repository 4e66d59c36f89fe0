"""Field staff (role `staff`), their shifts (never overlapping), tasks with stamped state changes, pay statements.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql as pg

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('resident', 'owner', 'operator', 'city', 'admin')"
ROLES = "role IN ('resident', 'owner', 'operator', 'staff', 'city', 'admin')"
KINDS = (
    "'valet_pickup', 'valet_return', 'rebalance_pickup', 'rebalance_dropoff', 'battery_swap', 'ride_pickup', "
    "'ride_dropoff', 'inspection', 'complaint_followup'"
)
STATES = "'unassigned', 'assigned', 'en_route', 'arrived', 'done', 'failed', 'cancelled'"
OPEN = "state IN ('unassigned', 'assigned', 'en_route', 'arrived')"


def _created_at() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _point(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, Geography("POINT", srid=4326, spatial_index=False), nullable=nullable)


def _stamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.drop_constraint("role", "accounts", type_="check")
    op.create_check_constraint("role", "accounts", ROLES)
    op.create_table(
        "staff_members",
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("skills", pg.ARRAY(sa.String(16)), nullable=False),
        sa.Column("hourly_wage_krw", sa.Integer(), nullable=False),
        _point("position", nullable=True),
        _stamp("position_at"),
        _created_at(),
        sa.CheckConstraint("skills <@ ARRAY['valet', 'crew', 'driver']::varchar[]", name="skills"),
        sa.CheckConstraint("hourly_wage_krw >= 0", name="wage"),
    )
    op.create_table(
        "shifts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("staff_id", sa.Uuid(), sa.ForeignKey("staff_members.account_id"), nullable=False, index=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False),
        _stamp("clocked_in_at"),
        _stamp("clocked_out_at"),
        _created_at(),
        sa.CheckConstraint("planned_end > planned_start", name="planned"),
        sa.CheckConstraint("clocked_out_at IS NULL OR clocked_in_at <= clocked_out_at", name="clocked"),
        sa.CheckConstraint("clocked_out_at IS NULL OR clocked_in_at IS NOT NULL", name="clocked_in_first"),
        pg.ExcludeConstraint(
            ("staff_id", "="),
            (sa.text("tstzrange(planned_start, planned_end)"), "&&"),
            name="no_overlapping_shifts",
            using="gist",
        ),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.Uuid(), sa.ForeignKey("staff_members.account_id"), nullable=True, index=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True, index=True),
        _point("origin", nullable=False),
        _point("destination", nullable=True),
        _stamp("origin_from"),
        _stamp("origin_by"),
        _stamp("destination_from"),
        _stamp("destination_by"),
        sa.Column("sequence", sa.Integer(), nullable=True),
        _stamp("eta_origin"),
        _stamp("eta_destination"),
        sa.Column("booking_id", sa.Uuid(), sa.ForeignKey("bookings.id"), nullable=True, index=True),
        sa.Column("vehicle_plate", sa.String(16), nullable=True),
        sa.Column("hold_id", sa.Uuid(), sa.ForeignKey("payment_holds.id"), nullable=True),
        sa.Column("fee_krw", sa.BigInteger(), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        *(_stamp(f"{state}_at") for state in ("assigned", "en_route", "arrived", "done", "failed", "cancelled")),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        _created_at(),
        sa.CheckConstraint(f"kind IN ({KINDS})", name="kind"),
        sa.CheckConstraint(f"state IN ({STATES})", name="state"),
        sa.CheckConstraint(
            "(state = 'unassigned') = (staff_id IS NULL) OR state IN ('done', 'failed', 'cancelled')", name="staff"
        ),
        sa.CheckConstraint("fee_krw IS NULL OR fee_krw >= 0", name="fee"),
    )
    op.create_index("ix_tasks_open", "tasks", ["state"], postgresql_where=sa.text(OPEN))
    op.create_table(
        "pay_statements",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("staff_id", sa.Uuid(), sa.ForeignKey("staff_members.account_id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("minutes_worked", sa.Integer(), nullable=False),
        sa.Column("tasks_done", sa.Integer(), nullable=False),
        sa.Column("hourly_wage_krw", sa.Integer(), nullable=False),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        _created_at(),
        sa.CheckConstraint("minutes_worked >= 0 AND tasks_done >= 0 AND amount_krw >= 0", name="numbers"),
        sa.CheckConstraint("month ~ '^[0-9]{4}-[0-9]{2}$'", name="month"),
        sa.UniqueConstraint("staff_id", "month", name="one_statement_per_month"),
    )


def downgrade() -> None:
    op.drop_table("pay_statements")
    op.drop_table("tasks")
    op.drop_table("shifts")
    op.drop_table("staff_members")
    op.execute("DELETE FROM accounts WHERE role = 'staff'")
    op.drop_constraint("role", "accounts", type_="check")
    op.create_check_constraint("role", "accounts", ROLES_BEFORE)
