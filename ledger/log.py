"""The append-only log: the one function the rest of the system calls (`append`), proofs, and tree heads.

`append` runs inside the caller's transaction, so a business change and its entry commit together or not at all.
Through the SQL function `ledger_append` it locks the single `ledger_head` row (appends are serialised; do it last in
a transaction, the lock is held to commit), hashes the canonical entry, stores the leaf and the subtree nodes it
completes, and moves the head, in one round trip. It knows nothing
of bookings or payments: an entry is a kind, a subject (e.g. "booking:<id>") and a JSON body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, LargeBinary, String, bindparam, func, select, text, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core import metrics
from core.db import LOCK_NOT_AVAILABLE
from ledger import merkle
from ledger.errors import EntryNotFound, InvalidProofRequest, TreeHeadNotFound
from ledger.models import AnchorJob, LedgerEntry, LedgerHead, LedgerNode, TreeHead
from ledger.signing import Signer

ENTRY_VERSION = 1
HEAD_WAIT_MS = 1000  # how long a tree head waits for the appends in flight


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a resident keeps to prove later that their transaction is in the log."""

    leaf_index: int
    leaf_hash: str  # hex


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    subject: str
    body: Mapping[str, Any]
    at: datetime


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("ledger times must be timezone-aware")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    raise TypeError(f"a ledger entry holds strings, integers (money in KRW), booleans and times, not {type(value)}")


def canonical_entry(record: Record) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8, UTC times with Z, no floats."""
    document = {
        "v": ENTRY_VERSION,
        "kind": record.kind,
        "subject": record.subject,
        "at": _canonical_value(record.at),
        "body": _canonical_value(record.body),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_APPEND = text("SELECT leaf_index, leaf_hash FROM ledger_append(:kinds, :subjects, :entries, :created)").bindparams(
    bindparam("kinds", type_=ARRAY(String)),
    bindparam("subjects", type_=ARRAY(String)),
    bindparam("entries", type_=ARRAY(LargeBinary)),
    bindparam("created", type_=ARRAY(DateTime(timezone=True))),
)


async def append(session: AsyncSession, *records: Record) -> list[Receipt]:
    """Append records to the log in the caller's transaction, in one round trip (the SQL function
    `ledger_append`); their receipts, in order."""
    if not records:
        return []
    with metrics.LEDGER_APPEND_SECONDS.time():  # includes waiting for the head row's lock
        rows = await session.execute(
            _APPEND,
            {
                "kinds": [r.kind for r in records],
                "subjects": [r.subject for r in records],
                "entries": [canonical_entry(r) for r in records],
                "created": [r.at for r in records],
            },
        )
        receipts = [Receipt(int(index), bytes(digest).hex()) for index, digest in rows]
    metrics.LEDGER_ENTRIES.inc(len(receipts))
    return receipts


async def receipts_for(session: AsyncSession, subject: str) -> list[Receipt]:
    rows = await session.execute(
        select(LedgerEntry.leaf_index, LedgerEntry.leaf_hash)
        .where(LedgerEntry.subject == subject)
        .order_by(LedgerEntry.leaf_index)
    )
    return [Receipt(index, digest.hex()) for index, digest in rows]


async def size(session: AsyncSession) -> int:
    return int(await session.scalar(select(LedgerHead.size).where(LedgerHead.id == 1)) or 0)


async def origin(session: AsyncSession) -> str:
    """The log's name: monitors remember each log by it (a recreated database is a new log)."""
    return str(await session.scalar(select(LedgerHead.origin).where(LedgerHead.id == 1)))


async def entry(session: AsyncSession, leaf_index: int) -> LedgerEntry:
    found = await session.get(LedgerEntry, leaf_index)
    if found is None:
        raise EntryNotFound(f"no ledger entry at index {leaf_index}")
    return found


async def index_of(session: AsyncSession, leaf_hash: bytes) -> int:
    found = await session.scalar(select(func.min(LedgerEntry.leaf_index)).where(LedgerEntry.leaf_hash == leaf_hash))
    if found is None:
        raise EntryNotFound(f"no ledger entry with leaf hash {leaf_hash.hex()}")
    return int(found)


