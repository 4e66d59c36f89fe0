"""Runtime settings, read once from ``MAEUL_*`` environment variables and passed down as arguments."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEMO_PAYMENT_SECRET_KEY = "test_sk_maeul_demo"  # the local demo gateway's key: public, like published test keys


class Settings(BaseSettings):
    """Every knob of the service. Defaults suit a developer's machine (`make demo`, `make test`)."""

    model_config = SettingsConfigDict(env_prefix="MAEUL_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development",
        description="`production` refuses to start without the secrets and both URLs, and refuses the demo",
    )

    # Local services (`maeul services up`): used when the URLs below are not set.
    home: Path = Field(
        default=Path(".maeul"), description="where the private services keep data, logs and generated dev secrets"
    )
    pg_port: int = Field(default=55432, ge=1024, le=65535, description="port of the private PostgreSQL (loopback)")
    redis_port: int = Field(default=56379, ge=1024, le=65535, description="port of the private Redis (loopback)")
    database_name: str = Field(
        default="maeul", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="database created in the private cluster"
    )

    database_url: str | None = Field(
        default=None,
        description="`postgresql+asyncpg://user:pass@host:port/db`; when set, no local PostgreSQL is managed",
    )
    redis_url: str | None = Field(
        default=None,
        description="`redis://host:port/db`; when set, no local redis-server is managed. One database per deployment: "
        "the API, the worker and `maeul demo` claim theirs and refuse one another deployment holds",
    )
    redis_timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="a Redis call (or connect) that takes longer fails: Redis is treated as down",
    )
    db_pool_size: int = Field(default=10, ge=1, description="database connections per API process")
    db_max_overflow: int = Field(default=20, ge=0, description="connections beyond the pool under load")

    api_host: str = Field(default="127.0.0.1", description="where `maeul demo` and `maeul serve` listen")
    api_port: int = Field(default=8000, ge=1, le=65535, description="the port `maeul demo` and `maeul serve` listen on")
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed to call the API")
    hsts_seconds: int | None = Field(
        default=None,
        ge=0,
        description="Strict-Transport-Security max-age; unset: a year in production (behind its https proxy), not "
        "sent elsewhere; 0: never sent",
    )
    rate_limit_per_account: str = Field(default="3000/minute", description="requests per signed-in account")
    rate_limit_per_address: str = Field(default="6000/minute", description="requests per client address")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="a bearer token `GET /metrics` requires (`Authorization: Bearer ...`); unset: it answers only to "
        "clients on this machine (loopback)",
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="`maeul worker` serves its Prometheus metrics here when set"
    )

    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret signing new tokens (32+ characters); generated under `home` on a dev machine",
    )
    jwt_retired_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="former JWT secrets still accepted (by key id) until their tokens expire: rotate without "
        "signing everyone out",
    )
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60, description="token lifetime")
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="sign-in attempts per email within the lockout window before the rest are refused unchecked "
        "(each is counted before its password is checked; a successful sign-in starts the count again)",
    )
    login_lockout_seconds: int = Field(
        default=900, ge=1, description="the lockout window: from an email's first counted attempt"
    )

    # Parking rules.
    local_timezone: str = Field(default="Asia/Seoul", description="time zone of sharing windows, tariffs and shifts")
    max_booking_hours: int = Field(default=72, ge=1, description="longest bookable interval")
    booking_horizon_days: int = Field(default=60, ge=1, description="how far ahead a booking may start")
    early_check_in_minutes: int = Field(default=15, ge=0, description="check-in opens this long before start")
    no_show_grace_minutes: int = Field(
        default=30, ge=0, description="a reservation not checked in by start + this becomes `no_show`"
    )
    overstay_grace_minutes: int = Field(
        default=10, ge=0, description="an active booking past end + this becomes `overstayed`"
    )
    walk_detour_factor: float = Field(
        default=1.3, ge=1.0, le=3.0, description="walking distance = straight-line distance x this factor"
    )
    default_max_walk_m: int = Field(default=500, ge=1, description="search radius when none is asked")
    max_walk_limit_m: int = Field(default=3000, ge=1, description="largest search radius one may ask")

    # Ledger and anchoring.
    ledger_signing_key: SecretStr | None = Field(
        default=None, description="base64 Ed25519 seed signing tree heads; generated under `home` on a dev machine"
    )
    ledger_tree_head_every_entries: int = Field(
        default=100, ge=1, description="the worker publishes a tree head after this many entries"
    )
    ledger_tree_head_every_seconds: float = Field(
        default=10.0, gt=0, description="... or after this many seconds with entries not yet in one"
    )
    chain_url: str | None = Field(
        default=None, description="EVM JSON-RPC URL of the anchoring chain; unset: the local chain (`local_chain`)"
    )
    local_chain: Literal["anvil", "in-process"] = Field(
        default="anvil",
        description="without a chain URL: an anvil node that `maeul services up` runs under `home` (installed by "
        "`make`), or py-evm inside the worker (lost when it stops; for unit tests)",
    )
    chain_port: int = Field(default=58545, ge=1024, le=65535, description="port of the private anvil node")
    chain_private_key: SecretStr | None = Field(
        default=None, description="hex key that signs anchor transactions; unset: the node's first unlocked account"
    )
    anchor_max_backoff_seconds: int = Field(default=300, ge=1, description="longest wait between anchoring retries")

    # E-mail (password reset codes, through the notification outbox).
    smtp_host: str | None = Field(
        default=None,
        max_length=253,
        description="SMTP server the worker sends e-mail through; unset: e-mails are written to the log without their "
        "codes (so no password can be reset)",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port")
    smtp_starttls: bool = Field(default=True, description="upgrade the SMTP connection with STARTTLS")
    smtp_username: str | None = Field(default=None, max_length=200, description="SMTP login, if the server wants one")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    mail_from: str = Field(
        default="maeul <no-reply@maeul.example>", max_length=200, description="the From of e-mails maeul sends"
    )
    password_reset_minutes: int = Field(default=30, ge=5, le=1440, description="a password-reset code works this long")

    # Billing.
    payment_gateway_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        max_length=300,
        description="base URL of the payment gateway (Toss Payments' server API, e.g. https://api.tosspayments.com); "
        "unset: the local demo gateway that `maeul services up` runs (same protocol; refused in production)",
    )
    payment_gateway_port: int = Field(
        default=58600, ge=1024, le=65535, description="port of the local demo payment gateway"
    )
    payment_secret_key: SecretStr | None = Field(
        default=None,
        description="the gateway's secret key (sent as HTTP Basic auth on confirms); unset: the demo gateway's own key",
    )
    payment_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="a gateway call that takes longer fails; the top-up stays pending"
    )
    cancellation_free_minutes: int = Field(default=60, ge=0, description="cancelling earlier than this is free")
    cancellation_fee_bp: int = Field(default=2000, ge=0, le=10000, description="late cancellation, of the quote")
    no_show_fee_bp: int = Field(default=3000, ge=0, le=10000, description="no-show fee, of the quote")
    overstay_surcharge_bp: int = Field(default=5000, ge=0, description="on top of the overstayed time's price")

    # Matching.
    matching_time_limit_s: float = Field(default=2.0, gt=0, description="solver time limit per batch run")
    matching_candidates: int = Field(default=8, ge=1, le=50, description="K nearest feasible slots per request")
    matching_batch_every_seconds: int = Field(default=60, ge=1, description="how often the worker runs a batch")

    # Micro-mobility (e-scooters, e-bikes).
    ride_reservation_minutes: int = Field(default=10, ge=1, le=60, description="a free reservation lasts this long")
    ride_hold_minutes: int = Field(default=30, ge=1, description="unlock holds the fare of this many minutes")
    battery_low_pct: int = Field(default=15, ge=0, le=100, description="below this an available vehicle is taken out")
    comms_lost_minutes: int = Field(default=10, ge=1, description="no telemetry this long: non_contactable")
    missing_minutes: int = Field(default=60, ge=1, description="no telemetry this long: missing")
    telemetry_max_age_hours: int = Field(default=24, ge=1, description="older points are refused as stale")
    telemetry_future_skew_seconds: int = Field(default=30, ge=0, description="points later than now + this: future")
    telemetry_far_m: int = Field(default=20_000, ge=100, description="points this far outside the service area")
    telemetry_max_speed_mps: float = Field(default=50.0, gt=0, description="faster between fixes: impossible")
    telemetry_retention_days: int = Field(default=90, ge=1, description="daily partitions older are dropped")
    demo_simulation_speedup: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="`maeul demo` plays the simulated village of the last day this many times faster than the wall "
        "clock until it has caught up (0: not at all)",
    )
    demo_simulated_rides: int = Field(
        default=0, ge=0, le=20, description="vehicles the worker rides around, posting telemetry to the API (demo)"
    )
    privacy_min_cell: int = Field(
        default=5, ge=1, description="aggregates built from fewer people than this are suppressed (-1 in MDS reports)"
    )
    osrm_url: str | None = Field(
        default=None, description="an OSRM server for dispatch travel times; unset: straight line x detour factor"
    )
    travel_detour_factor: float = Field(default=1.3, ge=1, description="street over straight-line distance")
    dispatch_time_limit_s: float = Field(default=0.3, gt=0, le=30, description="solver time per valet plan")
    valet_fee_krw: int = Field(default=3000, ge=0, description="a valet request, captured when the car is delivered")
    valet_cancel_fee_krw: int = Field(default=1000, ge=0, description="cancelling once the valet is on the way")
    valet_reach_m: int = Field(default=1500, ge=50, le=3000, description="farthest slot from home a valet parks in")
    valet_handover_minutes: int = Field(default=3, ge=0, le=60, description="spent at each end of a valet task")
    shuttle_seats: int = Field(default=6, ge=1, le=40, description="riders a pick-up ride van seats")
    shuttle_max_ride_factor: float = Field(
        default=2.0, ge=1, le=10, description="a rider's longest ride, over the van's direct time between their stops"
    )
    shuttle_boarding_seconds: int = Field(default=60, ge=0, le=600, description="a van's stop to board or alight")
    shuttle_wait_minutes: int = Field(
        default=20, ge=1, le=240, description="an immediate ride's pickup window: from now to this many minutes on"
    )
    shuttle_base_fare_krw: int = Field(default=1000, ge=0, description="a pick-up ride's fare per rider, plus per km")
    shuttle_per_km_krw: int = Field(default=200, ge=0, description="per km of the direct route, per rider")
    shuttle_cancel_fee_krw: int = Field(default=500, ge=0, description="cancelling a ride once the van is on the way")
    shuttle_time_value_m_per_s: float = Field(
        default=5.0, ge=0, le=100, description="van metres one second earlier at each stop is worth (re-optimising)"
    )
    shuttle_reoptimise_time_limit_s: float = Field(
        default=2.0, gt=0, le=60, description="solver time when the vans' routes are re-optimised (worker, operators)"
    )
    crew_van_capacity: int = Field(default=8, ge=1, le=40, description="e-scooters a crew van carries (an e-bike: 2)")
    crew_van_batteries: int = Field(default=20, ge=0, le=200, description="charged batteries a crew van sets off with")
    crew_pickup_seconds: int = Field(default=90, ge=0, le=1800, description="loading a vehicle into the van")
    crew_dropoff_seconds: int = Field(default=60, ge=0, le=1800, description="putting a vehicle on the street")
    crew_swap_seconds: int = Field(default=120, ge=0, le=1800, description="swapping a vehicle's battery")
    rebalance_unit_value_s: int = Field(
        default=1200, ge=0, description="crew seconds one vehicle of an area's target met is worth (the objective)"
    )
    swap_value_s: int = Field(default=900, ge=0, description="crew seconds one flat vehicle back in service is worth")
    rebalance_tour_minutes: int = Field(default=90, ge=10, le=480, description="longest crew tour a plan makes")
    rebalance_history_days: int = Field(default=28, ge=1, le=365, description="trip history the targets come from")
    rebalance_reserve: int = Field(default=1, ge=0, le=20, description="vehicles an area keeps beyond expected trips")
    rebalance_time_limit_s: float = Field(default=5.0, gt=0, le=120, description="solver time per crew plan")
    gbfs_ttl_seconds: int = Field(default=30, ge=0, le=60, description="GBFS feeds are rebuilt at least this often")

    # Happiness cars (shared micro-EVs with a primary user).
    car_buffer_minutes: int = Field(
        default=30, ge=0, le=240, description="kept free after every car booking (charging, cleaning)"
    )
    car_per_km_krw: int = Field(default=150, ge=0, description="a car booking's price per km driven")
    car_estimate_km: int = Field(default=20, ge=0, le=500, description="km held at booking beside the time price")
    car_late_fee_krw_per_10_min: int = Field(default=2000, ge=0, description="returning late, per started 10 minutes")
    car_low_battery_pct: int = Field(default=20, ge=0, le=100, description="returned below this battery: a fee")
    car_low_battery_fee_krw: int = Field(default=5000, ge=0, description="the fee for a car returned below that")
    car_cleaning_fee_krw: int = Field(default=10000, ge=0, description="when the return's checklist says not clean")
    car_return_radius_m: int = Field(default=150, ge=10, le=2000, description="a car is home within this of its slot")
    car_release_credit_krw_per_hour: int = Field(
        default=1000, ge=0, description="a new contract's credit to the primary user per hour of their time released"
    )
    photo_max_bytes: int = Field(
        default=1_500_000, ge=1024, description="largest condition-report photo (under MAEUL_MAX_BODY_BYTES)"
    )
    photos_per_day: int = Field(
        default=40, ge=1, le=10_000, description="condition-report photos an account may upload a day"
    )
    storage_url: str | None = Field(
        default=None,
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|/.*|\.{0,2}/.*)$",
        description="where uploaded photos are kept: s3://bucket/prefix (an S3-compatible store) or a local "
        "directory; unset: `home`/photos",
    )
    storage_endpoint_url: str | None = Field(
        default=None, description="the S3-compatible store's endpoint when it is not AWS (MinIO, Ceph, ...)"
    )
    storage_region: str | None = Field(default=None, description="the S3 region")

    # The city's view: village facts, camera events, KPIs.
    plate_hash_key: SecretStr | None = Field(
        default=None, description="key of the keyed hash (HMAC-SHA256) plates are stored under; never stored in clear"
    )
    registered_vehicles: int = Field(default=388, ge=1, description="vehicles registered in the village")
    pre_existing_legal_spaces: int = Field(
        default=144, ge=0, description="home garages and permit spaces outside the shared inventory"
    )
    device_event_max_age_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="older camera events, gauge readings and reports are refused"
    )
    flood_clear_margin_cm: int = Field(
        default=10, ge=0, le=1000, description="a flooded lot is clear again below its gauge's threshold minus this"
    )
    flood_lookahead_hours: int = Field(
        default=12, ge=0, le=72, description="a flood warns the drivers parked in the lot and those booked this soon"
    )
    complaint_response_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="SLA: the village enterprise answers a complaint within this"
    )
    complaint_resolution_hours: int = Field(
        default=72, ge=1, le=24 * 90, description="SLA: a complaint is resolved within this"
    )

    # The dashboards (`/pages`).
    map_tile_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s'\"]+\{z\}[^\s'\"]*$",
        description="base map tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset: zones and points on a "
        "blank map (works with no internet)",
    )
    map_tile_attribution: str = Field(default="", max_length=300, description="shown under the map with the tiles")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("MAEUL_JWT_SECRET must be set to at least 32 characters in production")
            if self.database_url is None or self.redis_url is None:
                raise ValueError("MAEUL_DATABASE_URL and MAEUL_REDIS_URL must be set in production")
            if self.ledger_signing_key is None:
                raise ValueError("MAEUL_LEDGER_SIGNING_KEY must be set in production")
            if self.plate_hash_key is None or len(self.plate_hash_key.get_secret_value()) < 32:
                raise ValueError("MAEUL_PLATE_HASH_KEY must be set to at least 32 characters in production")
            if self.chain_url is None or self.chain_private_key is None:
                raise ValueError(
                    "MAEUL_CHAIN_URL and MAEUL_CHAIN_PRIVATE_KEY must be set in production: tree heads are anchored on "
                    "the city's chain, never on a local development node"
                )
            if self.payment_gateway_url is None or self.payment_secret_key is None:
                raise ValueError(
                    "MAEUL_PAYMENT_GATEWAY_URL and MAEUL_PAYMENT_SECRET_KEY must be set in production: wallets are "
                    "credited only on a real gateway's confirmation, never by the local demo gateway"
                )
        return self

    @property
    def manages_database(self) -> bool:
        return self.database_url is None

    @property
    def manages_redis(self) -> bool:
        return self.redis_url is None

    @property
    def manages_chain(self) -> bool:
        return self.chain_url is None and self.local_chain == "anvil"

    def chain_endpoint(self) -> str | None:
        """The JSON-RPC URL of the anchoring chain, or None for the in-process chain."""
        if self.chain_url is not None:
            return self.chain_url
        return f"http://127.0.0.1:{self.chain_port}" if self.manages_chain else None

    def hsts(self) -> int:
        """The Strict-Transport-Security max-age to send (0: none)."""
        if self.hsts_seconds is not None:
            return self.hsts_seconds
        return 365 * 24 * 3600 if self.env == "production" else 0

    @property
    def manages_payment_gateway(self) -> bool:
        return self.payment_gateway_url is None

    def payment_gateway(self) -> tuple[str, str]:
        """The gateway's base URL and secret key (the local demo gateway's when none is configured)."""
        url = self.payment_gateway_url or f"http://127.0.0.1:{self.payment_gateway_port}"
        key = self.payment_secret_key.get_secret_value() if self.payment_secret_key else DEMO_PAYMENT_SECRET_KEY
        return url, key

    def ledger_key_seed(self) -> bytes | None:
        """The configured Ed25519 seed of the ledger, or None to use the dev key file under `home`."""
        if self.ledger_signing_key is None:
            return None
        import base64

        return base64.b64decode(self.ledger_signing_key.get_secret_value())

    def signing_secret(self) -> str:
        """The JWT secret; on a developer's machine one is generated once and kept under `home`."""
        return self._secret(self.jwt_secret, "jwt-secret")

    def plate_key(self) -> bytes:
        """The plate hashing key; on a developer's machine one is generated once and kept under `home`."""
        return self._secret(self.plate_hash_key, "plate-hash-key").encode()

    def _secret(self, configured: SecretStr | None, name: str) -> str:
        if configured is not None:
            return configured.get_secret_value()
        return kept_secret(self.home / name, lambda: secrets.token_urlsafe(48))


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path` (a developer's machine), made on first use: written whole to a private temporary
    file and linked into place, which fails if another process got there first; so processes starting together (two
    `maeul serve` workers on a new home) agree on one secret and none ever reads it half-written."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(make())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def reference() -> str:
    """The configuration reference (docs/configuration.md), made from the settings' own descriptions."""
    lines = [
        "# Configuration",
        "",
        "Settings come from `MAEUL_*` environment variables (pydantic-settings, `core/settings.py`). This page is made",
        "from the settings' own descriptions by `make docs`; a test fails when it is stale.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        text = str(default) if isinstance(default, str | Path) else json.dumps(default)
        shown = "unset" if default is None else f"`{text}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `MAEUL_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"


@lru_cache
def get_settings() -> Settings:
    return Settings()
