from core.errors import Conflict, DomainError


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


class EmailTaken(Conflict):
    code = "email_taken"
