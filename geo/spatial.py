"""Spatial SQL helpers. Storage is WGS84 (SRID 4326) lon/lat; every distance is in metres on the geography type."""

from __future__ import annotations

from typing import Any, TypeAlias

from geoalchemy2 import Geography, Geometry
from sqlalchemy import cast, func
from sqlalchemy.sql.elements import ColumnElement

WGS84 = 4326
Number: TypeAlias = float | ColumnElement[float]  # a value, or a parameter bound when a cached statement runs


def geography_point(lon: Number, lat: Number) -> ColumnElement[Any]:
    return cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84), Geography(srid=WGS84))


def geometry_point(lon: float, lat: float) -> ColumnElement[Any]:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84)


def longitude(column: Any) -> ColumnElement[float]:
    return func.ST_X(cast(column, Geometry(srid=WGS84)))


def latitude(column: Any) -> ColumnElement[float]:
    return func.ST_Y(cast(column, Geometry(srid=WGS84)))


def distance_m(column: Any, lon: Number, lat: Number) -> ColumnElement[float]:
    """Great-circle distance in metres between a geography column and a point."""
    return func.ST_Distance(column, geography_point(lon, lat))


def within_m(column: Any, lon: Number, lat: Number, metres: Number) -> ColumnElement[bool]:
    """True where the column lies within `metres` of the point; uses the column's GiST index."""
    return func.ST_DWithin(column, geography_point(lon, lat), metres)
