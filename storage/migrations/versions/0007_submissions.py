"""Submissions: the files a dossier was handed in as, the first and every rescan after it.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("dossier_id", sa.String(96), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),  # 1: the first upload
        sa.Column("object_key", sa.String(256), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(64)),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(512), nullable=False),
        # Dossier pages (1-based) the file's pages replace; the rest of its pages are added.
        sa.Column("replaces", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(128)),
        # The file the dossier's pages were read from after this submission.
        sa.Column("source_key", sa.String(256), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submissions")
