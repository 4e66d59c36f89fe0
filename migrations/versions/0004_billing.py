"""Billing: double-entry journal (balanced at commit, append-only), balances, payment holds, settlement rules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULT_RULES = [
    # slot kind, owner, enterprise, city, platform (basis points), why
    (
        "resident_priority",
        6000,
        2500,
        1000,
        500,
        "resident slot: the permit holder earns; the village enterprise operates; the city funds its operation",
    ),
    (
        "public_lot",
        7500,
        2000,
        0,
        500,
        "public lot entrusted to the village enterprise: city revenue (owner) minus the consignment management fee",
    ),
    ("private_individual", 8000, 1500, 0, 500, "private slot: the owner's share and the village enterprise commission"),
    ("private_lot", 8500, 1000, 0, 500, "private lot: the operator's share and the village enterprise commission"),
]


def upgrade() -> None:
    op.create_table(
        "journal_transactions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "journal_postings",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("transaction_id", sa.Uuid(), sa.ForeignKey("journal_transactions.id"), nullable=False, index=True),
        sa.Column("account", sa.String(64), nullable=False, index=True),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_krw <> 0", name="amount"),
    )
    op.create_table(
        "journal_balances",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("balance_krw", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "balance_krw >= 0 OR NOT (account LIKE 'wallet:%' OR account LIKE 'hold:%' OR account LIKE 'owner:%' "
            "OR account IN ('enterprise', 'city', 'platform'))",
            name="no_overdraft",
        ),
    )
    op.execute(
        """
        CREATE FUNCTION journal_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- a zero row first (ON CONFLICT would check a negative candidate row against no_overdraft), then add
          INSERT INTO journal_balances (account, balance_krw) VALUES (NEW.account, 0) ON CONFLICT (account) DO NOTHING;
          UPDATE journal_balances SET balance_krw = balance_krw + NEW.amount_krw WHERE account = NEW.account;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER journal_postings_balance AFTER INSERT ON journal_postings "
        "FOR EACH ROW EXECUTE FUNCTION journal_apply_posting()"
    )
    op.execute(
        """
        CREATE FUNCTION journal_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE total bigint;
        BEGIN
          SELECT sum(amount_krw) INTO total FROM journal_postings WHERE transaction_id = NEW.transaction_id;
          IF total <> 0 THEN
            RAISE EXCEPTION 'journal transaction % does not balance: postings add up to % KRW',
              NEW.transaction_id, total USING ERRCODE = 'check_violation';
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER journal_balanced AFTER INSERT ON journal_postings "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_check_balanced()"
    )
    for table in ("journal_transactions", "journal_postings"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.create_table(
        "payment_holds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("driver_id", sa.Uuid(), sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("booking_id", sa.Uuid(), sa.ForeignKey("bookings.id"), nullable=True, index=True),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("captured_krw", sa.BigInteger(), nullable=False),
        sa.Column("released_krw", sa.BigInteger(), nullable=False),
        sa.Column("refunded_krw", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("amount_krw > 0", name="amount"),
        sa.CheckConstraint("captured_krw >= 0 AND released_krw >= 0 AND refunded_krw >= 0", name="non_negative"),
        sa.CheckConstraint("captured_krw + released_krw <= amount_krw", name="within_hold"),
        sa.CheckConstraint("refunded_krw <= captured_krw", name="refund_within_capture"),
    )
    rules = op.create_table(
        "settlement_rules",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slot_kind", sa.String(24), nullable=False),
        sa.Column("lot_id", sa.Uuid(), sa.ForeignKey("lots.id"), nullable=True),
        sa.Column("owner_bp", sa.Integer(), nullable=False),
        sa.Column("enterprise_bp", sa.Integer(), nullable=False),
        sa.Column("city_bp", sa.Integer(), nullable=False),
        sa.Column("platform_bp", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.CheckConstraint("owner_bp + enterprise_bp + city_bp + platform_bp = 10000", name="whole"),
        sa.CheckConstraint("owner_bp >= 0 AND enterprise_bp >= 0 AND city_bp >= 0 AND platform_bp >= 0", name="shares"),
    )
    import uuid

    op.bulk_insert(
        rules,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"maeul:settlement:{kind}"),
                "slot_kind": kind,
                "lot_id": None,
                "owner_bp": o,
                "enterprise_bp": e,
                "city_bp": c,
                "platform_bp": p,
                "description": why,
            }
            for kind, o, e, c, p, why in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    op.drop_table("settlement_rules")
    op.drop_table("payment_holds")
    op.execute("DROP TABLE journal_postings CASCADE")
    op.execute("DROP TABLE journal_transactions CASCADE")
    op.drop_table("journal_balances")
    op.execute("DROP FUNCTION journal_check_balanced()")
    op.execute("DROP FUNCTION journal_apply_posting()")
