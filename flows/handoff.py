"""The handoff to an agency's system (issue 27): the dossier in the portal's shape, each
submitted paper a separate signed PDF behind an expiring authenticated link.

The shape is ``pipeline.portal``'s (one mapping module); this module supplies what it
reads: the archived dossier, the link of each paper, and the papers' PDFs themselves.

Papers are made on demand, the first time a link is followed, and kept in the object
store under the dossier's prefix (``keys.paper_key``, named by the archive's hash): the
archive path stays as it is (one signed PDF/A, verified by ``sohoa verify``), dossiers
archived before this existed get their papers too, and a push of 100 dossiers costs no
signing at all until an agency fetches a file. Each paper is its pages copied out of the
signed archive with pikepdf (the archive's PDF/A metadata and output intent kept, its
signature widget dropped) and signed again by the same counter's signer (NĐ 137/2024 Art.
4–5: the converting body's signature on each electronic copy). An archive kept unsigned
gives unsigned papers, and the handoff says ``signed: false``.

Links are ``/api/handoff/{dossier}/{paper}.pdf?exp=<unix>&sig=<hex>``: an HMAC-SHA256 with
the server's key over the dossier, the paper and the expiry, checked (in constant time)
before anything is loaded. The key is ``SOHOA_HANDOFF_LINK_SECRET``, else a random one
written into the data dir on first use (0600), shared by every process on that data dir.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf

from config import Settings
from config.catalogue import load_catalogue
from flows.runtime import metadata_store, object_store
from flows.steps import batch_signer
from models import DossierStatus
from models.errors import DossierNotFoundError, ObjectNotFoundError, StorageError
from pipeline.portal import HandoffInput, Paper, mapping, papers_of
from storage import keys

LINK_KEY_FILE = "handoff-link.key"


class HandoffError(Exception):
    """The dossier cannot be handed off (not archived, a paper that does not exist...)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message, self.status = message, status


# --- links ------------------------------------------------------------------------------


def link_key(settings: Settings) -> bytes:
    if settings.handoff_link_secret:
        return settings.handoff_link_secret.encode("utf-8")
    path = settings.data_dir / LINK_KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        time.sleep(0.05)
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def _link_mac(settings: Settings, dossier_id: str, number: int, expires: int) -> str:
    message = f"handoff-paper\n{dossier_id}\n{number}\n{expires}".encode()
    return hmac.new(link_key(settings), message, hashlib.sha256).hexdigest()


def paper_path(dossier_id: str, number: int) -> str:
    return f"/api/handoff/{dossier_id}/{number}.pdf"


def paper_link(
    settings: Settings, base_url: str, dossier_id: str, number: int, expires: int
) -> str:
    sig = _link_mac(settings, dossier_id, number, expires)
    return f"{base_url.rstrip('/')}{paper_path(dossier_id, number)}?exp={expires}&sig={sig}"


def check_link(
    settings: Settings, dossier_id: str, number: int, expires: str, sig: str, *, now: float
) -> str | None:
    """None when the link is good; else why not (expired, or not ours)."""
    if not expires.isdigit() or len(expires) > 12 or len(sig) != 64:
        return "not a handoff link"
    if int(expires) < now:
        return "the link has expired"
    if not hmac.compare_digest(_link_mac(settings, dossier_id, number, int(expires)), sig):
        return "not a handoff link"
    return None


# --- the document -----------------------------------------------------------------------


def _archived(settings: Settings, dossier_id: str) -> Any:
    try:
        dossier = metadata_store(settings).get_dossier(dossier_id)
    except DossierNotFoundError:
        raise HandoffError("no such dossier", 404) from None
    if dossier.status is not DossierStatus.ARCHIVED:
        raise HandoffError(f"dossier {dossier_id} is {dossier.status}, not archived")
    return dossier


