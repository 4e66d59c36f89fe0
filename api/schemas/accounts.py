"""HTTP models of accounts: registration, sign-in, the account."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from accounts.models import Account, Role
from api.schemas.common import Strict


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class RegisterIn(Strict):
    email: EmailStr = Field(
        description="an address mail can reach: the special-use names of RFC 6761 (`.test`, `.local`, `.localhost`, "
        "`.invalid`, `.onion`, `.arpa`) are refused"
    )
    password: str = Field(min_length=10, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)


class AccountIn(RegisterIn):
    role: Role


class AccountOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    active: bool = Field(description="false: disabled by an admin (it cannot sign in; its tokens are refused)")

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            email=account.email,
            display_name=account.display_name,
            role=account.role,
            active=account.is_active,
        )


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class PasswordResetIn(Strict):
    email: str = Field(min_length=3, max_length=320, description="the account's address")


class PasswordResetConfirmIn(Strict):
    code: str = Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$", description="the e-mailed code")
    new_password: str = Field(min_length=10, max_length=200)


class MeOut(AccountOut):
    ledger_pseudonym: str = Field(
        description="how the public ledger names this account (`wallet:<it>`, `hold:<it>`, `owner:<it>`): to find "
        "and verify your own receipts; nobody else can link it to you"
    )
