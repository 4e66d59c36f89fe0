from core.errors import Conflict, InvalidInput, NotFound


class StaffNotFound(NotFound):
    code = "staff_not_found"


class ShiftNotFound(NotFound):
    code = "shift_not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"


class ShiftOverlaps(Conflict):
    code = "shift_overlaps"


class NotOnShift(Conflict):
    """Clocking in without a planned shift about to start, clocking out when not clocked in, or acting off shift."""

    code = "not_on_shift"


class StillBusy(Conflict):
    """Clocking out with a task under way (en route or arrived): finish or fail it first."""

    code = "tasks_under_way"


class InvalidTaskTransition(Conflict):
    code = "invalid_task_transition"


class NoStaffAvailable(Conflict):
    """No one on shift with the skill can do the task in its time windows; `extra["reason"]` says why."""

    code = "no_staff_available"


class AlreadyPaid(Conflict):
    code = "already_paid"


class InvalidMonth(InvalidInput):
    code = "invalid_month"


class BookingNotParked(Conflict):
    """A car can be brought back only from a checked-in booking, and only once at a time."""

    code = "booking_not_parked"
