"""Keyed pseudonyms: the public ledger never names an account. A wallet, a hold or a slot owner appears as
`wallet:<pseudonym>`, where the pseudonym is HMAC-SHA256 (truncated to 128 bits) of the account id under this
deployment's key, which never leaves the database. An account learns its own pseudonym (`GET /me`) to find and
verify its receipts; nobody else can link one to a person, nor two deployments' pseudonyms of one person."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import LedgerHead

IDENTIFIED = re.compile(r"^(?P<kind>[a-z_]+):(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


async def key(session: AsyncSession) -> bytes:
    found = await session.scalar(select(LedgerHead.pseudonym_key).where(LedgerHead.id == 1))
    if not found:
        raise RuntimeError("the ledger has no pseudonym key: run `maeul migrate`")
    return found


def of(secret: bytes, identity: object) -> str:
    return hmac.new(secret, str(identity).encode(), hashlib.sha256).hexdigest()[:32]


async def pseudonym(session: AsyncSession, identity: object) -> str:
    """This deployment's pseudonym of an account (or any identity)."""
    return of(await key(session), identity)


PERSONAL_SUBJECTS = frozenset({"account", "owner", "wallet"})  # a subject naming a person (not a hold, trip...)


async def subject(session: AsyncSession, reference: str) -> str:
    """An entry's subject: a person's (a top-up's `account:<id>`, a payout's `owner:<id>`) by pseudonym; an
    object's (`hold:<id>`, `trip:<id>`, ...) as it is, so its receipts are found by it."""
    match = IDENTIFIED.match(reference)
    if match is None or match["kind"] not in PERSONAL_SUBJECTS:
        return reference
    return f"{match['kind']}:{await pseudonym(session, match['id'])}"


async def pseudonymized(session: AsyncSession, postings: Mapping[str, int]) -> dict[str, int]:
    """The postings with every `<kind>:<account id>` named by its pseudonym; parties without an id stay as they are."""
    secret: bytes | None = None
    named: dict[str, int] = {}
    for account, amount in postings.items():
        match = IDENTIFIED.match(account)
        if match is not None:
            secret = secret or await key(session)
            account = f"{match['kind']}:{of(secret, match['id'])}"
        named[account] = amount
    return named
