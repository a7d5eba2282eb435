"""Tesseract, through pytesseract: the one module that runs it.

Explicit keywords in, plain results out; Tesseract's failure modes become
:class:`~models.errors.OcrEngineError` subclasses with a readable message.
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytesseract
from pytesseract.pytesseract import run_tesseract

from models.errors import OcrEngineError, OcrTimeoutError

# Tesseract's OpenMP threads fight each other when several pages run at once; one thread
# per process and pages in parallel is several times faster (see DEVELOPERS.md).
os.environ["OMP_THREAD_LIMIT"] = "1"


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    try:
        return frozenset(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError:
        raise OcrEngineError(
            "tesseract is not installed (Debian packages tesseract-ocr tesseract-ocr-vie)"
        ) from None


def check_languages(lang: str) -> None:
    missing = [part for part in lang.split("+") if part not in installed_languages()]
    if missing:
        raise OcrEngineError(
            f"Tesseract language data not installed: {', '.join(missing)} "
            f"(installed: {', '.join(sorted(installed_languages()))})"
        )


def recognise_tsv(
    image: np.ndarray,
    *,
    lang: str,
    dpi: float | None,
    psm: int = 3,
    timeout_s: float = 180.0,
    label: str = "page",
) -> str:
    """OCR one grey image; Tesseract's TSV (words with boxes, confidences, line keys).

    ``dpi`` None lets Tesseract estimate the resolution from the letters itself, as it does
    for a file that records none.
    """
    check_languages(lang)
    with tempfile.TemporaryDirectory(prefix="sohoa-tess-") as tmp:
        source = Path(tmp) / "page.png"
        # PNG level 1: the file is read back at once, speed beats size.
        if not cv2.imwrite(str(source), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OcrEngineError(f"{label}: could not write the image for Tesseract")
        base = Path(tmp) / "out"
        config = (
            f"--psm {psm} {f'--dpi {round(dpi)} ' if dpi else ''}"
            "-c tessedit_create_tsv=1 -c tessedit_create_txt=0 -c tessedit_do_invert=0"
        )
        try:
            run_tesseract(
                str(source),
                str(base),
                extension="tsv",
                lang=lang,
                config=config,
                timeout=max(1, round(timeout_s)),
            )
        except pytesseract.TesseractNotFoundError:
            raise OcrEngineError(
                "tesseract is not installed (Debian packages tesseract-ocr tesseract-ocr-vie)"
            ) from None
        except pytesseract.TesseractError as exc:
            raise OcrEngineError(f"{label}: Tesseract failed ({_one_line(exc.message)})") from None
        except RuntimeError as exc:
            if "timeout" in str(exc).lower():
                raise OcrTimeoutError(
                    f"{label}: OCR took longer than {timeout_s:.0f}s and was stopped"
                ) from None
            raise
        try:
            return base.with_suffix(".tsv").read_text(encoding="utf-8")
        except OSError as exc:
            raise OcrEngineError(f"{label}: Tesseract produced no output ({exc})") from None


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_CONFIDENCE = re.compile(r"Orientation confidence:\s*([\d.]+)")


def detect_rotation(image: np.ndarray, *, timeout_s: float = 30.0) -> tuple[int, float] | None:
    """Tesseract's OSD: (clockwise rotation to apply, confidence), or None if it cannot tell."""
    if "osd" not in installed_languages():
        return None
    try:
        report = pytesseract.image_to_osd(
            image, config="--psm 0 -c min_characters_to_try=20", timeout=max(1, round(timeout_s))
        )
    except (pytesseract.TesseractError, RuntimeError):
        return None  # too little text for OSD is the usual reason: not an error for us
    rotate, confidence = _ROTATE.search(report), _CONFIDENCE.search(report)
    if not rotate or not confidence:
        return None
    return int(rotate.group(1)) % 360, float(confidence.group(1))


def _one_line(message: object) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-2:]) if lines else "no message"
