"""The hand-over receipt (biên nhận số hóa) of one dossier, filled from the store.

What the citizen is handed while they wait: the dossier's code, its procedure, when and
where it was received and by whom, the papers and their pages, the SHA-256 of every
original as stored (checked against the object store, not only the database) and a QR
code opening the dossier's page, which still asks for sign-in and the agency's right to
see it: the QR carries no secret. ``pipeline.handover`` lays it out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.auth import visible_dossier
from app.i18n import Messages
from app.views import messages_for
from config import Settings
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierInfo, Principal
from models.errors import ObjectNotFoundError, StorageError
from models.handover import HandoverReceipt, ReceiptLine, ReceiptOriginal
from pipeline.handover import build_receipt_pdf
from storage import keys

log = logging.getLogger("sohoa.service")


class ReceiptError(StorageError):
    """An original's stored bytes are not those received: no receipt vouches for them."""


def receipt_dossier(settings: Settings, principal: Principal, dossier_id: str) -> DossierInfo:
    """The dossier if this principal may have its receipt: the counter that uploaded it
    (its batch's owner, as for the batch's own routes), operators, and the agency it is
    routed to once archived (as for every other dossier route). 404 otherwise."""
    return visible_dossier(settings, principal, dossier_id)


def _papers(words: Messages, dossier: DossierInfo) -> tuple[ReceiptLine, ...]:
    """Each kind of paper with its pages, in the order the papers come (blank pages and
    separator sheets are not papers)."""
    pages: dict[str, list[int]] = {}
    for page in dossier.pages:
        if page.blank or page.kind in ("blank", "separator"):
            continue
        pages.setdefault(page.kind, []).append(page.index + 1)
    text = words.sections["receipt"]
    return tuple(
        ReceiptLine(
            label=words.kind(kind),
            value=f"{text['pages'].format(n=len(numbers))} "
            f"({text['page_numbers']} {', '.join(str(n) for n in numbers)})",
        )
        for kind, numbers in pages.items()
    )


def _originals(settings: Settings, dossier: DossierInfo) -> tuple[ReceiptOriginal, ...]:
    """The scanned file holding the dossier's pages, its SHA-256 as the object store has
    it (the bytes received; for a dossier split from a stack, the whole stack's file)."""
    meta = metadata_store(settings)
    owner = dossier if dossier.source_dossier_id is None else meta.get_dossier(dossier.file_owner)
    submissions = meta.submissions(owner.dossier_id)
    if submissions:
        # Rescanned: every file handed in, the first original first, each checked as stored.
        return tuple(
            _checked(settings, s.object_key, s.sha256, s.source_name, s.page_count)
            for s in submissions
        )
    key = meta.original_key(owner.dossier_id)
    if not key or not owner.original_sha256:
        return ()
    try:
        stored = object_store(settings).stat(key)
    except ObjectNotFoundError:
        raise ReceiptError(f"original {key} is not in the object store") from None
    if stored.sha256 and stored.sha256 != owner.original_sha256:
        raise ReceiptError(f"original {key} is not the bytes received")
    return (
        ReceiptOriginal(
            name=owner.source_name, pages=owner.page_count, sha256=owner.original_sha256
        ),
    )


def _checked(settings: Settings, key: str, sha256: str, name: str, pages: int) -> ReceiptOriginal:
    try:
        stored = object_store(settings).stat(key)
    except ObjectNotFoundError:
        raise ReceiptError(f"original {key} is not in the object store") from None
    if stored.sha256 and stored.sha256 != sha256:
        raise ReceiptError(f"original {key} is not the bytes received")
    return ReceiptOriginal(name=name, pages=pages, sha256=sha256)


def build_receipt(
    settings: Settings, dossier: DossierInfo, *, base_url: str, now: datetime | None = None
) -> HandoverReceipt:
    words = messages_for(settings)
    text = words.sections["receipt"]
    batch: BatchInfo = metadata_store(settings).get_batch(dossier.batch_id)
    zone = text["zone"]
    clerk = batch.uploaded_by or words.text("none")
    if batch.uploaded_by_account:
        clerk = f"{clerk} ({batch.uploaded_by_account})"
    procedure = dossier.procedure or batch.procedure
    lines = [
        ReceiptLine(text["code"], dossier.dossier_code or dossier.dossier_id),
        ReceiptLine(
            text["procedure"], words.procedure(procedure) if procedure else text["unknown"]
        ),
        ReceiptLine(text["received_at"], f"{words.moment(batch.created_at)} {zone}"),
        ReceiptLine(text["counter"], batch.counter_id or text["unknown"]),
        ReceiptLine(text["clerk"], clerk),
    ]
    if dossier.agency_code or batch.agency_code:
        lines.append(ReceiptLine(text["agency"], dossier.agency_code or batch.agency_code or ""))
    lines.append(
        ReceiptLine(text["printed_at"], f"{words.moment(now or datetime.now(UTC))} {zone}")
    )
    papers = _papers(words, dossier)
    if not papers:  # not read yet: the files as received stand for the papers
        papers = (ReceiptLine(text["not_read_yet"], text["pages"].format(n=dossier.page_count)),)
    return HandoverReceipt(
        title=text["title"],
        lines=tuple(lines),
        papers_title=text["papers"],
        papers=papers,
        originals_title=text["originals"],
        originals=_originals(settings, dossier),
        pages_word=text["pages"],
        sha_label="SHA-256",
        qr_url=f"{base_url.rstrip('/')}/dossiers/{dossier.dossier_id}",
        qr_caption=text["qr_caption"],
        footer=text["footer"],
    )


def receipt_pdf(settings: Settings, dossier_id: str, *, base_url: str | None = None) -> bytes:
    """The receipt's PDF for ``sohoa receipt`` (no principal: the machine's own user)."""
    dossier = metadata_store(settings).get_dossier(keys.check_id(dossier_id))
    base = base_url or settings.public_base_url or "http://127.0.0.1:8000"
    return build_receipt_pdf(build_receipt(settings, dossier, base_url=base))
