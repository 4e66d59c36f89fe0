from core.errors import Conflict, DomainError, InvalidInput, NotFound


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


class MoneyOwed(InsufficientFunds):
    """An earlier trip left money owed: nothing new starts until a top-up settles it."""

    code = "money_owed"


class HoldNotFound(NotFound):
    code = "payment_hold_not_found"


class RefundTooLarge(Conflict):
    """More than was captured and not yet refunded: what was captured is state (409, like mileage already spent)."""

    code = "refund_exceeds_capture"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class NotEnoughMileage(Conflict):
    code = "not_enough_mileage"


class PriceUnavailable(Conflict):
    code = "price_unavailable"
