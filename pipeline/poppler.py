"""Poppler (pdftoppm via pdf2image, pdftotext): the one place that runs them.

Takes explicit keywords, never the settings object, and turns poppler's failure modes
into :mod:`models.errors` exceptions.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

from pdf2image import convert_from_path
from pdf2image.exceptions import (
    PDFInfoNotInstalledError,
    PDFPageCountError,
    PDFPopplerTimeoutError,
    PDFSyntaxError,
)
from PIL import Image

from models.errors import BadInputError, OcrEngineError, library_problem

RENDER_TIMEOUT_S = 300


def _require(program: str) -> str:
    found = shutil.which(program)
    if not found:
        raise OcrEngineError(
            f"{program} is not installed (Debian package poppler-utils); run the setup script"
        )
    return found


def render_page(
    path: Path,
    *,
    page_number: int,
    dpi: float,
    source_name: str,
    hide_annotations: bool = False,
) -> Image.Image:
    """Render one 1-based page to an RGB image at ``dpi`` (annotations drawn unless hidden)."""
    _require("pdftoppm")
    try:
        images = convert_from_path(
            path,
            dpi=round(dpi),
            first_page=page_number,
            last_page=page_number,
            fmt="ppm",
            thread_count=1,
            timeout=RENDER_TIMEOUT_S,
            hide_annotations=hide_annotations,
        )
    except PDFPopplerTimeoutError:
        raise BadInputError(
            source_name, f"page {page_number} took over {RENDER_TIMEOUT_S}s to render"
        ) from None
    except (PDFPageCountError, PDFSyntaxError) as exc:
        problem = library_problem(exc, path, source_name)
        raise BadInputError(
            source_name, f"page {page_number} cannot be rendered ({problem})"
        ) from None
    except PDFInfoNotInstalledError:
        raise OcrEngineError("pdfinfo is not installed (Debian package poppler-utils)") from None
    if not images:
        raise BadInputError(source_name, f"page {page_number} rendered to nothing")
    return images[0]


def page_text(path: Path, *, page_number: int, source_name: str, layout: bool = False) -> str:
    """The text a PDF page already carries (NFC), as pdftotext reads it."""
    args = [_require("pdftotext"), "-q", "-enc", "UTF-8", "-f", str(page_number)]
    args += ["-l", str(page_number)]
    if layout:
        args.append("-layout")
    args += [str(path), "-"]
    try:
        done = subprocess.run(args, capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BadInputError(source_name, f"page {page_number}: text extraction timed out") from None
    # pdftotext exits non-zero on damaged files but usually still prints what it could read.
    return unicodedata.normalize("NFC", done.stdout.decode("utf-8", errors="replace"))
