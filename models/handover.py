"""The hand-over receipt (biên nhận số hóa) as the builder takes it: words already chosen.

``app.receipts`` fills it from the store and the catalogue (Vietnamese labels, the
procedure's name, Vietnam time); ``pipeline.handover`` lays it out on one A4 page. Nothing
here is read from storage or the catalogue, so the builder stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReceiptLine:
    label: str  # "Mã hồ sơ"
    value: str  # "000.00.00.H49-260312-0001"


@dataclass(frozen=True)
class ReceiptOriginal:
    """One scanned file as stored: its name, its pages and the SHA-256 of its bytes."""

    name: str
    pages: int
    sha256: str


@dataclass(frozen=True)
class HandoverReceipt:
    title: str
    lines: tuple[ReceiptLine, ...]  # code, procedure, time, counter, clerk, agency
    papers_title: str
    papers: tuple[ReceiptLine, ...]  # a kind of paper and its pages ("Đơn đề nghị", "2 trang")
    originals_title: str
    originals: tuple[ReceiptOriginal, ...]
    pages_word: str  # "{n} trang"
    sha_label: str  # "SHA-256"
    qr_url: str  # opens the dossier's page (which asks for sign-in): no secret in it
    qr_caption: str
    footer: str
