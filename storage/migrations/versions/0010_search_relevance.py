"""Search by relevance, by the day on the receipt, and saved searches (issue 29).

- ``dossiers.received_on``: the day the one-stop desk received a dossier, from its code's
  YYMMDD (``000.00.00.H49-230101-0001`` -> 2023-01-01), indexed with the agency; back-filled
  from the codes already stored. ``created_at`` stays the upload time.
- SQLite: ``dossier_texts_fts``, an FTS5 table over the folded texts, kept by triggers on
  ``dossier_texts``. PostgreSQL: ``dossier_texts.text_tsv``, the tsvector stored (a generated
  column) with its GIN index, replacing 0001's expression index: ranking (ts_rank_cd) and
  phrase checks read the stored vector instead of parsing every matching text again (20,000
  texts of 600 words: a ranked query took 7-10 s parsing them).
- ``saved_searches``: a name and a query string, per owner.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.codes import received_on

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FTS_TRIGGERS = (
    """CREATE TRIGGER dossier_texts_fts_insert AFTER INSERT ON dossier_texts BEGIN
         INSERT INTO dossier_texts_fts (dossier_id, text_folded)
         VALUES (new.dossier_id, new.text_folded);
       END""",
    """CREATE TRIGGER dossier_texts_fts_update AFTER UPDATE ON dossier_texts BEGIN
         DELETE FROM dossier_texts_fts WHERE dossier_id = old.dossier_id;
         INSERT INTO dossier_texts_fts (dossier_id, text_folded)
         VALUES (new.dossier_id, new.text_folded);
       END""",
    """CREATE TRIGGER dossier_texts_fts_delete AFTER DELETE ON dossier_texts BEGIN
         DELETE FROM dossier_texts_fts WHERE dossier_id = old.dossier_id;
       END""",
)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("dossiers") as batch:
        batch.add_column(sa.Column("received_on", sa.Date()))
    op.create_index("ix_dossiers_agency_received_on", "dossiers", ["agency_code", "received_on"])
    dossiers = sa.table(
        "dossiers",
        sa.column("dossier_id", sa.String),
        sa.column("dossier_code", sa.String),
        sa.column("received_on", sa.Date),
    )
    # In Python (a misread code may hold an impossible date, which SQL's casts refuse),
    # a thousand rows an executemany: a million dossiers back-fill in seconds, not hours.
    rows = bind.execute(
        sa.select(dossiers.c.dossier_id, dossiers.c.dossier_code).where(
            dossiers.c.dossier_code.is_not(None)
        )
    ).all()
    update = (
        sa.update(dossiers)
        .where(dossiers.c.dossier_id == sa.bindparam("id"))
        .values(received_on=sa.bindparam("day"))
    )
    days = [{"id": i, "day": received_on(code)} for i, code in rows]
    days = [d for d in days if d["day"] is not None]
    for start in range(0, len(days), 1000):
        bind.execute(update, days[start : start + 1000])

    op.create_table(
        "saved_searches",
        sa.Column("search_id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_saved_searches_owner", "saved_searches", ["owner", "created_at"])

    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE dossier_texts ADD COLUMN text_tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple'::regconfig, text_folded)) STORED"
        )
        op.execute("CREATE INDEX ix_dossier_texts_tsv_stored ON dossier_texts USING gin (text_tsv)")
        op.execute("DROP INDEX IF EXISTS ix_dossier_texts_tsv")
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE dossier_texts_fts USING fts5("
            "dossier_id UNINDEXED, text_folded, tokenize = 'unicode61')"
        )
        op.execute(
            "INSERT INTO dossier_texts_fts (dossier_id, text_folded) "
            "SELECT dossier_id, text_folded FROM dossier_texts"
        )
        for trigger in _FTS_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_dossier_texts_tsv ON dossier_texts "
            "USING gin (to_tsvector('simple'::regconfig, text_folded))"
        )
        op.execute("DROP INDEX IF EXISTS ix_dossier_texts_tsv_stored")
        op.execute("ALTER TABLE dossier_texts DROP COLUMN text_tsv")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS dossier_texts_fts_{name}")
        op.execute("DROP TABLE IF EXISTS dossier_texts_fts")
    op.drop_index("ix_saved_searches_owner", table_name="saved_searches")
    op.drop_table("saved_searches")
    op.drop_index("ix_dossiers_agency_received_on", table_name="dossiers")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("received_on")
