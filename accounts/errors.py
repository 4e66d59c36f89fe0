from core.errors import Conflict, DomainError, NotFound, Unavailable


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class DeviceNotAuthenticated(InvalidCredentials):
    """A device (a vehicle's IoT module, a village camera, a water gauge) with an unknown id, or a key that is wrong,
    rotated or revoked."""

    code = "device_not_authenticated"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


class EmailTaken(Conflict):
    code = "email_taken"


class AccountNotFound(NotFound):
    code = "account_not_found"


class SignInUnavailable(Unavailable):
    code = "sign_in_unavailable"


class InvalidResetToken(NotFound):
    """No such reset code: unknown, used or expired (404: a well-formed code names nothing that can be used)."""

    code = "invalid_reset_token"
