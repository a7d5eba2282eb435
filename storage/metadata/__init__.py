"""Metadata store on SQLAlchemy: batches, dossiers, pages, fields, corrections, events.

SQLite inside the data dir by default; PostgreSQL (``postgresql+psycopg://``) in
production, through ``SOHOA_DATABASE_URL``. The schema is owned by the Alembic migrations
in ``storage/migrations`` (applied on first start and by ``sohoa db upgrade``); the ORM
classes in ``rows`` describe it for queries. Callers get frozen ``models`` records, never rows.

One ``MetadataStore``, composed of a part per concern: ``engine`` and ``base`` (the
connection, one transaction per call), ``batches``, ``tokens`` (and page sessions),
``accounts`` (people signing in with a password, on a token of their own),
``lifecycle`` (a dossier from received to archived), ``corrections``, ``search`` and
``reads`` (dossiers back, operators' counts), ``outbox`` (pushes to agencies,
statuses back); ``records`` turns rows into records.
"""

from __future__ import annotations

from storage.metadata.accounts import AccountStore
from storage.metadata.batches import BatchStore
from storage.metadata.corrections import CorrectionStore
from storage.metadata.engine import make_engine
from storage.metadata.lifecycle import DossierLifecycle
from storage.metadata.outbox import OutboxStore
from storage.metadata.reads import DossierReads
from storage.metadata.rows import (
    AccountRow,
    Base,
    BatchRow,
    DossierRow,
    DossierTextRow,
    EventRow,
    FieldCorrectionRow,
    FieldRow,
    PageRow,
    SessionRow,
    TokenRow,
)
from storage.metadata.search import SearchStore
from storage.metadata.submissions import SubmissionStore
from storage.metadata.tokens import LAST_USED_EVERY, TokenStore


class MetadataStore(
    BatchStore,
    TokenStore,
    AccountStore,
    DossierLifecycle,
    CorrectionStore,
    SearchStore,
    DossierReads,
    SubmissionStore,
    OutboxStore,
):
    """The whole store: every part shares one engine and one session factory (``StoreBase``)."""


__all__ = [
    "LAST_USED_EVERY",
    "AccountRow",
    "Base",
    "BatchRow",
    "DossierRow",
    "DossierTextRow",
    "EventRow",
    "FieldCorrectionRow",
    "FieldRow",
    "MetadataStore",
    "PageRow",
    "SessionRow",
    "TokenRow",
    "make_engine",
]
