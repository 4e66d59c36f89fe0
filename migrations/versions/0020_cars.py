"""Happiness cars: contracts (a primary user's guaranteed weekly windows, extra windows and releases, monthly
invoices), bookings of the idle time that PostgreSQL never lets overlap (with the buffer after each), condition
reports, rebooking offers after a late return, carpools with seats and ratings; and the settlement rule of car fares.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import uuid

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql as pg

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Uuid(), primary_key=True)


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created_at() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _fk(name: str, target: str, *, nullable: bool = False, cascade: bool = False) -> sa.Column:  # type: ignore[type-arg]
    key = sa.ForeignKey(target, ondelete="CASCADE") if cascade else sa.ForeignKey(target)
    return sa.Column(name, sa.Uuid(), key, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "car_contracts",
        _id(),
        _fk("car_id", "vehicles.id"),
        _fk("primary_id", "accounts.id"),
        _fk("home_slot_id", "slots.id"),
        _fk("home_booking_id", "bookings.id"),
        sa.Column("monthly_fee_krw", sa.Integer(), nullable=False),
        sa.Column("release_credit_krw_per_hour", sa.Integer(), nullable=False),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _created_at(),
        sa.CheckConstraint("status IN ('active', 'ended')", name="status"),
        sa.CheckConstraint("monthly_fee_krw >= 0 AND release_credit_krw_per_hour >= 0", name="money"),
        sa.CheckConstraint("ends_at > starts_at", name="period"),
    )
    op.create_index("ix_car_contracts_primary_id", "car_contracts", ["primary_id"])
    op.create_index(
        "uq_car_contracts_active_car",
        "car_contracts",
        ["car_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "car_windows",
        _id(),
        _fk("contract_id", "car_contracts.id", cascade=True),
        sa.Column("weekdays", pg.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("start_minute >= 0 AND start_minute < 1440", name="start"),
        sa.CheckConstraint("end_minute > start_minute AND end_minute <= start_minute + 1440", name="end"),
    )
    op.create_index("ix_car_windows_contract_id", "car_windows", ["contract_id"])
    op.create_table(
        "car_window_exceptions",
        _id(),
        _fk("contract_id", "car_contracts.id", cascade=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", pg.TSTZRANGE(), nullable=False),
        sa.Column("credit_krw", sa.Integer(), nullable=False),
        _created_at(),
        sa.CheckConstraint("kind IN ('extra', 'released')", name="kind"),
    )
    op.create_index("ix_car_window_exceptions_contract_id", "car_window_exceptions", ["contract_id"])
    op.create_table(
        "car_invoices",
        _id(),
        _fk("contract_id", "car_contracts.id"),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("fee_krw", sa.Integer(), nullable=False),
        sa.Column("credit_krw", sa.Integer(), nullable=False),
        sa.Column("amount_krw", sa.Integer(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("contract_id", "month", name="uq_car_invoices_contract_month"),
        sa.CheckConstraint("fee_krw >= 0 AND credit_krw >= 0 AND amount_krw >= 0", name="money"),
    )
    op.create_table(
        "car_bookings",
        _id(),
        _fk("car_id", "vehicles.id"),
        _fk("contract_id", "car_contracts.id"),
        _fk("driver_id", "accounts.id"),
        sa.Column("period", pg.TSTZRANGE(), nullable=False),
        sa.Column("blocked", pg.TSTZRANGE(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("primary_time", sa.Boolean(), nullable=False),
        sa.Column("quote_krw", sa.BigInteger(), nullable=False),
        sa.Column("quote_lines", sa.JSON(), nullable=False),
        _fk("hold_id", "payment_holds.id", nullable=True),
        _fk("trip_id", "trips.id", nullable=True),
        _at("picked_up_at", nullable=True),
        _at("returned_at", nullable=True),
        _at("cancelled_at", nullable=True),
        _at("status_changed_at"),
        sa.Column("odometer_start_m", sa.BigInteger(), nullable=True),
        sa.Column("odometer_end_m", sa.BigInteger(), nullable=True),
        sa.Column("battery_start_pct", sa.SmallInteger(), nullable=True),
        sa.Column("battery_end_pct", sa.SmallInteger(), nullable=True),
        sa.Column("charged_krw", sa.BigInteger(), nullable=True),
        sa.Column("charge_lines", sa.JSON(), nullable=True),
        _created_at(),
        sa.CheckConstraint("status IN ('reserved', 'active', 'completed', 'cancelled', 'no_show')", name="status"),
        sa.CheckConstraint("lower(blocked) = lower(period) AND upper(blocked) >= upper(period)", name="blocked"),
        pg.ExcludeConstraint(
            ("car_id", "="),
            ("blocked", "&&"),
            name="no_double_car_booking",
            using="gist",
            where=sa.text("status IN ('reserved', 'active')"),
        ),
    )
    op.create_index("ix_car_bookings_contract_id", "car_bookings", ["contract_id"])
    op.create_index("ix_car_bookings_driver_id", "car_bookings", ["driver_id"])
    op.create_index("ix_car_bookings_car_start", "car_bookings", ["car_id", sa.text("lower(period)")])
    op.create_table(
        "car_condition_reports",
        _id(),
        _fk("booking_id", "car_bookings.id"),
        sa.Column("stage", sa.String(16), nullable=False),
        _fk("reporter_id", "accounts.id"),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("photos", pg.ARRAY(sa.String(200)), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        _at("handled_at", nullable=True),
        _fk("handled_by", "accounts.id", nullable=True),
        _created_at(),
        sa.CheckConstraint("stage IN ('pick_up', 'return')", name="stage"),
        sa.UniqueConstraint("booking_id", "stage", name="uq_car_condition_reports_booking_stage"),
    )
    op.create_index("ix_car_condition_reports_queue", "car_condition_reports", ["needs_attention", "handled_at"])
    op.create_table(
        "car_rebooking_offers",
        _id(),
        _fk("booking_id", "car_bookings.id"),
        _fk("late_booking_id", "car_bookings.id"),
        _fk("alternative_car_id", "vehicles.id", nullable=True),
        _fk("task_id", "tasks.id", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _at("status_changed_at"),
        _created_at(),
        sa.CheckConstraint("status IN ('open', 'accepted', 'refunded', 'closed')", name="status"),
        sa.UniqueConstraint("booking_id", name="uq_car_rebooking_offers_booking"),
    )
    op.create_table(
        "carpools",
        _id(),
        _fk("driver_id", "accounts.id"),
        _fk("booking_id", "car_bookings.id"),
        sa.Column("origin", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("destination", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        _at("depart_from"),
        _at("depart_until"),
        sa.Column("seats", sa.SmallInteger(), nullable=False),
        sa.Column("cost_krw", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _at("status_changed_at"),
        _created_at(),
        sa.CheckConstraint("status IN ('open', 'completed', 'cancelled')", name="status"),
        sa.CheckConstraint("seats BETWEEN 1 AND 6 AND cost_krw >= 0", name="numbers"),
        sa.CheckConstraint("depart_until > depart_from", name="window"),
    )
    op.create_index("ix_carpools_driver_id", "carpools", ["driver_id"])
    op.create_table(
        "carpool_seats",
        _id(),
        _fk("carpool_id", "carpools.id"),
        _fk("rider_id", "accounts.id"),
        sa.Column("status", sa.String(16), nullable=False),
        _fk("hold_id", "payment_holds.id", nullable=True),
        sa.Column("share_krw", sa.Integer(), nullable=True),
        _at("status_changed_at"),
        _created_at(),
        sa.CheckConstraint("status IN ('requested', 'accepted', 'declined', 'cancelled', 'ridden')", name="status"),
        sa.UniqueConstraint("carpool_id", "rider_id", name="uq_carpool_seats_rider"),
    )
    op.create_index("ix_carpool_seats_carpool_id", "carpool_seats", ["carpool_id"])
    op.create_index("ix_carpool_seats_rider_id", "carpool_seats", ["rider_id"])
    op.create_table(
        "carpool_ratings",
        _id(),
        _fk("carpool_id", "carpools.id"),
        _fk("rater_id", "accounts.id"),
        _fk("rated_id", "accounts.id"),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.String(500), nullable=True),
        _created_at(),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        sa.CheckConstraint("rater_id <> rated_id", name="not_oneself"),
        sa.UniqueConstraint("carpool_id", "rater_id", "rated_id", name="uq_carpool_ratings_once"),
    )
    op.create_index("ix_carpool_ratings_carpool_id", "carpool_ratings", ["carpool_id"])
    op.create_index("ix_carpool_ratings_rated_id", "carpool_ratings", ["rated_id"])
    op.bulk_insert(
        sa.table(
            "settlement_rules",
            sa.column("id", sa.Uuid()),
            sa.column("slot_kind", sa.String()),
            sa.column("lot_id", sa.Uuid()),
            sa.column("owner_bp", sa.Integer()),
            sa.column("enterprise_bp", sa.Integer()),
            sa.column("city_bp", sa.Integer()),
            sa.column("platform_bp", sa.Integer()),
            sa.column("description", sa.String()),
        ),
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "maeul:settlement:car"),
                "slot_kind": "car",
                "lot_id": None,
                "owner_bp": 7000,
                "enterprise_bp": 1500,
                "city_bp": 1000,
                "platform_bp": 500,
                "description": "happiness cars (fares and monthly fees): the car's provider runs it (the village "
                "enterprise for its own cars)",
            }
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM settlement_rules WHERE slot_kind = 'car' AND lot_id IS NULL")
    for table in (
        "carpool_ratings",
        "carpool_seats",
        "carpools",
        "car_rebooking_offers",
        "car_condition_reports",
        "car_bookings",
        "car_invoices",
        "car_window_exceptions",
        "car_windows",
        "car_contracts",
    ):
        op.drop_table(table)
