"""An archived dossier as an archive package sees it (issue 27): a small frozen record that
``pipeline.eark`` turns into an E-ARK CSIP information package, with no store behind it.

``app.export`` fills it from the metadata store and the object store (every file read back
through the manifest check first); the builder only reads the local copies it names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The namespace of every package id: uuid5(namespace, "<dossier id>|<archived at>"), so the
# same archived dossier always gets the same package id, and a dossier archived again
# (a rescan) gets a new one.
PACKAGE_NAMESPACE = uuid.UUID("5d3c2f0e-7a51-5b8e-9a0c-50a40a2b1e27")


def package_id(dossier_id: str, archived_at: datetime) -> str:
    """``urn:uuid:…`` for the dossier as archived at that time."""
    return f"urn:uuid:{uuid.uuid5(PACKAGE_NAMESPACE, f'{dossier_id}|{archived_at.isoformat()}')}"


@dataclass(frozen=True)
class PackageFile:
    """One data file of the package: its bytes are already on local disk at ``path``."""

    name: str  # the file's name in representations/rep1/data/
    path: Path  # local copy, checked against the store's manifest
    role: str  # "original", "submission", "pdf" (the signed PDF/A)
    mime: str
    sha256: str
    size: int
    created: datetime  # when sohoa stored it (received, or archived for the PDF)
    label: str = ""  # what it is, for people: "submission 2 (rescan of page 3)"


@dataclass(frozen=True)
class PackageAgent:
    key: str  # the id the events point to (unique in the package)
    name: str
    kind: str  # PREMIS agentType: "person", "organization", "software"
    note: str = ""


@dataclass(frozen=True)
class PackageEvent:
    """A PREMIS event. ``kind`` is a term of the Library of Congress eventType vocabulary."""

    kind: str  # "ingestion start", "digitization", "metadata modification", ...
    at: datetime
    detail: str
    outcome: str = "success"  # "success" or "fail"
    agents: tuple[tuple[str, str], ...] = ()  # (agent key, role: "executing program", ...)
    files: tuple[str, ...] = ()  # PackageFile.name of the objects it concerns


@dataclass(frozen=True)
class SignatureRecord:
    """The digitiser's signature of the PDF/A, as the manifest recorded it."""

    signer_name: str
    signed_at: datetime
    certificate_subject: str
    certificate_serial: str
    certificate_sha256: str


@dataclass(frozen=True)
class DossierPackage:
    dossier_id: str
    package_id: str  # urn:uuid:…
    title: str
    archived_at: datetime
    received_at: datetime
    dossier_code: str | None
    procedure: str | None  # procedure code, e.g. 1.011442.000.00.00.H38
    procedure_name: str | None
    agency_code: str | None
    # The dossier's owner ("chủ hồ sơ"): the finding aid names whose dossier it is. Their
    # ID number, birth date, address are not copied out of the papers (personal data).
    owner_name: str | None
    page_count: int
    files: tuple[PackageFile, ...]
    agents: tuple[PackageAgent, ...]
    events: tuple[PackageEvent, ...]
    signature: SignatureRecord | None = None
    software: str = "sohoa"
    software_version: str = "0"
