"""Foundation: accounts, zones, lots, slots, sharing windows, bookings, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HOLDING = "status IN ('reserved', 'active', 'overstayed')"

# The sharing windows of a slot over [p_from, p_to) as a multirange: weekly rules expanded in local time p_tz
# (a window may run past midnight), plus one-off extra windows, minus blackouts. Adjacent windows merge.
SLOT_WINDOWS = """
CREATE FUNCTION slot_windows(p_slot uuid, p_from timestamptz, p_to timestamptz, p_tz text)
RETURNS tstzmultirange LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH days AS (
    SELECT d::date AS day
    FROM generate_series((p_from AT TIME ZONE p_tz)::date - 1, (p_to AT TIME ZONE p_tz)::date, interval '1 day') d
  ), windows AS (
    SELECT tstzrange((day + make_interval(mins => r.start_minute)) AT TIME ZONE p_tz,
                     (day + make_interval(mins => r.end_minute)) AT TIME ZONE p_tz) AS period
    FROM sharing_rules r JOIN days ON extract(isodow FROM day)::smallint = ANY (r.weekdays)
    WHERE r.slot_id = p_slot
    UNION ALL
    SELECT period FROM sharing_exceptions
    WHERE slot_id = p_slot AND kind = 'extra' AND period && tstzrange(p_from, p_to)
  )
  SELECT coalesce((SELECT range_agg(period) FROM windows), '{}'::tstzmultirange)
       - coalesce((SELECT range_agg(period) FROM sharing_exceptions
                   WHERE slot_id = p_slot AND kind = 'blackout' AND period && tstzrange(p_from, p_to)),
                  '{}'::tstzmultirange)
$$;
"""


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _range_check(column: str, *, half_open: bool) -> str:
    sql = f"NOT isempty({column}) AND NOT lower_inf({column}) AND NOT upper_inf({column})"
    return sql + (f" AND lower_inc({column}) AND NOT upper_inc({column})" if half_open else "")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _created_at(),
        sa.CheckConstraint("role IN ('resident', 'owner', 'operator', 'city', 'admin')", name="role"),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area", Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False),
        _created_at(),
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("operator_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True, index=True),
        sa.Column("location", Geography("POINT", srid=4326, spatial_index=True), nullable=False),
        _created_at(),
        sa.CheckConstraint("kind IN ('public_lot', 'private_lot')", name="kind"),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("lot_id", sa.Uuid(), sa.ForeignKey("lots.id"), nullable=True, index=True),
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), nullable=False, index=True),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("operator_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True, index=True),
        sa.Column("location", Geography("POINT", srid=4326, spatial_index=True), nullable=False),
        sa.Column("ev_charger", sa.Boolean(), nullable=False),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('public_lot', 'private_lot', 'resident_priority', 'private_individual')", name="kind"
        ),
        sa.CheckConstraint("size IN ('compact', 'regular', 'large')", name="size"),
        sa.CheckConstraint("(lot_id IS NOT NULL) = (kind IN ('public_lot', 'private_lot'))", name="lot_matches_kind"),
    )
    op.create_table(
        "sharing_rules",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slot_id", sa.Uuid(), sa.ForeignKey("slots.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("weekdays", pg.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        _created_at(),
        sa.CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start_minute"),
        sa.CheckConstraint("end_minute > start_minute AND end_minute <= start_minute + 1440", name="end_minute"),
        sa.CheckConstraint(
            "cardinality(weekdays) > 0 AND weekdays <@ ARRAY[1,2,3,4,5,6,7]::smallint[]", name="weekdays"
        ),
    )
    op.create_table(
        "sharing_exceptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slot_id", sa.Uuid(), sa.ForeignKey("slots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", pg.TSTZRANGE(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        _created_at(),
        sa.CheckConstraint("kind IN ('extra', 'blackout')", name="kind"),
        sa.CheckConstraint(_range_check("period", half_open=False), name="period"),
    )
    op.create_index(
        "ix_sharing_exceptions_slot_period",
        "sharing_exceptions",
        ["slot_id", "period"],
        postgresql_using="gist",
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slot_id", sa.Uuid(), sa.ForeignKey("slots.id"), nullable=False, index=True),
        sa.Column("driver_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("period", pg.TSTZRANGE(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("vehicle_plate", sa.String(16), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('reserved', 'active', 'overstayed', 'completed', 'cancelled', 'no_show')",
            name="status",
        ),
        sa.CheckConstraint(_range_check("period", half_open=True), name="period"),
        pg.ExcludeConstraint(
            ("slot_id", "="), ("period", "&&"), name="no_double_booking", using="gist", where=sa.text(HOLDING)
        ),
    )
    op.create_index("ix_bookings_status_start", "bookings", ["status", sa.text("lower(period)")])
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("operation", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", pg.JSON(), nullable=True),
        _created_at(),
    )
    op.execute(SLOT_WINDOWS)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS slot_windows(uuid, timestamptz, timestamptz, text)")
    for table in (
        "idempotency_keys",
        "bookings",
        "sharing_exceptions",
        "sharing_rules",
        "slots",
        "lots",
        "zones",
    ):
        op.drop_table(table)
    op.drop_table("accounts")
