"""Dossier metadata: what the metadata store records and the CLI/API report."""

from models.auth import AccountInfo, Principal, Role, TokenInfo
from models.dossier import (
    BatchInfo,
    DossierInfo,
    DossierStatus,
    FieldCandidate,
    FieldCorrection,
    FieldInfo,
    FieldState,
    PageInfo,
    StoredOriginal,
    Submission,
)
from models.search import SearchPage, SearchQuery

__all__ = [
    "AccountInfo",
    "BatchInfo",
    "DossierInfo",
    "DossierStatus",
    "FieldCandidate",
    "FieldCorrection",
    "FieldInfo",
    "FieldState",
    "PageInfo",
    "Principal",
    "Role",
    "SearchPage",
    "SearchQuery",
    "StoredOriginal",
    "Submission",
    "TokenInfo",
]
