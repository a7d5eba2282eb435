"""Whole or refused: a file that lost its end (an interrupted transfer, a scanner that died
mid-write) is named as cut off, never read as the pages that happen to survive.

Every library sohoa reads with is built to be forgiving: qpdf rebuilds a PDF's cross-reference
table from the objects it finds and shows the pages that survived (the sample dossier cut to
40 % of its bytes opened as a clean one-page PDF), OpenCV decodes a JPEG missing its last
rows and paints them grey. Forgiving is right for showing a file; for archiving a citizen's
dossier it loses papers without a word. So before any page is read the file's own structure
must say it is whole:

- PDF: the end of the file is there (``startxref`` and ``%%EOF`` in its last kilobyte, where
  readers look for them), and when qpdf had to rebuild the file the pages it found are every
  page the file holds;
- JPEG: the image ends (its End Of Image marker follows the last scan);
- PNG: the ``IEND`` chunk is there;
- TIFF: every directory in the chain, and every strip or tile it names, lies inside the file.

Each check reads the file's own markers: at most the file once (by ``mmap``, not into memory)
and a bounded number of directory entries, whatever the file claims.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pikepdf

from models.errors import BadInputError
from pipeline.pdf_content import page_content_size

__all__ = [
    "CutOffFileError",
    "check_jpeg_whole",
    "check_png_whole",
    "check_tiff_whole",
    "cut_off_problem",
    "jpeg_is_whole",
    "pdf_end_present",
]

# Where a PDF reader looks for the file's trailer: ISO 32000 readers search the last 1024
# bytes for %%EOF; a little more allows for the padding some writers leave after it.
PDF_TAIL_BYTES = 2048
# A TIFF directory with more entries than this is not a scanner's (they write 10-30).
MAX_TIFF_ENTRIES = 4096
# Strips or tiles of one page: a 200-megapixel page cut in one-row strips has ~20,000.
MAX_TIFF_PARTS = 1 << 18


class CutOffFileError(BadInputError):
    """The file ends before its own structure does: pages or parts of pages are missing."""

    def __init__(self, source: str, problem: str, *, pages_read: int, pages_declared: int | None):
        super().__init__(source, problem)
        self.pages_read = pages_read
        self.pages_declared = pages_declared


def cut_off_problem(pages_read: int, pages_declared: int | None, what: str) -> str:
    """The one line a clerk is shown (translated through the message catalogue's
    ``truncated file`` entry): how much could be read and what to do."""
    if pages_declared == 1 and pages_read == 0:
        return f"truncated file: the image is cut off ({what}); send the file again"
    if pages_declared is not None and pages_declared > pages_read:
        read = f"only {pages_read} of {pages_declared} pages can be read"
    else:
        read = f"{pages_read} page{'s' if pages_read != 1 else ''} read, the rest is lost"
    return f"truncated file: {read} ({what}); send the file again"


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap]:
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data


# --- PDF ------------------------------------------------------------------------------------


def pdf_end_present(path: Path) -> bool:
    """Whether the PDF still has its end: ``startxref`` and ``%%EOF`` in its last bytes."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        stream.seek(max(0, size - PDF_TAIL_BYTES))
        tail = stream.read(PDF_TAIL_BYTES)
    end = tail.rfind(b"%%EOF")
    return end >= 0 and tail.rfind(b"startxref", 0, end) >= 0


def count_page_objects(objects: Iterator[object], *, limit: int) -> int:
    """Page dictionaries among a PDF's objects (``/Type /Page``), counted up to ``limit``.

    Used only when qpdf rebuilt the file: a page object that the rebuilt page tree does not
    reach is a page the file holds and sohoa would silently drop."""
    found = 0
    for number, obj in enumerate(objects):
        if number > limit * 64:  # a bounded walk: a scan's PDF holds a few objects a page
            break
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.Page:
            found += 1
            if found > limit:
                break
    return found


def pdf_page_whole(page: pikepdf.Page) -> bool:
    """Whether a page of a rebuilt PDF still has every stream it draws: its content and the
    images and forms it names, each readable, a JPEG to its end."""
    try:
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        resources = page.obj.get("/Resources")
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if isinstance(xobjects, pikepdf.Dictionary):
            streams += [xobjects[name] for name in xobjects.keys()]  # noqa: SIM118
        for stream in streams:
            if not isinstance(stream, pikepdf.Stream):
                return False  # a reference to an object the cut removed
            raw = stream.read_raw_bytes()
            jpeg = stream.get("/Filter") == pikepdf.Name.DCTDecode
            if jpeg and not jpeg_is_whole(bytes(raw)):
                return False
        # qpdf drops a named image whose object the cut removed: the page still says to draw
        # it. Its drawing is measured before it is parsed (at most 4 MB, pipeline.pdf_content).
        if page_content_size(page) is None:
            return False
        named = set(xobjects.keys()) if isinstance(xobjects, pikepdf.Dictionary) else set()
        drawn = {str(op.operands[0]) for op in pikepdf.parse_content_stream(page, "Do")}
        return drawn <= named
    except (pikepdf.PdfError, ValueError, TypeError, KeyError):
        return False


# --- JPEG -----------------------------------------------------------------------------------


