"""Dossier metadata: what the metadata store records and the CLI/API report."""

from models.dossier import BatchInfo, DossierInfo, DossierStatus, FieldInfo, PageInfo

__all__ = ["BatchInfo", "DossierInfo", "DossierStatus", "FieldInfo", "PageInfo"]
