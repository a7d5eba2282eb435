"""Which scanned file a dossier's "original" download is.

A file holding one dossier is its original. A stack (one scanned file with several
citizens' dossiers) is split: each dossier's original is its own page range of the stack,
made at archiving and vouched for by its manifest (``part-original``), while the stack
stays the batch's untouched original, which only operators fetch (``stack=true``). An
agency therefore never receives another citizen's pages, whichever part it owns.
"""

from __future__ import annotations

from fastapi import HTTPException

from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierInfo, DossierStatus, Principal, Role
from models.errors import StorageError
from storage.archive import own_original_key


def from_stack(settings: Settings, dossier: DossierInfo) -> bool:
    """The dossier is one of several split from the same scanned file."""
    if dossier.source_dossier_id is not None:
        return True
    return any(
        d.source_dossier_id == dossier.dossier_id
        for d in metadata_store(settings).batch_dossiers(dossier.batch_id)
    )


def served_original(
    settings: Settings, principal: Principal, dossier: DossierInfo, *, whole_stack: bool
) -> tuple[str, bool]:
    """(object key, whether the dossier's manifest vouches for it) of the original to
    send; 404 for what this principal may not have (the same answer as for no dossier)."""
    meta = metadata_store(settings)
    stack_key = meta.original_key(dossier.file_owner)
    if whole_stack:
        if principal.role is not Role.OPERATOR or not stack_key:
            raise HTTPException(404, "no stored original")
        return stack_key, False
    if dossier.status is not DossierStatus.ARCHIVED:
        # Before it is archived only operators and the counter that uploaded it see a
        # dossier (visible_dossier): the file as received, which that counter sent.
        if not stack_key:
            raise HTTPException(404, "no stored original")
        return stack_key, False
    try:
        own = own_original_key(object_store(settings), dossier.dossier_id)
    except StorageError:
        own = None
    if own is None or (
        # Archived before split dossiers had their own range: the stack holds others' pages.
        own == stack_key and principal.role is not Role.OPERATOR and from_stack(settings, dossier)
    ):
        raise HTTPException(404, "no stored original of this dossier's own pages")
    return own, True
