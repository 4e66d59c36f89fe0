"""The city's data: village cameras (entrance counts, CCTV enforcement) with device keys, entrance events and
illegal-parking events (plates as a keyed hash only), and the notification outbox.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql as pg

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KINDS = "kind IN ('no_parking', 'fire_lane', 'crosswalk', 'resident_slot_misuse')"
SOURCES = "source IN ('cctv', 'officer', 'resident', 'operator')"


def _created_at() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _at(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("location", Geography("POINT", srid=4326), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=True),
        _at("key_rotated_at", nullable=True),
        _created_at(),
        sa.CheckConstraint("purpose IN ('entrance', 'enforcement')", name="purpose"),
    )
    op.create_table(
        "entrance_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("camera_id", sa.Uuid(), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        _at("at"),
        sa.Column("plate_hash", sa.String(64), nullable=False),
        _at("received_at"),
        sa.UniqueConstraint("camera_id", "event_id", name="uq_entrance_events_camera_event"),
    )
    op.create_index("ix_entrance_events_at", "entrance_events", ["at"])
    op.create_table(
        "violations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _at("at"),
        sa.Column("location", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("plate_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("camera_id", sa.Uuid(), sa.ForeignKey("cameras.id"), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("reported_by", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        _created_at(),
        sa.CheckConstraint(KINDS, name="kind"),
        sa.CheckConstraint(SOURCES, name="source"),
        sa.CheckConstraint("(source = 'cctv') = (camera_id IS NOT NULL AND event_id IS NOT NULL)", name="camera"),
        sa.UniqueConstraint("camera_id", "event_id", name="uq_violations_camera_event"),
    )
    op.create_index("ix_violations_at", "violations", ["at"])
    op.create_index("ix_violations_location", "violations", ["location"], postgresql_using="gist")
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("audience", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", pg.JSONB(), nullable=False),
        _at("delivered_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        _created_at(),
    )
    op.create_index("ix_notifications_delivered_at", "notifications", ["delivered_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("violations")
    op.drop_table("entrance_events")
    op.drop_table("cameras")
