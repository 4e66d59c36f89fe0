"""Micro-mobility: providers, vehicle types, vehicles, MDS events (append-only), trips, geofences, compliance events,
telemetry partitioned by day, ride fare caps; per-minute tariffs; ride settlement and mileage rules.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

import uuid

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects import postgresql as pg

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATES = (
    "'removed', 'available', 'non_operational', 'reserved', 'on_trip', 'stopped', 'non_contactable', 'missing', "
    "'elsewhere'"
)
TYPE_COLUMNS = (
    "code",
    "name",
    "form_factor",
    "propulsion",
    "max_range_m",
    "max_speed_kmh",
    "unlock_fee_krw",
    "requires_parking_area",
    "force_end_fee_krw",
)
# partners' revenue accounts (`provider:<id>`) never go below zero, like owners'
NO_OVERDRAFT = "balance_krw >= 0 OR NOT ({parties})"
PARTIES = (
    "account LIKE 'wallet:%' OR account LIKE 'hold:%' OR account LIKE 'owner:%' "
    "OR account IN ('enterprise', 'city', 'platform')"
)
# vehicle type, provider share, village enterprise, city, platform, why
RIDE_RULES = [
    ("scooter", 7000, 1500, 1000, 500, "e-scooter rides: the provider runs and charges the fleet"),
    ("ebike", 7000, 1500, 1000, 500, "e-bike rides: the provider runs and charges the fleet"),
]


def upgrade() -> None:
    op.create_table(
        "mobility_providers",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('village_enterprise', 'partner')", name="kind"),
    )
    op.create_table(
        "vehicle_types",
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("form_factor", sa.String(24), nullable=False),
        sa.Column("propulsion", sa.String(24), nullable=False),
        sa.Column("max_range_m", sa.Integer(), nullable=False),
        sa.Column("max_speed_kmh", sa.Integer(), nullable=False),
        sa.Column("unlock_fee_krw", sa.Integer(), nullable=False),
        sa.Column("requires_parking_area", sa.Boolean(), nullable=False),
        sa.Column("force_end_fee_krw", sa.Integer(), nullable=False),
        sa.CheckConstraint("form_factor IN ('scooter_standing', 'bicycle', 'car')", name="form_factor"),
        sa.CheckConstraint("propulsion IN ('electric', 'electric_assist')", name="propulsion"),
        sa.CheckConstraint("max_range_m > 0 AND max_speed_kmh > 0 AND unlock_fee_krw >= 0", name="numbers"),
    )
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("type_code", sa.String(24), sa.ForeignKey("vehicle_types.code"), nullable=False, index=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("mobility_providers.id"), nullable=False, index=True),
        sa.Column("label", sa.String(32), nullable=False, unique=True),
        sa.Column("device_id", sa.String(64), nullable=False, unique=True),
        sa.Column("device_key_hash", sa.String(64), nullable=True),
        sa.Column("device_key_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=False),
        sa.Column("location", Geography("POINT", srid=4326, spatial_index=True), nullable=True),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("public_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("reserved_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("odometer_m", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name="state"),
        sa.CheckConstraint("battery_pct BETWEEN 0 AND 100", name="battery"),
    )
    op.create_table(
        "trips",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("vehicle_id", sa.Uuid(), sa.ForeignKey("vehicles.id"), nullable=False, index=True),
        sa.Column("rider_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("mobility_providers.id"), nullable=False),
        sa.Column("type_code", sa.String(24), sa.ForeignKey("vehicle_types.code"), nullable=False),
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("start_lon", sa.Float(), nullable=False),
        sa.Column("start_lat", sa.Float(), nullable=False),
        sa.Column("end_lon", sa.Float(), nullable=True),
        sa.Column("end_lat", sa.Float(), nullable=True),
        sa.Column("route", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=True),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("fare_krw", sa.Integer(), nullable=True),
        sa.Column("fare_lines", pg.JSON(), nullable=True),
        sa.Column("hold_id", sa.Uuid(), sa.ForeignKey("payment_holds.id"), nullable=True),
        sa.Column("forced_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("parking_booking_id", sa.Uuid(), sa.ForeignKey("bookings.id"), nullable=True),
        sa.CheckConstraint("status IN ('on_trip', 'completed', 'cancelled')", name="status"),
        sa.CheckConstraint("fare_krw IS NULL OR fare_krw >= 0", name="fare"),
    )
    # one open trip per vehicle and per rider: two racing unlocks cannot both succeed
    op.create_index(
        "uq_trips_open_vehicle", "trips", ["vehicle_id"], unique=True, postgresql_where=sa.text("status = 'on_trip'")
    )
    op.create_index(
        "uq_trips_open_rider", "trips", ["rider_id"], unique=True, postgresql_where=sa.text("status = 'on_trip'")
    )
    op.create_table(
        "vehicle_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("vehicle_id", sa.Uuid(), sa.ForeignKey("vehicles.id"), nullable=False, index=True),
        sa.Column("event_types", pg.ARRAY(sa.String(32)), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("trip_id", sa.Uuid(), sa.ForeignKey("trips.id"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        """
        CREATE FUNCTION mobility_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'vehicle events are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER vehicle_events_append_only BEFORE UPDATE OR DELETE ON vehicle_events "
        "FOR EACH ROW EXECUTE FUNCTION mobility_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER vehicle_events_no_truncate BEFORE TRUNCATE ON vehicle_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION mobility_refuse_change()"
    )
    op.create_table(
        "geofences",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("vehicle_types", pg.ARRAY(sa.String(24)), nullable=False),
        sa.Column("max_speed_kmh", sa.Integer(), nullable=True),
        sa.Column("area", Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('service_area', 'no_riding', 'no_parking', 'slow', 'parking')", name="kind"),
        sa.CheckConstraint("kind <> 'slow' OR max_speed_kmh IS NOT NULL", name="slow_has_speed"),
        sa.CheckConstraint("effective_to IS NULL OR effective_to > effective_from", name="period"),
    )
    op.create_table(
        "compliance_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("vehicle_id", sa.Uuid(), sa.ForeignKey("vehicles.id"), nullable=False, index=True),
        sa.Column("geofence_id", sa.Uuid(), sa.ForeignKey("geofences.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("detail", pg.JSON(), nullable=False),
    )
    op.create_table(
        "ride_fare_caps",
        sa.Column("zone_id", sa.Uuid(), sa.ForeignKey("zones.id"), primary_key=True),
        sa.Column("type_code", sa.String(24), sa.ForeignKey("vehicle_types.code"), primary_key=True),
        sa.Column("max_krw_per_minute", sa.Integer(), nullable=False),
        sa.Column("max_unlock_fee_krw", sa.Integer(), nullable=False),
        sa.CheckConstraint("max_krw_per_minute >= 0 AND max_unlock_fee_krw >= 0", name="caps"),
    )
    op.create_table(
        "telemetry",
        sa.Column("vehicle_id", sa.Uuid(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("trip_id", sa.Uuid(), nullable=True),
        postgresql_partition_by="RANGE (at)",
    )
    op.create_index("ix_telemetry_at", "telemetry", ["at"], postgresql_using="brin")

    op.bulk_insert(
        sa.table("vehicle_types", *(sa.column(name) for name in TYPE_COLUMNS)),
        [
            # code, name, form factor, propulsion, range m, km/h, unlock KRW, needs a parking area, forced-end fee
            dict(zip(TYPE_COLUMNS, row, strict=True))
            for row in (
                ("scooter", "e-scooter", "scooter_standing", "electric", 40_000, 25, 1000, True, 5000),
                ("ebike", "e-bike (electric assist)", "bicycle", "electric_assist", 60_000, 25, 1000, True, 5000),
                ("car", "micro-EV car", "car", "electric", 100_000, 80, 0, False, 20000),
            )
        ],
    )
    op.drop_constraint("unit", "tariffs", type_="check")
    op.create_check_constraint("unit", "tariffs", "unit_minutes IN (1, 10, 15, 30, 60)")
    op.drop_constraint("no_overdraft", "journal_balances", type_="check")
    op.create_check_constraint(
        "no_overdraft", "journal_balances", NO_OVERDRAFT.format(parties=PARTIES + " OR account LIKE 'provider:%'")
    )
    rules = sa.table(
        "settlement_rules",
        sa.column("id", sa.Uuid()),
        sa.column("slot_kind", sa.String()),
        sa.column("lot_id", sa.Uuid()),
        sa.column("owner_bp", sa.Integer()),
        sa.column("enterprise_bp", sa.Integer()),
        sa.column("city_bp", sa.Integer()),
        sa.column("platform_bp", sa.Integer()),
        sa.column("description", sa.String()),
    )
    op.bulk_insert(
        rules,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"maeul:settlement:{kind}"),
                "slot_kind": kind,
                "lot_id": None,
                "owner_bp": o,
                "enterprise_bp": e,
                "city_bp": c,
                "platform_bp": p,
                "description": why,
            }
            for kind, o, e, c, p, why in RIDE_RULES
        ],
    )
    mileage = sa.table(
        "mileage_rules",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("description", sa.String()),
        sa.column("event", sa.String()),
        sa.column("condition", pg.JSON()),
        sa.column("points", sa.Integer()),
        sa.column("points_per_1000_krw", sa.Integer()),
        sa.column("valid_days", sa.Integer()),
        sa.column("active", sa.Boolean()),
    )
    op.bulk_insert(
        mileage,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "maeul:mileage:park-and-ride"),
                "code": "park-and-ride",
                "description": "a ride started within 30 minutes of checking out of a parking booking",
                "event": "ride_completed",
                "condition": {"within_minutes_of_parking": 30},
                "points": 200,
                "points_per_1000_krw": 0,
                "valid_days": 365,
                "active": True,
            }
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM mileage_rules WHERE code = 'park-and-ride'")
    op.execute("DELETE FROM settlement_rules WHERE slot_kind IN ('scooter', 'ebike') AND lot_id IS NULL")
    op.execute("DELETE FROM tariffs WHERE unit_minutes = 1")
    op.drop_constraint("unit", "tariffs", type_="check")
    op.create_check_constraint("unit", "tariffs", "unit_minutes IN (10, 15, 30, 60)")
    op.drop_constraint("no_overdraft", "journal_balances", type_="check")
    op.create_check_constraint("no_overdraft", "journal_balances", NO_OVERDRAFT.format(parties=PARTIES))
    op.execute("DROP TABLE telemetry CASCADE")
    for table in ("ride_fare_caps", "compliance_events", "geofences", "vehicle_events", "trips", "vehicles"):
        op.drop_table(table)
    op.execute("DROP FUNCTION mobility_refuse_change()")
    op.drop_table("vehicle_types")
    op.drop_table("mobility_providers")