def jpeg_is_whole(data: bytes | bytearray | memoryview | mmap.mmap) -> bool:
    """Whether a JPEG's End Of Image marker follows its last scan.

    Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so
    an FF D9 after the last Start Of Scan (FF DA) can only be the image's end; a thumbnail's
    own FF D9 in an EXIF block comes before the main image's first scan."""
    view = data if isinstance(data, mmap.mmap) else bytes(data)
    last_scan = view.rfind(b"\xff\xda")
    return last_scan >= 0 and view.rfind(b"\xff\xd9") > last_scan


def check_jpeg_whole(path: Path, shown: str) -> None:
    with _mapped(path) as data:
        whole = jpeg_is_whole(data)
    if not whole:
        raise CutOffFileError(
            shown,
            cut_off_problem(0, 1, "the image stops before its end"),
            pages_read=0,
            pages_declared=1,
        )


# --- PNG ------------------------------------------------------------------------------------


def check_png_whole(path: Path, shown: str) -> None:
    with _mapped(path) as data:
        whole = data.rfind(b"\x00\x00\x00\x00IEND") >= 8
    if not whole:
        raise CutOffFileError(
            shown,
            cut_off_problem(0, 1, "the image stops before its end"),
            pages_read=0,
            pages_declared=1,
        )


# --- TIFF -----------------------------------------------------------------------------------

_STRIP_OR_TILE_OFFSETS = (273, 324)  # StripOffsets, TileOffsets
_STRIP_OR_TILE_COUNTS = (279, 325)  # StripByteCounts, TileByteCounts
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8}


def check_tiff_whole(path: Path, shown: str, *, max_pages: int) -> None:
    """Every directory of the chain, and every strip or tile they name, inside the file.

    Walks at most ``max_pages + 1`` directories (the caller's page limit refuses more)."""
    with _mapped(path) as data:
        problem = _tiff_problem(data, max_pages)
    if problem is not None:
        pages_read, what = problem
        raise CutOffFileError(
            shown,
            cut_off_problem(pages_read, None, what),
            pages_read=pages_read,
            pages_declared=None,
        )


def _tiff_problem(data: mmap.mmap, max_pages: int) -> tuple[int, str] | None:
    """(whole pages before the damage, what is wrong), or None when the file is whole."""
    size = len(data)
    if size < 8:
        return 0, "no image directory"
    order = "<" if data[:2] == b"II" else ">"
    version = struct.unpack_from(order + "H", data, 2)[0]
    big = version == 43
    if big:
        if size < 16:
            return 0, "no image directory"
        offset = struct.unpack_from(order + "Q", data, 8)[0]
    else:
        offset = struct.unpack_from(order + "I", data, 4)[0]
    pages = 0
    seen: set[int] = set()
    while offset:
        if pages > max_pages or offset in seen:
            return None  # the page limit or the loop check elsewhere says what is wrong
        seen.add(offset)
        entry_size, count_format, count_size = (20, "Q", 8) if big else (12, "H", 2)
        if offset + count_size > size:
            return pages, f"image directory {pages + 1} is past the end of the file"
        entries = struct.unpack_from(order + count_format, data, offset)[0]
        if entries > MAX_TIFF_ENTRIES:
            return pages, f"image directory {pages + 1} is damaged"
        end = offset + count_size + entries * entry_size
        next_size = 8 if big else 4
        if end + next_size > size:
            return pages, f"image directory {pages + 1} is past the end of the file"
        parts: dict[int, np.ndarray] = {}
        for index in range(entries):
            at = offset + count_size + index * entry_size
            if big:
                tag, kind, count = struct.unpack_from(order + "HHQ", data, at)
                value_at, inline = at + 12, 8
            else:
                tag, kind, count = struct.unpack_from(order + "HHI", data, at)
                value_at, inline = at + 8, 4
            if tag not in _STRIP_OR_TILE_OFFSETS + _STRIP_OR_TILE_COUNTS:
                continue
            item = _TYPE_SIZES.get(kind, 0)
            if item not in (2, 4, 8) or count > MAX_TIFF_PARTS:
                return pages, f"page {pages + 1}'s image parts are damaged"
            if item * count > inline:
                value_at = struct.unpack_from(order + ("Q" if big else "I"), data, value_at)[0]
            if value_at + item * count > size:
                return pages, f"page {pages + 1}'s image parts are past the end of the file"
            dtype = np.dtype(f"{order}u{item}")
            # A slice of the mapping is a copy (at most 2 MB): no view may outlive the mapping.
            parts[tag] = np.frombuffer(data[value_at : value_at + item * count], dtype=dtype)
        for offsets_tag, counts_tag in zip(
            _STRIP_OR_TILE_OFFSETS, _STRIP_OR_TILE_COUNTS, strict=True
        ):
            starts, lengths = parts.get(offsets_tag), parts.get(counts_tag)
            if starts is None or lengths is None:
                continue
            shared = min(len(starts), len(lengths))
            ends = starts[:shared].astype(np.uint64) + lengths[:shared].astype(np.uint64)
            if shared and int(ends.max()) > size:
                return pages, f"page {pages + 1} stops before its end"
        pages += 1
        offset = struct.unpack_from(order + ("Q" if big else "I"), data, end)[0]
    return None
