"""The public ledger's HTTP models: the signing key, tree heads, entries, proofs and the anchoring state."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ledger.models import TreeHead


class PublicKeyOut(BaseModel):
    algorithm: str = "ed25519"
    origin: str = Field(
        description="the log's name, made when its database was created: a monitor keeps its memory per origin"
    )
    public_key: str = Field(description="raw 32-byte key, base64")
    key_id: str
    signed_message: str = Field(
        default="'maeul-sth-v1\\x00' || uint64 BE tree_size || uint64 BE timestamp_ms || root (32 bytes)",
        description="what each tree head signature covers",
    )


class TreeHeadOut(BaseModel):
    size: int
    root: str = Field(description="RFC 9162 Merkle tree hash, hex")
    timestamp_ms: int
    issued_at: datetime
    key_id: str
    signature: str = Field(description="Ed25519 signature, base64")

    @classmethod
    def of(cls, head: TreeHead) -> TreeHeadOut:
        return cls(
            size=head.size,
            root=head.root.hex(),
            timestamp_ms=int(head.issued_at.timestamp() * 1000),
            issued_at=head.issued_at,
            key_id=head.key_id,
            signature=base64.b64encode(head.signature).decode(),
        )


class EntryOut(BaseModel):
    leaf_index: int
    leaf_hash: str = Field(description="SHA-256(0x00 || entry), hex")
    entry: str = Field(description="the exact canonical bytes that were hashed, base64")
    document: dict[str, Any] = Field(description="the same entry, parsed")


class InclusionOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    path: list[str] = Field(description="RFC 9162 inclusion path, leaf to root, hex")


class ConsistencyOut(BaseModel):
    first: int
    second: int
    path: list[str] = Field(description="RFC 9162 consistency proof, hex")


class AnchoringOut(BaseModel):
    log_size: int
    latest_tree_head_size: int
    anchored_size: int = Field(description="largest tree size anchored on the current contract")
    entries_not_anchored: int
    seconds_not_anchored: float = Field(description="age of the oldest entry not yet anchored")
    chain_id: int | None
    contract_address: str | None
    pending_attempts: int
    last_error: str | None
