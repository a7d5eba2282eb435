"""The hand-over receipt (biên nhận số hóa, issue 26): one page the clerk prints for the
citizen, whose text names the dossier and the SHA-256 of each original as stored, and whose
QR opens the dossier's page."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
import zxingcpp
from PIL import Image

from config import Settings
from flows.runtime import metadata_store, object_store
from models import DossierStatus, Role
from models.handover import HandoverReceipt, ReceiptLine, ReceiptOriginal
from pipeline.handover import build_receipt_pdf
from tests.service_support import AGENCY_A, SAME_ORIGIN, World, open_world

PASSWORD = "ba con mèo trèo cây cau"


def pdf_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode("utf-8")


def qr_texts(data: bytes) -> list[str]:
    """What a phone would read off the printed page (rendered at 150 dpi)."""
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "receipt.pdf"
        pdf.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(pdf.with_suffix(""))],
            check=True,
        )
        image = Image.open(pdf.with_suffix(".png"))
        return [b.text for b in zxingcpp.read_barcodes(image)]


def test_the_builder_writes_vietnamese_text_a_hash_and_a_qr() -> None:
    sha = hashlib.sha256(b"scan").hexdigest()
    receipt = HandoverReceipt(
        title="BIÊN NHẬN SỐ HÓA HỒ SƠ",
        lines=(
            ReceiptLine("Mã hồ sơ", "000.00.00.H49-260312-0001"),
            ReceiptLine("Cán bộ tiếp nhận", "Nguyễn Thị Lan (lan.nguyen)"),
        ),
        papers_title="Giấy tờ đã số hóa",
        papers=(ReceiptLine("Đơn đề nghị", "2 trang (trang 1, 2)"),),
        originals_title="Tệp gốc đã lưu",
        originals=(ReceiptOriginal("hồ-sơ rất dài " * 12 + ".pdf", 3, sha),),
        pages_word="{n} trang",
        sha_label="SHA-256",
        qr_url="https://sohoa.example.vn/dossiers/20261204-143639-abcdef-001",
        qr_caption="Quét mã để mở hồ sơ",
        footer="Bản gốc giấy được trả lại cho công dân.",
    )
    data = build_receipt_pdf(receipt)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        font = pdf.pages[0].Resources.Font.F1
        assert font.Subtype == "/Type0" and "/FontFile2" in font.DescendantFonts[0].FontDescriptor
    text = pdf_text(data)
    for words in ("BIÊN NHẬN SỐ HÓA HỒ SƠ", "Nguyễn Thị Lan", "000.00.00.H49-260312-0001", sha):
        assert words in text, words
    assert qr_texts(data) == [receipt.qr_url]


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, workers=2)
    with open_world(settings) as world:
        yield world


@pytest.fixture
def received(world: World, samples_dir: Path) -> dict[str, Any]:
    """A clerk signs in as herself and uploads one scan for agency A; it is archived."""
    meta = metadata_store(world.settings)
    meta.create_account(
        user_name="lan.nguyen", display_name="Nguyễn Thị Lan", password=PASSWORD,
        role=Role.COUNTER, counter_id="HN-01",
    )  # fmt: skip
    client = world.client
    client.post(
        "/login", data={"user_name": "lan.nguyen", "password": PASSWORD}, headers=SAME_ORIGIN
    )
    data = (samples_dir / "page.jpg").read_bytes()
    uploaded = client.post(
        "/api/batches", files=[("files", ("page.jpg", data, "image/jpeg"))],
        data={"agency": AGENCY_A, "procedure": "lltp"}, headers=SAME_ORIGIN,
    )  # fmt: skip
    assert uploaded.status_code == 202, uploaded.text
    batch = uploaded.json()
    dossier_id = batch["dossiers"][0]["dossier_id"]
    assert batch["dossiers"][0]["receipt_url"] == f"/api/dossiers/{dossier_id}/receipt.pdf"
    world.runner.wait(batch["batch_id"], timeout=300)
    info = meta.get_dossier(dossier_id)
    assert info.status is DossierStatus.ARCHIVED, info.error
    return {"dossier_id": dossier_id, "url": batch["dossiers"][0]["receipt_url"]}


@pytest.mark.slow
def test_the_receipt_names_the_dossier_its_originals_hash_and_opens_its_page(
    world: World, received: dict[str, Any]
) -> None:
    dossier_id, url = received["dossier_id"], received["url"]
    meta = metadata_store(world.settings)
    info = meta.get_dossier(dossier_id)
    stored = b"".join(object_store(world.settings).iter_chunks(meta.original_key(dossier_id)))
    answer = world.client.get(url)  # the clerk's own session
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(answer.content)) as pdf:
        assert len(pdf.pages) == 1
    text = pdf_text(answer.content)
    assert (info.dossier_code or dossier_id) in text
    assert hashlib.sha256(stored).hexdigest() in text
    assert "Nguyễn Thị Lan (lan.nguyen)" in text and "HN-01" in text
    assert "Cấp phiếu lý lịch tư pháp" in text  # the procedure's name from the catalogue
    assert "UTC+07:00" in text
    assert qr_texts(answer.content) == [f"http://testserver/dossiers/{dossier_id}"]

    # Operators and the dossier's agency have it; another agency or counter does not.
    for who, status in (("operator", 200), ("agency_a", 200), ("agency_b", 404), ("counter", 404)):
        got = world.client.get(url, headers=world.auth(who))
        assert got.status_code == status, who
    # The dossier page offers it.
    world.sign_in("agency_a")
    assert f'href="{url}"' in world.client.get(f"/dossiers/{dossier_id}").text

    # The command line writes the same receipt.
    out = world.settings.data_dir.parent / "receipt.pdf"
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "--data-dir", str(world.settings.data_dir),
         "receipt", dossier_id, "-o", str(out)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "SOHOA_DATABASE_URL": world.settings.resolved_database_url},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert hashlib.sha256(stored).hexdigest() in pdf_text(out.read_bytes())


def test_no_receipt_for_a_dossier_not_there(world: World) -> None:
    for who in ("counter", "agency_a", "operator"):
        got = world.client.get("/api/dossiers/nope/receipt.pdf", headers=world.auth(who))
        assert got.status_code == 404, who
    assert world.client.get("/api/dossiers/nope/receipt.pdf").status_code == 401
