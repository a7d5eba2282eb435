"""Field evidence: every candidate with its source, handwritten state, crop and suggestion.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add several columns with defaults in one ALTER
    # otherwise; on PostgreSQL it is plain ALTER TABLE ... ADD COLUMN.
    with op.batch_alter_table("fields") as batch:
        # [{value, source, confidence, where, paper, page}, ...]: every reading of the field.
        batch.add_column(sa.Column("candidates", sa.JSON()))
        # read | handwritten | not_on_papers; rows written before this revision were read.
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="read"))
        batch.add_column(sa.Column("crop_key", sa.String(256)))
        batch.add_column(sa.Column("suggestion", sa.Text()))
        batch.add_column(sa.Column("suggestion_confidence", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("fields") as batch:
        batch.drop_column("suggestion_confidence")
        batch.drop_column("suggestion")
        batch.drop_column("crop_key")
        batch.drop_column("state")
        batch.drop_column("candidates")
