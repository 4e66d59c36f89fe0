from core.errors import Conflict, InvalidInput, NotFound


class VehicleNotFound(NotFound):
    code = "vehicle_not_found"


class VehicleTypeNotFound(NotFound):
    code = "vehicle_type_not_found"


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class TripNotFound(NotFound):
    code = "trip_not_found"


class GeofenceNotFound(NotFound):
    code = "geofence_not_found"


class InvalidVehicleTransition(Conflict):
    code = "invalid_vehicle_transition"


class VehicleUnavailable(Conflict):
    """The vehicle cannot be reserved or unlocked now (taken by someone else, low battery, out of service)."""

    code = "vehicle_unavailable"


class RiderBusy(Conflict):
    code = "rider_already_riding"


class EndNotAllowedHere(Conflict):
    """A ride cannot end here; `extra` names the nearest allowed parking area and its walking distance."""

    code = "ride_end_not_allowed_here"


class LabelTaken(Conflict):
    code = "vehicle_label_taken"


class InvalidGeometry(InvalidInput):
    code = "invalid_geometry"


class InvalidImport(InvalidInput):
    """A CSV or GeoJSON import with row-level errors; `extra["rows"]` lists them. Nothing was imported."""

    code = "invalid_import"


class HourNotPast(NotFound):
    """An hour of MDS history asked for before it has ended (MDS: 404, "hour is not in the past")."""

    code = "hour_not_past"
