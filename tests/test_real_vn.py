"""Real Vietnamese pages (bench/real_vn) as regression tests, where the pages are at hand.

The pages are other people's documents and are not committed (bench/real_vn.py says where
they are looked up). Four pages, one per trap that broke sohoa on real paper: a signed
100 dpi scan from a provincial system (e-signature stamps), a 1-bit scan carrying an old
diacritic-less OCR layer, a low-resolution web copy with a red seal, and a last page with
a red seal and a signature over the signer's title and name (issue 28). Each must be
archived as PDF/A and read no worse than bare Tesseract on the untouched image.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
import pytest

from bench import real_vn
from pipeline.assemble import DocumentInfo, assemble_searchable_pdf
from pipeline.context import PageContext
from pipeline.load import inspect_source
from pipeline.page import process_page
from pipeline.pdfa import ArchiveMetadata, make_pdfa
from tests import synth

REGRESSION_PAGES = ("qn-05ct-100dpi", "epu-dl0006", "kk-anh12-bacninh", "qn-23bc-p2")


def _page(page_id: str) -> real_vn.RealPage:
    return next(p for p in real_vn.load_corpus() if p.id == page_id)


def _at_hand(page: real_vn.RealPage) -> Path:
    try:
        return real_vn.materialise(page)
    except SystemExit as missing:
        pytest.skip(f"real page not available on this machine: {missing}")


@pytest.mark.slow
@pytest.mark.parametrize("page_id", REGRESSION_PAGES)
def test_real_page_is_archived_and_read_no_worse_than_tesseract(
    page_id: str, tmp_path: Path
) -> None:
    page = _page(page_id)
    path = _at_hand(page)
    source = inspect_source(path)
    outcome = process_page(source, PageContext(source_name=path.name, page_index=0), tmp_path)
    assembled = tmp_path / "assembled.pdf"
    assemble_searchable_pdf(source, [outcome.layer], assembled, DocumentInfo(title=page_id))
    archived = make_pdfa(
        assembled,
        tmp_path / "archived.pdf",
        metadata=ArchiveMetadata(
            title=page_id, dossier_code="", procedure="", agency_code="", digitiser="test"
        ),
        source_name=path.name,
    )
    with pikepdf.open(archived) as pdf:
        assert "pdfaid:part" in str(pdf.open_metadata())
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(archived), "-"], capture_output=True, check=True
    ).stdout.decode()
    stamps = real_vn.stamp_lines(path, tmp_path)
    ours = synth.char_error_rate(page.truth, real_vn.without(stamps, text))
    bare_text, _ = real_vn.read_bare(path, tmp_path)
    bare = synth.char_error_rate(page.truth, real_vn.without(stamps, bare_text))
    assert ours <= bare + 0.005, (ours, bare)
