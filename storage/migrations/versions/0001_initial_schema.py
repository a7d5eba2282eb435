"""Initial schema: batches, dossiers, pages, fields, corrections, texts, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("lang", sa.String(64), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(128)),
        sa.Column("counter_id", sa.String(64)),
        sa.Column("post_office_id", sa.String(64)),
        sa.Column("agency_code", sa.String(32)),
        sa.Column("procedure", sa.String(64)),
    )

    op.create_table(
        "dossiers",
        sa.Column("dossier_id", sa.String(96), primary_key=True),
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("dossier_code", sa.String(64)),
        sa.Column("original_key", sa.String(256)),
        sa.Column("original_sha256", sa.String(64)),
        sa.Column("original_size", sa.BigInteger()),
        sa.Column("media_type", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("procedure", sa.String(64)),
        sa.Column("agency_code", sa.String(32)),
        sa.Column("id_number", sa.String(16)),
        sa.Column("full_name", sa.String(256)),
        sa.Column("full_name_folded", sa.String(256)),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_reasons", sa.JSON(), nullable=False),
        sa.Column("source_dossier_id", sa.String(96)),
        sa.Column("source_pages", sa.JSON(), nullable=False),
        sa.Column("duplicate_of", sa.String(96)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("archived_at", Stamp),
    )
    op.create_index("ix_dossiers_batch_id", "dossiers", ["batch_id"])
    op.create_index("ix_dossiers_status", "dossiers", ["status"])
    op.create_index("ix_dossiers_needs_review", "dossiers", ["needs_review"])
    op.create_index("ix_dossiers_procedure", "dossiers", ["procedure"])
    op.create_index("ix_dossiers_id_number", "dossiers", ["id_number"])
    op.create_index("ix_dossiers_original_sha256", "dossiers", ["original_sha256"])
    op.create_index("ix_dossiers_created", "dossiers", ["created_at", "dossier_id"])
    op.create_index("ix_dossiers_agency_created", "dossiers", ["agency_code", "created_at"])
    op.create_index(
        "ix_dossiers_code",
        "dossiers",
        ["dossier_code"],
        postgresql_ops={"dossier_code": "text_pattern_ops"},
    )
    op.create_index(
        "ix_dossiers_name",
        "dossiers",
        ["full_name_folded"],
        postgresql_ops={"full_name_folded": "text_pattern_ops"},
    )

    op.create_table(
        "pages",
        sa.Column(
            "dossier_id", sa.String(96), sa.ForeignKey("dossiers.dossier_id"), primary_key=True
        ),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("width_px", sa.Integer(), nullable=False),
        sa.Column("height_px", sa.Integer(), nullable=False),
        sa.Column("dpi", sa.Float(), nullable=False),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("skew_deg", sa.Float(), nullable=False),
        sa.Column("blank", sa.Boolean(), nullable=False),
        sa.Column("ocr_confidence", sa.Float()),
        sa.Column("text_source", sa.String(8), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("kind_confidence", sa.Float(), nullable=False),
        sa.Column("source_index", sa.Integer()),
    )

    op.create_table(
        "fields",
        sa.Column(
            "dossier_id", sa.String(96), sa.ForeignKey("dossiers.dossier_id"), primary_key=True
        ),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text()),
    )

    op.create_table(
        "field_corrections",
        sa.Column("correction_id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "dossier_id", sa.String(96), sa.ForeignKey("dossiers.dossier_id"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text()),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(128), nullable=False),
        sa.Column("corrected_at", Stamp, nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_field_corrections_dossier_id", "field_corrections", ["dossier_id"])

    op.create_table(
        "dossier_texts",
        sa.Column(
            "dossier_id", sa.String(96), sa.ForeignKey("dossiers.dossier_id"), primary_key=True
        ),
        sa.Column("text_folded", sa.Text(), nullable=False),
    )
    if postgresql:
        # The exact expression storage.metadata queries with, so the planner uses it.
        op.execute(
            "CREATE INDEX ix_dossier_texts_tsv ON dossier_texts "
            "USING gin (to_tsvector('simple'::regconfig, text_folded))"
        )

    op.create_table(
        "events",
        sa.Column("event_id", BigId, primary_key=True, autoincrement=True),
        sa.Column("dossier_id", sa.String(96), nullable=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("actor", sa.String(128)),
    )
    op.create_index("ix_events_dossier_id", "events", ["dossier_id"])


def downgrade() -> None:
    for table in (
        "events",
        "dossier_texts",
        "field_corrections",
        "fields",
        "pages",
        "dossiers",
        "batches",
    ):
        op.drop_table(table)
