from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class ContractNotFound(NotFound):
    code = "car_contract_not_found"


class CarBookingNotFound(NotFound):
    code = "car_booking_not_found"


class CarpoolNotFound(NotFound):
    code = "carpool_not_found"


class NotACar(InvalidInput):
    """A happiness-car contract is for a vehicle of type `car`, free of any other active contract."""

    code = "not_a_car"


class CarUnavailable(Conflict):
    """The car is booked (with its buffer) for part of that time, or off contract then."""

    code = "car_unavailable"


class PrimaryTimeTaken(Conflict):
    """The interval touches the primary user's guaranteed time (with the buffer); `extra` lists it."""

    code = "primary_time"


class WindowsConflictWithBookings(Conflict):
    """Changing the guaranteed time would take time another resident has booked; `extra["bookings"]` lists them."""

    code = "car_windows_conflict_with_bookings"


class InvalidCarBookingTransition(Conflict):
    code = "invalid_car_booking_transition"


class CarNotHome(Conflict):
    """A car is returned at its home slot: its last position is too far from it, or unknown (staff then enter the
    odometer and battery)."""

    code = "car_not_home"


class CarNotBack(Conflict):
    """The booking before this one has not brought the car back yet (see the rebooking offer)."""

    code = "car_not_back"


class InvalidCarpoolTransition(Conflict):
    code = "invalid_carpool_transition"


class CarpoolFull(Conflict):
    code = "carpool_full"


class InvalidPhoto(InvalidInput):
    code = "invalid_photo"


class WindowsNeedApproval(Conflict):
    """The primary user asked for more guaranteed time: the village enterprise approves that (an operator)."""

    code = "car_windows_need_approval"
