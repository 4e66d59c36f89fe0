from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin


class LedgerEntry(Base):
    """One leaf of the log: the canonical bytes of an entry and their RFC 9162 leaf hash. Append-only (trigger)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_leaf_hash", "leaf_hash"),)

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerNode(Base):
    """Hash of a complete aligned subtree above the leaves (level >= 1): what proofs are built from."""

    __tablename__ = "ledger_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHead(Base):
    """The log's single mutable row: its size and right edge. Locking it serialises appends."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary))
    origin: Mapped[str] = mapped_column(String(80))  # this log's name, made when its database was created
    pseudonym_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # made with the log: ledger/pseudonyms.py


class TreeHead(Base):
    """A signed tree head (STH): size, root, time, Ed25519 signature. Append-only (trigger)."""

    __tablename__ = "ledger_tree_heads"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AnchorJob(Base):
    """Outbox: a tree head waiting to be anchored on the chain by the worker."""

    __tablename__ = "ledger_anchor_jobs"

    tree_size: Mapped[int] = mapped_column(ForeignKey("ledger_tree_heads.size"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | superseded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(1000))


class ChainDeployment(IdMixin, Base):
    """The anchoring contract on one chain. A chain that was reset gets a new deployment."""

    __tablename__ = "ledger_chain_deployments"

    chain_id: Mapped[int] = mapped_column(BigInteger)
    genesis_hash: Mapped[str] = mapped_column(String(66))
    contract_address: Mapped[str] = mapped_column(String(42))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Anchor(IdMixin, Base):
    """A tree head recorded on the chain."""

    __tablename__ = "ledger_anchors"

    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_chain_deployments.id"), index=True)
    tree_size: Mapped[int] = mapped_column(ForeignKey("ledger_tree_heads.size"))
    root: Mapped[bytes] = mapped_column(LargeBinary)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
