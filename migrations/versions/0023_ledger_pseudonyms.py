"""A deployment's pseudonym key, kept with the log's head: the public ledger names wallets and parties by a keyed
pseudonym (HMAC-SHA256 of the account id), never by their account id.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_head", sa.Column("pseudonym_key", sa.LargeBinary(), nullable=True))
    # 32 random bytes from two random UUIDs (gen_random_uuid is built in; pgcrypto is not needed)
    op.execute(
        "UPDATE ledger_head SET pseudonym_key = decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, "
        "'-', ''), 'hex')"
    )


def downgrade() -> None:
    op.drop_column("ledger_head", "pseudonym_key")
