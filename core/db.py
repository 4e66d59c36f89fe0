"""Database engine, sessions and the declarative base shared by every domain package."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EXCLUSION_VIOLATION = "23P01"  # PostgreSQL's SQLSTATE when an exclusion constraint refuses a row
LOCK_NOT_AVAILABLE = "55P03"  # ... when a lock was not granted within `lock_timeout`


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: `MAEUL_DATABASE_URL`, or the private cluster of `maeul services up`."""
    if settings.database_url is not None:
        return settings.database_url
    from core.services import local_database_url

    return local_database_url(settings)


def make_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        url or database_url(settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        # JIT compiling a query costs PostgreSQL ~0.8 s; the planner's estimates for the reporting queries (repricing,
        # KPIs) over-reach its threshold while they run in ~0.1 s: measured 1.39 s with JIT, 0.13 s without
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "maeul", "jit": "off"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
