"""Ledger: RFC 9162 Merkle log, signed tree heads, anchoring outbox; append-only triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_entries", "ledger_nodes", "ledger_tree_heads")

# Append entries in one round trip: lock the head, hash each entry (RFC 9162 leaf hash, PostgreSQL's sha256), store
# it and every complete subtree node it closes, move the head. The frontier holds the roots of the complete subtrees
# that make up the tree, largest first. `ledger.merkle` is the independent Python definition the audit checks.
LEDGER_APPEND = r"""
CREATE FUNCTION ledger_append(p_kinds text[], p_subjects text[], p_entries bytea[], p_created timestamptz[])
RETURNS TABLE (leaf_index bigint, leaf_hash bytea) LANGUAGE plpgsql AS $$
DECLARE
  h_size bigint;
  h_frontier bytea[];
  leaf bytea;
  node bytea;
  node_level smallint;
  node_index bigint;
BEGIN
  SELECT size, frontier INTO h_size, h_frontier FROM ledger_head WHERE id = 1 FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_entries, 1), 0) LOOP
    leaf := sha256('\x00'::bytea || p_entries[i]);
    INSERT INTO ledger_entries (leaf_index, kind, subject, entry, leaf_hash, created_at)
    VALUES (h_size, p_kinds[i], p_subjects[i], p_entries[i], leaf, p_created[i]);
    node := leaf;
    node_level := 0;
    node_index := h_size;
    WHILE node_index % 2 = 1 LOOP  -- each trailing 1 bit closes a subtree with its left sibling
      node := sha256('\x01'::bytea || h_frontier[cardinality(h_frontier)] || node);
      h_frontier := h_frontier[1:cardinality(h_frontier) - 1];
      node_level := node_level + 1;
      node_index := node_index / 2;
      INSERT INTO ledger_nodes (level, idx, hash) VALUES (node_level, node_index, node);
    END LOOP;
    h_frontier := h_frontier || node;
    leaf_index := h_size;
    leaf_hash := leaf;
    RETURN NEXT;
    h_size := h_size + 1;
  END LOOP;
  UPDATE ledger_head SET size = h_size, frontier = h_frontier WHERE id = 1;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("leaf_index", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("leaf_index >= 0 AND length(leaf_hash) = 32", name="leaf"),
    )
    op.create_index("ix_ledger_entries_leaf_hash", "ledger_entries", ["leaf_hash"])
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger(), primary_key=True),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level >= 1 AND idx >= 0 AND length(hash) = 32", name="node"),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", pg.ARRAY(sa.LargeBinary()), nullable=False),
        sa.CheckConstraint("id = 1 AND size >= 0", name="single_row"),
    )
    op.execute("INSERT INTO ledger_head (id, size, frontier) VALUES (1, 0, '{}')")
    op.create_table(
        "ledger_tree_heads",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "ledger_anchor_jobs",
        sa.Column("tree_size", sa.BigInteger(), sa.ForeignKey("ledger_tree_heads.size"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'superseded')", name="status"),
    )
    op.create_table(
        "ledger_chain_deployments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("genesis_hash", sa.String(66), nullable=False),
        sa.Column("contract_address", sa.String(42), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_anchors",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("deployment_id", sa.Uuid(), sa.ForeignKey("ledger_chain_deployments.id"), nullable=False, index=True),
        sa.Column("tree_size", sa.BigInteger(), sa.ForeignKey("ledger_tree_heads.size"), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(LEDGER_APPEND)
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )


def downgrade() -> None:
    for table in ("ledger_anchors", "ledger_chain_deployments", "ledger_anchor_jobs", "ledger_tree_heads"):
        op.drop_table(table)
    for table in ("ledger_head", "ledger_nodes", "ledger_entries"):
        op.drop_table(table)
    op.execute("DROP FUNCTION ledger_refuse_change()")
    op.execute("DROP FUNCTION ledger_append(text[], text[], bytea[], timestamptz[])")
