"""Access tokens; a batch's owning token and its Prefect flow run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String(16), primary_key=True),
        # SHA-256 of the secret part: tokens are 256-bit random, so no salt or slow hash
        # is needed, and a stolen table cannot be replayed.
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("agency_code", sa.String(32)),
        sa.Column("counter_id", sa.String(64)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp),
        sa.Column("last_used_at", Stamp),
    )
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("token_id", sa.String(16)))
        batch.add_column(sa.Column("flow_run_id", sa.String(64)))
        batch.create_index("ix_batches_token_created", ["token_id", "created_at"])
    op.create_index("ix_batches_created", "batches", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_batches_created", "batches")
    with op.batch_alter_table("batches") as batch:
        batch.drop_index("ix_batches_token_created")
        batch.drop_column("flow_run_id")
        batch.drop_column("token_id")
    op.drop_table("tokens")
