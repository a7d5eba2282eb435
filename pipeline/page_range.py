"""A dossier's own pages of a scanned stack, as a file of the same kind, losslessly.

A stack (one scanned file holding several citizens' dossiers) stays the batch's untouched
original; each dossier split from it gets its page range as an original of its own, so
handing one citizen's papers to an agency never hands over another citizen's.

A PDF's pages are copied as they are (pikepdf: content streams, images and fonts byte for
byte). A TIFF's frames are copied pixel for pixel with their resolution: 1-bit frames keep
their fax compression, every other frame is stored LZW-compressed, whatever it was. A JPEG
frame is thus not JPEG-encoded a second time (bigger, but not one pixel changed), and a
deflated one is not deflated again: re-deflating an A4 colour scan took 2.6 s a page here,
LZW 0.3 s, for the same size within 1 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image, UnidentifiedImageError

from models.errors import BadInputError
from pipeline.load import MediaType

# Fax compressions, kept for 1-bit frames (far smaller than LZW on black-and-white text).
_BILEVEL = {"group3", "group4"}
# Every other frame: lossless, and quick to write (see the module's docstring).
_LOSSLESS = "tiff_lzw"


def copy_pages(
    source: Path, output: Path, *, media_type: str, pages: Sequence[int], name: str
) -> Path:
    """Write ``pages`` (0-based, in this order) of ``source`` to ``output``.

    ``name`` is the file as the user called it, for the error message. The output is the
    same bytes for the same input (a re-run stores nothing new).
    """
    if not pages:
        raise BadInputError(name, "no pages to copy")
    output.parent.mkdir(parents=True, exist_ok=True)
    if media_type == MediaType.PDF:
        return _pdf_pages(source, output, pages, name)
    if media_type == MediaType.TIFF:
        return _tiff_frames(source, output, pages, name)
    if list(pages) == [0]:
        # A JPEG or PNG is one page: its range is the file itself.
        output.write_bytes(source.read_bytes())
        return output
    raise BadInputError(name, f"a {media_type} file has one page, not pages {list(pages)}")


def _pdf_pages(source: Path, output: Path, pages: Sequence[int], name: str) -> Path:
    try:
        with pikepdf.open(source) as pdf, pikepdf.new() as part:
            count = len(pdf.pages)
            for index in pages:
                if not 0 <= index < count:
                    raise BadInputError(name, f"has {count} pages, no page {index + 1}")
                part.pages.append(pdf.pages[index])
            # Fixed /ID: the same pages give the same bytes, so a re-run stores nothing new.
            part.save(output, deterministic_id=True)
    except pikepdf.PasswordError:
        raise BadInputError(name, "encrypted PDF: it needs a password to open") from None
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise BadInputError(name, f"corrupt PDF: cannot copy its pages ({exc})") from None
    return output


def _tiff_frames(source: Path, output: Path, pages: Sequence[int], name: str) -> Path:
    try:
        with Image.open(source) as image:
            count = int(getattr(image, "n_frames", 1))
            frames: list[Image.Image] = []
            for index in pages:
                if not 0 <= index < count:
                    raise BadInputError(name, f"has {count} pages, no page {index + 1}")
                image.seek(index)
                frame = image.copy()
                frame.encoderinfo = _frame_encoding(image)
                frames.append(frame)
        first, rest = frames[0], frames[1:]
        first.save(output, format="TIFF", save_all=True, append_images=rest, **first.encoderinfo)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadInputError(name, f"corrupt or unreadable image: {exc}") from None
    return output


def _frame_encoding(frame: Image.Image) -> dict[str, Any]:
    """How one frame is written back: losslessly (fax for 1-bit), at its resolution."""
    compression = str(frame.info.get("compression", "raw"))
    bilevel = compression in _BILEVEL and frame.mode == "1"
    encoding: dict[str, Any] = {"compression": compression if bilevel else _LOSSLESS}
    dpi = frame.info.get("dpi")
    if dpi:
        encoding["dpi"] = tuple(float(d) for d in dpi)
    return encoding
