"""Original claims: "the same bytes for the same agency" made a unique key (issue 31).

Two counters handing in the same file to one agency at the same moment each looked for an
earlier copy, found none, and both were archived. A dossier that holds the first copy of
its bytes for its agency now claims them: ``claim_sha256`` (the SHA-256 of the first file
it was handed in as: a rescan changes ``original_sha256`` to the combined file's, never the
claim) with ``claim_agency`` (the batch's agency), unique together. The losing insert of a
race hits the index and becomes a duplicate of the winner. No claim: duplicates, dossiers
split from a stack (their stack holds it), failed dossiers (the claim is released, as
failed dossiers were never duplicates' targets), and batches sent to no agency (NULL).

Existing rows are back-filled; where duplicates were already archived twice, the earliest
keeps the claim.

Revision ID: 0009
Revises: 0008 (re-chained after 0008 at merge)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        batch.add_column(sa.Column("claim_sha256", sa.String(64)))
        batch.add_column(sa.Column("claim_agency", sa.String(32)))
    op.execute(
        """
        UPDATE dossiers SET
          claim_sha256 = COALESCE(
            (SELECT s.sha256 FROM submissions s
              WHERE s.dossier_id = dossiers.dossier_id AND s.number = 1),
            original_sha256),
          claim_agency = (SELECT b.agency_code FROM batches b
                           WHERE b.batch_id = dossiers.batch_id)
        WHERE status NOT IN ('failed', 'duplicate')
          AND source_dossier_id IS NULL
          AND original_sha256 IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE dossiers SET claim_sha256 = NULL
        WHERE claim_sha256 IS NOT NULL AND claim_agency IS NOT NULL AND EXISTS (
          SELECT 1 FROM dossiers d2
           WHERE d2.claim_sha256 = dossiers.claim_sha256
             AND d2.claim_agency = dossiers.claim_agency
             AND (d2.created_at < dossiers.created_at
                  OR (d2.created_at = dossiers.created_at
                      AND d2.dossier_id < dossiers.dossier_id)))
        """
    )
    op.create_index("uq_dossiers_claim", "dossiers", ["claim_sha256", "claim_agency"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_dossiers_claim", table_name="dossiers")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("claim_agency")
        batch.drop_column("claim_sha256")
