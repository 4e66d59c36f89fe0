"""The public, tamper-evident ledger: entries, signed tree heads, RFC 9162 proofs, anchoring status.

Open to anyone without signing in: a resident or the city's auditor checks a receipt here and on the chain, and
trusts neither our database nor this API (see `maeul verify`).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import NowDep, SessionDep, StateDep
from api.schemas.common import ErrorOut
from api.schemas.ledger import AnchoringOut, ConsistencyOut, EntryOut, InclusionOut, PublicKeyOut, TreeHeadOut
from ledger import anchoring
from ledger import log as ledger
from ledger.errors import InvalidProofRequest

router = APIRouter(prefix="/ledger", tags=["ledger"])
MAX_SIZE = 2**63 - 1  # leaf indexes and tree sizes are PostgreSQL bigints
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
Hex32 = Annotated[str, Query(pattern=r"^[0-9a-fA-F]{64}$", description="32-byte hash, hex")]


@router.get("/public-key", response_model=PublicKeyOut, summary="The log's name and the key that signs its tree heads")
async def public_key(state: StateDep, session: SessionDep) -> PublicKeyOut:
    signer = state.signer
    return PublicKeyOut(
        origin=await ledger.origin(session),
        public_key=base64.b64encode(signer.public_key).decode(),
        key_id=signer.key_id,
    )


@router.get(
    "/tree-heads/latest", response_model=TreeHeadOut, responses=NOT_FOUND, summary="The latest signed tree head"
)
async def latest_tree_head(session: SessionDep) -> TreeHeadOut:
    return TreeHeadOut.of(await ledger.latest_tree_head(session))


@router.get("/tree-heads/{size}", response_model=TreeHeadOut, responses=NOT_FOUND, summary="The tree head at a size")
async def tree_head(session: SessionDep, size: Annotated[int, Path(ge=1, le=MAX_SIZE)]) -> TreeHeadOut:
    return TreeHeadOut.of(await ledger.tree_head(session, size))


@router.get("/entries/{leaf_index}", response_model=EntryOut, responses=NOT_FOUND, summary="One entry of the log")
async def entry(session: SessionDep, leaf_index: Annotated[int, Path(ge=0, le=MAX_SIZE)]) -> EntryOut:
    row = await ledger.entry(session, leaf_index)
    return EntryOut(
        leaf_index=row.leaf_index,
        leaf_hash=row.leaf_hash.hex(),
        entry=base64.b64encode(row.entry).decode(),
        document=ledger.entry_document(row),
    )


@router.get(
    "/proofs/inclusion", response_model=InclusionOut, responses=NOT_FOUND, summary="Inclusion proof of an entry"
)
async def inclusion_proof(
    session: SessionDep,
    leaf_index: Annotated[int | None, Query(ge=0, le=MAX_SIZE)] = None,
    leaf_hash: Hex32 | None = None,
    tree_size: Annotated[
        int | None, Query(ge=1, le=MAX_SIZE, description="default: the latest tree head's size")
    ] = None,
) -> InclusionOut:
    """Give `leaf_index` or `leaf_hash`; the proof is against the tree of `tree_size` leaves."""
    if (leaf_index is None) == (leaf_hash is None):
        raise InvalidProofRequest("give exactly one of leaf_index and leaf_hash")
    if leaf_index is None:
        assert leaf_hash is not None
        leaf_index = await ledger.index_of(session, bytes.fromhex(leaf_hash))
    size = tree_size or (await ledger.latest_tree_head(session)).size
    path = await ledger.inclusion_proof(session, leaf_index=leaf_index, tree_size=size)
    row = await ledger.entry(session, leaf_index)
    return InclusionOut(
        leaf_index=leaf_index, tree_size=size, leaf_hash=row.leaf_hash.hex(), path=[p.hex() for p in path]
    )


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyOut,
    responses=NOT_FOUND,
    summary="Consistency proof between two tree sizes",
)
async def consistency_proof(
    session: SessionDep,
    first: Annotated[int, Query(ge=1, le=MAX_SIZE)],
    second: Annotated[int, Query(ge=1, le=MAX_SIZE)],
) -> ConsistencyOut:
    """Proves that the tree of `first` leaves is a prefix of the tree of `second` leaves: history was not rewritten."""
    path = await ledger.consistency_proof(session, first=first, second=second)
    return ConsistencyOut(first=first, second=second, path=[p.hex() for p in path])


@router.get("/anchoring", response_model=AnchoringOut, summary="Anchoring on the chain and its lag")
async def anchoring_status(session: SessionDep, now: NowDep) -> AnchoringOut:
    status = await anchoring.status(session, now=now)
    return AnchoringOut(**{name: getattr(status, name) for name in AnchoringOut.model_fields})