async def _nodes(session: AsyncSession, keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """Fetch stored hashes in two queries: leaves from the entries, higher nodes from ledger_nodes."""
    found: dict[merkle.NodeKey, bytes] = {}
    leaves = [index for level, index in keys if level == 0]
    upper = [(level, index) for level, index in keys if level > 0]
    if leaves:
        rows = await session.execute(
            select(LedgerEntry.leaf_index, LedgerEntry.leaf_hash).where(LedgerEntry.leaf_index.in_(leaves))
        )
        found.update({(0, index): digest for index, digest in rows})
    if upper:
        stored = await session.execute(
            select(LedgerNode.level, LedgerNode.index, LedgerNode.hash).where(
                tuple_(LedgerNode.level, LedgerNode.index).in_(upper)
            )
        )
        found.update({(level, index): digest for level, index, digest in stored})
    return found


async def _with_nodes(session: AsyncSession, build: Any) -> Any:
    keys = merkle.needed_nodes(build)
    found = await _nodes(session, keys)
    return build(found.__getitem__)


async def _check_size(session: AsyncSession, tree_size: int) -> None:
    current = await size(session)
    if not 0 < tree_size <= current:
        raise InvalidProofRequest(f"tree size must be between 1 and {current}", extra={"log_size": current})


async def inclusion_proof(session: AsyncSession, *, leaf_index: int, tree_size: int) -> list[bytes]:
    await _check_size(session, tree_size)
    if not 0 <= leaf_index < tree_size:
        raise InvalidProofRequest(f"leaf {leaf_index} is not in a tree of size {tree_size}")
    path: list[bytes] = await _with_nodes(session, lambda node: merkle.inclusion_path(leaf_index, tree_size, node))
    return path


async def consistency_proof(session: AsyncSession, *, first: int, second: int) -> list[bytes]:
    await _check_size(session, second)
    if not 0 < first <= second:
        raise InvalidProofRequest("need 0 < first <= second")
    path: list[bytes] = await _with_nodes(session, lambda node: merkle.consistency_path(first, second, node))
    return path


# ---------------------------------------------------------------- signed tree heads


async def latest_tree_head(session: AsyncSession) -> TreeHead:
    head = await session.scalar(select(TreeHead).order_by(TreeHead.size.desc()).limit(1))
    if head is None:
        raise TreeHeadNotFound("no tree head has been published yet")
    return head


async def tree_head(session: AsyncSession, tree_size: int) -> TreeHead:
    head = await session.get(TreeHead, tree_size)
    if head is None:
        raise TreeHeadNotFound(f"no tree head was published at size {tree_size}")
    return head


async def publish_tree_head(
    session: AsyncSession, *, signer: Signer, now: datetime, every_entries: int, every_seconds: float
) -> TreeHead | None:
    """Sign and store a tree head when `every_entries` entries wait for one, or the oldest has waited
    `every_seconds`; queue it for anchoring in the same transaction (outbox). None when nothing is due, or when
    appends in flight keep the log's head (`_head_unless_busy`)."""
    head = await _head_unless_busy(session)
    if head is None:
        return None
    published = int(await session.scalar(select(func.coalesce(func.max(TreeHead.size), 0))) or 0)
    waiting = head.size - published
    if waiting <= 0:
        return None
    if waiting < every_entries:
        oldest = await session.scalar(select(LedgerEntry.created_at).where(LedgerEntry.leaf_index == published))
        if oldest is not None and now - oldest < timedelta(seconds=every_seconds):
            return None
    root = merkle.frontier_root(head.frontier)
    issued_at = now.replace(microsecond=(now.microsecond // 1000) * 1000)  # the signature covers milliseconds
    sth = TreeHead(
        size=head.size,
        root=root,
        issued_at=issued_at,
        key_id=signer.key_id,
        signature=signer.sign(head.size, issued_at, root),
    )
    session.add(sth)
    await session.flush()
    session.add(AnchorJob(tree_size=sth.size, status="pending", attempts=0, next_attempt_at=now))
    await session.flush()
    return sth


async def _head_unless_busy(session: AsyncSession) -> LedgerHead | None:
    """The head row, locked; None when appends in flight keep it past `HEAD_WAIT_MS`. Tree heads are published by
    a job every second: one queued behind a long transaction would hold a worker slot as long, and so would the next
    second's, until the worker had none left for anything else. The next run publishes instead."""
    try:
        async with session.begin_nested():
            await session.execute(text(f"SET LOCAL lock_timeout = {HEAD_WAIT_MS}"))
            head = (
                await session.execute(
                    select(LedgerHead)
                    .where(LedgerHead.id == 1)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one()
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return None
        raise
    await session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    return head


def entry_document(row: LedgerEntry) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(row.entry)
    return document
