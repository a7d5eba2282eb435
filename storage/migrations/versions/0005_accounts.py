"""People's accounts (name and password, locked after wrong passwords); who uploaded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_name", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        # The account's role and scope are its own token's (a secret nobody holds): page
        # sessions, batch ownership and every access check stay those of a token.
        sa.Column(
            "token_id", sa.String(16), sa.ForeignKey("tokens.token_id"), nullable=False, unique=True
        ),
        # scrypt$n$r$p$salt$hash: the parameters travel with the hash, to be raised later.
        sa.Column("password_hash", sa.String(255), nullable=False),
        # Counted in the database, so every worker process sees the same count.
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_at", Stamp),
        sa.Column("locked_until", Stamp),
        sa.Column("last_sign_in_at", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("disabled_at", Stamp),
    )
    with op.batch_alter_table("batches") as batch:
        # The person who uploaded (their user name); uploaded_by keeps their display name,
        # or a machine token's label.
        batch.add_column(sa.Column("uploaded_by_account", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("uploaded_by_account")
    op.drop_table("accounts")
