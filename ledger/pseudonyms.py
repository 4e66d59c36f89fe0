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


async def public(session: AsyncSession, reference: str, postings: Mapping[str, int]) -> tuple[str, dict[str, int]]:
    """A payment's subject and postings as the public ledger shows them, the key read at most once: every
    `<kind>:<account id>` posting by its pseudonym; the subject too when it names a person (a top-up's `account:<id>`,
    a payout's `owner:<id>`), not when it names an object (`hold:<id>`, `trip:<id>`: its receipts are found by it)."""
    secret: bytes | None = None

    async def named(match: re.Match[str]) -> str:
        nonlocal secret
        secret = secret or await key(session)
        return f"{match['kind']}:{of(secret, match['id'])}"

    subject = reference
    if (match := IDENTIFIED.match(reference)) is not None and match["kind"] in PERSONAL_SUBJECTS:
        subject = await named(match)
    shown: dict[str, int] = {}
    for account, amount in postings.items():
        match = IDENTIFIED.match(account)
        shown[await named(match) if match is not None else account] = amount
    return subject, shown
