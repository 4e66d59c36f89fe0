from core.errors import Conflict, InvalidInput, NotFound


class SlotNotFound(NotFound):
    code = "slot_not_found"


class LotNotFound(NotFound):
    code = "lot_not_found"


class BookingNotFound(NotFound):
    code = "booking_not_found"


class SharingExceptionNotFound(NotFound):
    code = "sharing_exception_not_found"


class InvalidInterval(InvalidInput):
    code = "invalid_interval"


class InvalidWindow(InvalidInput):
    code = "invalid_window"


class InvalidPlate(InvalidInput):
    code = "invalid_vehicle_plate"


class SlotCodeTaken(Conflict):
    code = "slot_code_taken"


class SlotInactive(Conflict):
    code = "slot_inactive"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class OutsideSharingWindow(Conflict):
    code = "outside_sharing_window"


class SharingConflict(Conflict):
    """A sharing change would break existing bookings; `extra["bookings"]` lists them."""

    code = "sharing_conflicts_with_bookings"


class InvalidTransition(Conflict):
    code = "invalid_booking_transition"


class MatchRequestNotFound(NotFound):
    code = "match_request_not_found"


class NoSlotAvailable(Conflict):
    code = "no_slot_available"
