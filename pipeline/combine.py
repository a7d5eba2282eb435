"""Combine pages of several scanned files into one PDF, each page as it was scanned.

A rescan (issue 26) replaces or adds pages of a dossier already taken in: the dossier is
then read from one file holding its pages in order, the kept ones and the rescanned ones.
No page is re-encoded with loss: a PDF page is copied as it is (its scan, its stamps, its
text), a JPEG is placed as its own bytes, a PNG or TIFF frame as its pixels compressed
without loss (1-bit stays 1-bit, grey stays grey: the colour check still sees what the
scanner made). Each image page is sized from the resolution the loader finds for it (the
file's own, or measured from the letters when the file records none), so the combined file
says no more about a page's resolution than the page itself did.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, ImageSequence

from models.errors import BadInputError
from pipeline.context import PageContext
from pipeline.load import MediaType, SourceDocument, load_page

__all__ = ["PagePick", "combine_pages"]


@dataclass(frozen=True)
class PagePick:
    """One page of the combined file: page ``index`` (0-based) of ``source``."""

    source: SourceDocument
    index: int


def combine_pages(picks: Sequence[PagePick], output: Path) -> Path:
    """Write the picked pages, in order, to ``output`` (a PDF); the same picks give the
    same bytes."""
    if not picks:
        raise BadInputError(output.name, "no pages to combine")
    output.parent.mkdir(parents=True, exist_ok=True)
    opened: dict[Path, pikepdf.Pdf] = {}
    try:
        with pikepdf.new() as combined:
            for pick in picks:
                source = pick.source
                if not 0 <= pick.index < source.page_count:
                    raise BadInputError(source.name, f"has no page {pick.index + 1}")
                if source.media_type is MediaType.PDF:
                    pdf = opened.get(source.path)
                    if pdf is None:
                        pdf = opened[source.path] = pikepdf.open(source.path)
                    combined.pages.append(pdf.pages[pick.index])
                else:
                    _append_image_page(combined, source, pick.index)
            combined.save(output, deterministic_id=True)
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise BadInputError(output.name, f"cannot combine the pages ({exc})") from None
    finally:
        for pdf in opened.values():
            pdf.close()
    return output


def _append_image_page(combined: pikepdf.Pdf, source: SourceDocument, index: int) -> None:
    dpi = load_page(source, PageContext(source_name=source.name, page_index=index)).dpi
    with Image.open(source.path) as image:
        frame = ImageSequence.Iterator(image)[index] if index else image
        width, height = frame.size
        if source.media_type is MediaType.JPEG and frame.mode in ("L", "RGB"):
            # The scanner's own JPEG bytes: nothing decoded, nothing lost.
            data, filter_ = source.path.read_bytes(), pikepdf.Name.DCTDecode
            space = pikepdf.Name.DeviceGray if frame.mode == "L" else pikepdf.Name.DeviceRGB
            bits = 8
        else:
            space, bits, raw = _pixels(frame)
            data, filter_ = zlib.compress(raw, 6), pikepdf.Name.FlateDecode
    stream = pikepdf.Stream(
        combined,
        data,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=width,
        Height=height,
        ColorSpace=space,
        BitsPerComponent=bits,
        Filter=filter_,
    )
    size = (width * 72.0 / dpi, height * 72.0 / dpi)
    page = combined.add_blank_page(page_size=size)
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
    page.Contents = combined.make_stream(
        f"q {size[0]:.4f} 0 0 {size[1]:.4f} 0 0 cm /Im0 Do Q".encode()
    )


def _pixels(frame: Image.Image) -> tuple[pikepdf.Name, int, bytes]:
    """(colour space, bits per component, raw rows) of a frame, as the scanner made it."""
    if frame.mode == "1":
        return pikepdf.Name.DeviceGray, 1, frame.tobytes()  # PIL and PDF: 0 is black
    if frame.mode == "L":
        return pikepdf.Name.DeviceGray, 8, frame.tobytes()
    if frame.mode in ("LA", "PA", "RGBA", "P") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(white, rgba)
    return pikepdf.Name.DeviceRGB, 8, frame.convert("RGB").tobytes()