def _manifest(settings: Settings, dossier_id: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(
            object_store(settings).get_bytes(keys.manifest_key(dossier_id))
        )
    except ObjectNotFoundError:
        raise HandoffError(f"dossier {dossier_id} has no manifest") from None
    return data


def handoff_document(
    settings: Settings,
    dossier_id: str,
    base_url: str,
    *,
    now: float | None = None,
    mapping_name: str | None = None,
) -> dict[str, Any]:
    """The archived dossier in the portal's shape, its papers' links valid for
    ``handoff_link_minutes`` from ``now``."""
    dossier = _archived(settings, dossier_id)
    batch = metadata_store(settings).get_batch(dossier.batch_id)
    catalogue = load_catalogue(settings.catalogue_path)
    procedure = catalogue.procedure(dossier.procedure) if dossier.procedure else None
    expires = int((now if now is not None else time.time()) + settings.handoff_link_minutes * 60)
    urls = {
        paper.number: paper_link(settings, base_url, dossier_id, paper.number, expires)
        for paper in papers_of(dossier, procedure)
    }
    signed = _manifest(settings, dossier_id).get("signature") is not None
    return mapping(mapping_name).document(
        HandoffInput(
            dossier=dossier,
            catalogue=catalogue,
            paper_urls=urls,
            links_expire_at=datetime.fromtimestamp(expires, UTC),
            signed=signed,
            received_at=batch.created_at,
        )
    )


# --- the papers -------------------------------------------------------------------------


def paper_pdf(settings: Settings, dossier_id: str, number: int) -> str:
    """The object key of paper ``number`` of the archived dossier, made (and signed) on
    first use. Raises HandoffError for a dossier not archived or a paper it lacks."""
    dossier = _archived(settings, dossier_id)
    procedure = load_catalogue(settings.catalogue_path).procedure(dossier.procedure or "")
    papers = {p.number: p for p in papers_of(dossier, procedure)}
    if number not in papers:
        raise HandoffError(f"dossier {dossier_id} has no paper {number}", 404)
    objects = object_store(settings)
    archive = objects.stat(keys.pdf_key(dossier_id))
    key = keys.paper_key(dossier_id, archive.sha256, number)
    if objects.exists(key):
        return key
    signed = _manifest(settings, dossier_id).get("signature") is not None
    work = settings.work_dir / "handoff" / f"{dossier_id}-{secrets.token_hex(4)}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = work / "dossier.pdf"
        objects.get_file(keys.pdf_key(dossier_id), source)
        path = _split(source, papers[number], work / f"paper-{number}.pdf")
        if signed:
            path = _sign_paper(
                settings, dossier.batch_id, path, work / f"paper-{number}.signed.pdf"
            )
        objects.put_file(key, path, "application/pdf")
    finally:
        for item in work.iterdir():
            item.unlink(missing_ok=True)
        work.rmdir()
    return key


def _split(source: Path, paper: Paper, output: Path) -> Path:
    """The paper's pages of the archive as a PDF of their own, PDF/A identity kept."""
    with pikepdf.open(source) as pdf, pikepdf.new() as out:
        for index in paper.pages:
            out.pages.append(pdf.pages[index])
        for page in out.pages:
            annots = page.obj.get("/Annots")
            if annots is None:
                continue
            kept = [a for a in annots if a.get("/FT") != "/Sig" and a.get("/Subtype") != "/Widget"]
            if kept:
                page.obj.Annots = out.make_indirect(pikepdf.Array(kept))
            else:
                del page.obj["/Annots"]
        for name in ("/Metadata", "/OutputIntents", "/Lang"):
            if name in pdf.Root:
                out.Root[name] = out.copy_foreign(pdf.Root[name])
        out.save(output)
    return output


def _sign_paper(settings: Settings, batch_id: str, path: Path, output: Path) -> Path:
    from flows.archiving import sign_archive

    signer, refusal = batch_signer(settings, metadata_store(settings).get_batch(batch_id))
    if signer is None:
        raise StorageError(f"paper not signed: {refusal or 'no signer for the counter'}")
    info, why = sign_archive(path, output, signer)
    if info is None:
        raise StorageError(f"paper not signed: {why}")
    return info.path
