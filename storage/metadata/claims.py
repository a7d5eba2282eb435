"""Claims on originals: which dossier holds the first copy of some bytes for an agency.

"The same bytes for the same agency" is a unique key (``claim_sha256``, ``claim_agency``,
migration 0009), so two copies received at the same moment cannot both be the first: the
losing insert or update hits the index inside a savepoint, and the caller turns that
dossier into a duplicate of the winner. A batch sent to no agency (a ``sohoa process`` run
without ``--agency``) claims with a NULL agency, which the index does not make unique.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.metadata.rows import DossierRow, SubmissionRow


def claim_holder(session: Session, sha256: str, agency_code: str | None) -> str | None:
    """The dossier holding the claim on these bytes for this agency (None: any agency)."""
    query = select(DossierRow.dossier_id).where(DossierRow.claim_sha256 == sha256)
    if agency_code is not None:
        query = query.where(DossierRow.claim_agency == agency_code)
    return session.scalar(query.order_by(DossierRow.created_at).limit(1))


def try_claim(session: Session, row: DossierRow, sha256: str, agency_code: str | None) -> bool:
    """Claim the bytes for ``row`` (new or loaded) in a savepoint; False when another
    dossier holds them (the savepoint is rolled back, the rest of the transaction stands)."""
    session.flush()  # the transaction's other writes first, outside the savepoint
    try:
        with session.begin_nested():
            row.claim_sha256, row.claim_agency = sha256, agency_code
            session.add(row)
            session.flush()
    except IntegrityError:
        if row in session:
            session.refresh(row)  # a loaded row: back to what is stored
        return False
    return True


def first_sha256(session: Session, row: DossierRow) -> str | None:
    """The SHA-256 of the first file the dossier was handed in as (its claim's bytes): a
    rescan's combined file changes ``original_sha256``, submission 1 keeps the first."""
    first = session.scalar(
        select(SubmissionRow.sha256).where(
            SubmissionRow.dossier_id == row.dossier_id, SubmissionRow.number == 1
        )
    )
    return first or row.original_sha256
