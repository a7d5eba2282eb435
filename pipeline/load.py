"""Load: recognise an input file and turn it into page images, one page at a time.

The original file is never modified; callers store it byte for byte before loading.
Pages are loaded individually (``load_page``) so no stage holds a whole batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
from pikepdf.settings import set_qpdf_limits
from PIL import Image, ImageSequence, UnidentifiedImageError

from models.digest import sha256_file
from models.errors import BadInputError, library_problem
from pipeline import pdf_scan, poppler, wholeness
from pipeline.context import PageContext
from pipeline.pdf_content import (
    MAX_PAGE_CONTENT_BYTES,
    MAX_PAGE_FORMS,
    instructions,
    lzw_filter_named,
    page_content_size,
)
from pipeline.resolution import DpiSource, page_dpi_from_text

# We check sizes ourselves (with a clearer message), so PIL's own bomb guard is off.
Image.MAX_IMAGE_PIXELS = None
# qpdf inflates an object stream whole before it parses it, without a bound: 262 KB of one
# held a 30-million-entry /Kids, 730 MB and 7 s to read. No stream qpdf decodes for sohoa is
# near this (page content is refused past 4 MB, images are read raw or rendered by poppler).
QPDF_MAX_INFLATE = 64 << 20
set_qpdf_limits(flate_max_memory=QPDF_MAX_INFLATE, run_length_max_memory=QPDF_MAX_INFLATE)

# A page "has text" when the PDF already carries at least this many visible characters:
# such pages are not OCRed again (their text is better than any OCR of their rendering).
MIN_EXISTING_TEXT_CHARS = 40

SNIFF_BYTES = 1024

# A recorded resolution below this is not a scanner's: it is a screen's (72, 96), a
# writer's "unknown" (1) or a web copy's. Such pages are measured instead (see
# pipeline/resolution.py); no counter scanner works under 150 dpi.
MIN_PLAUSIBLE_DPI = 150.0
MAX_PLAUSIBLE_DPI = 2400.0


class MediaType(StrEnum):
    PDF = "application/pdf"
    TIFF = "image/tiff"
    JPEG = "image/jpeg"
    PNG = "image/png"


class ColourMode(StrEnum):
    COLOUR = "colour"
    GREY = "grey"
    BILEVEL = "bilevel"


@dataclass(frozen=True)
class SourceDocument:
    """An input file, recognised by its content (never by its name)."""

    path: Path
    name: str  # as the user gave it, for messages and metadata only
    media_type: MediaType
    page_count: int
    size: int
    sha256: str


@dataclass(frozen=True, eq=False)
class LoadedPage:
    index: int
    image: np.ndarray  # uint8, (H, W) grey or (H, W, 3) BGR — OpenCV's convention
    dpi: float
    colour_mode: ColourMode
    dpi_source: DpiSource = DpiSource.FILE
    existing_text: str | None = None  # PDF pages that already carry text
    scanned: bool = True  # the page is a picture of paper (an image file, or a PDF scan)
    recorded_dpi: float | None = None  # what the file said, when it said something implausible
    # The scan's own resolution when the page is read at another: a PDF scan's, rendered at
    # 150 dpi at least; an image's that lost its dpi, from its size (resolution.py). What the
    # archive's 200 dpi rule is judged on, and what the clerk is told.
    scan_dpi: float | None = None

    @property
    def dpi_assumed(self) -> bool:
        return self.dpi_source is not DpiSource.FILE

    @property
    def paper_dpi(self) -> float:
        """The page's pixels per inch of paper: its page size in the archive, and what
        ``clean.ocr_scale`` judges them by. ``dpi`` (what the engine is told), except for an
        image whose size is a scanner's sheet (resolution.py): its pixels are real, its
        letters small type, so it is read as it is and keeps its sheet's size. A balance
        sheet in 10 pt type at 200 dpi, its letters at 148: 8.5 % upsampled to 200, 7.2 %
        as it is (bare Tesseract 7.6 %), and an 8.5 x 11 in page, not 11.5 x 14.9."""
        if self.dpi_source is DpiSource.ESTIMATED and self.scan_dpi is not None:
            return self.scan_dpi
        return self.dpi

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def sniff_media_type(head: bytes) -> MediaType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return MediaType.TIFF
    # Some producers put junk before the header; readers accept it within the first KiB.
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return MediaType.PDF
    return None


def file_sha256(path: Path) -> str:
    return sha256_file(path)[1]


def inspect_source(
    path: Path,
    *,
    name: str | None = None,
    max_pages: int = 2000,
    max_bytes: int = 1 << 30,
    sha256: str | None = None,
) -> SourceDocument:
    """Recognise ``path`` and count its pages, or raise :class:`BadInputError`.

    ``sha256``: the file's digest when the caller took it already (while copying it in);
    else it is taken here."""
    shown = name or path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise BadInputError(shown, "file not found") from None
    except IsADirectoryError:
        raise BadInputError(shown, "is a directory, not a file") from None
    except OSError as exc:
        raise BadInputError(shown, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise BadInputError(shown, "empty file (0 bytes)")
    if size > max_bytes:
        raise BadInputError(shown, f"file too large ({size} bytes, limit {max_bytes})")
    media_type = sniff_media_type(head)
    if media_type is None:
        raise BadInputError(shown, f"not a PDF, TIFF, JPEG or PNG file ({_describe(head)})")
    # Counted only up to the limit: a small file can claim millions of pages.
    if media_type is MediaType.PDF:
        page_count = _pdf_page_count(path, shown, max_pages)
    else:
        page_count = _image_frame_count(path, shown, max_pages, media_type)
    if page_count == 0:
        raise BadInputError(shown, "contains no pages")
    if page_count > max_pages:
        raise BadInputError(shown, f"too many pages (more than {max_pages}, limit {max_pages})")
    return SourceDocument(
        path=path,
        name=shown,
        media_type=media_type,
        page_count=page_count,
        size=size,
        sha256=sha256 or file_sha256(path),
    )


def load_page(source: SourceDocument, context: PageContext) -> LoadedPage:
    """Decode one page of ``source`` at its own resolution."""
    if not 0 <= context.page_index < source.page_count:
        raise IndexError(f"{context.label}: no such page")
    if source.media_type is MediaType.PDF:
        return _load_pdf_page(source, context)
    return _load_image_frame(source, context)


# --- images -------------------------------------------------------------------------------


def _image_frame_count(path: Path, shown: str, max_pages: int, media_type: MediaType) -> int:
    """The frames of an image file, counted up to ``max_pages + 1``.

    PIL's ``n_frames`` walks a TIFF's whole chain of directories at about 0.3 ms each: a
    2 MB file of 20 000 bare directories cost 5 s of a core before the limit refused it.
    """
    try:
        with Image.open(path) as image:
            if media_type is not MediaType.TIFF:
                frames = int(getattr(image, "n_frames", 1))  # read from a header
            else:
                frames = 1
                while frames <= max_pages:
                    try:
                        image.seek(frames)
                    except EOFError:
                        break
                    frames += 1
    # PIL raises TypeError ("Missing dimensions") or KeyError for a TIFF whose directory was
    # cut off: a damaged file like any other, never a crash of the whole batch.
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        if media_type is MediaType.TIFF:
            wholeness.check_tiff_whole(path, shown, max_pages=max_pages)  # says what is cut
        problem = library_problem(exc, path, shown)
        raise BadInputError(shown, f"corrupt or unreadable image ({problem})") from None
    # Readers decode what survives of a cut image and paint the rest: its own end must be there.
    if media_type is MediaType.JPEG:
        wholeness.check_jpeg_whole(path, shown)
    elif media_type is MediaType.PNG:
        wholeness.check_png_whole(path, shown)
    else:
        wholeness.check_tiff_whole(path, shown, max_pages=max_pages)
    return frames


def _load_image_frame(source: SourceDocument, context: PageContext) -> LoadedPage:
    try:
        with Image.open(source.path) as image:
            frame: Image.Image = image
            if context.page_index:
                frame = ImageSequence.Iterator(image)[context.page_index]
            width, height = frame.size
            if width * height > context.max_page_pixels:
                raise BadInputError(
                    source.name,
                    f"page {context.page_index + 1} is {width}x{height} pixels, "
                    f"over the limit of {context.max_page_pixels} pixels",
                )
            recorded = _recorded_dpi(frame.info)
            plain = _plain_jpeg(source.path, frame)
            if plain is not None:
                pixels, mode = plain
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    frame.load()
                pixels, mode = pil_to_array(frame)
    except BadInputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInputError(
            source.name,
            f"page {context.page_index + 1} cannot be decoded"
            f" ({library_problem(exc, source.path, source.name)})",
        ) from None
    _check_minimum_size(source.name, context, pixels)
    scan_dpi: float | None = None
    if recorded is not None and MIN_PLAUSIBLE_DPI <= recorded <= MAX_PLAUSIBLE_DPI:
        dpi, dpi_source = recorded, DpiSource.FILE
    else:
        dpi, dpi_source, scan_dpi = page_dpi_from_text(pixels, context.default_dpi)
    return LoadedPage(
        index=context.page_index,
        image=pixels,
        dpi=dpi,
        colour_mode=mode,
        dpi_source=dpi_source,
        recorded_dpi=recorded if dpi_source is not DpiSource.FILE else None,
        scan_dpi=scan_dpi,
    )


def _plain_jpeg(path: Path, frame: Image.Image) -> tuple[np.ndarray, ColourMode] | None:
    """A grey or colour JPEG decoded by OpenCV: the same libjpeg pixels as PIL's, without
    PIL's copies and channel swap (0.03 s instead of 0.1 s for an A4 page at 200 dpi)."""
    if frame.format != "JPEG" or frame.mode not in ("L", "RGB"):
        return None  # CMYK, YCCK and the rest are PIL's to convert
    grey = frame.mode == "L"
    pixels = pdf_scan.decode_jpeg(np.fromfile(path, dtype=np.uint8), grey=grey, size=frame.size)
    if pixels is None:
        return None
    return pixels, (ColourMode.GREY if grey else ColourMode.COLOUR)


def _recorded_dpi(info: Mapping[Any, Any]) -> float | None:
    raw = info.get("dpi")
    if isinstance(raw, tuple) and raw:
        try:
            value = float(raw[0])
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None
    return None


def pil_to_array(image: Image.Image) -> tuple[np.ndarray, ColourMode]:
    """PIL image in any mode -> uint8 grey or BGR array, plus what the scan was."""
    mode = image.mode
    if mode == "1":
        return np.asarray(image.convert("L")), ColourMode.BILEVEL
    if mode == "L":
        return np.asarray(image), ColourMode.GREY
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        data = np.asarray(image, dtype=np.float64)
        top = data.max() or 1.0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        return np.clip(data * scale, 0, 255).astype(np.uint8), ColourMode.GREY
    if mode in ("LA", "PA", "RGBA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode != "RGB":
        image = image.convert("RGB")  # CMYK, YCbCr, LAB ...
    rgb = np.asarray(image)
    return np.ascontiguousarray(rgb[:, :, ::-1]), ColourMode.COLOUR


def _check_minimum_size(name: str, context: PageContext, pixels: np.ndarray) -> None:
    if pixels.shape[0] < 16 or pixels.shape[1] < 16:
        raise BadInputError(
            name,
            f"page {context.page_index + 1} is only {pixels.shape[1]}x{pixels.shape[0]} pixels,"
            " too small to be a scanned page",
        )


# --- PDF ----------------------------------------------------------------------------------


def _pdf_page_count(path: Path, shown: str, max_pages: int) -> int:
    """The PDF's pages, or ``max_pages + 1`` once its page tree holds more.

    Not by listing them first: qpdf copies every repeated page reference while it lists
    (and pikepdf.open lists them to push inherited attributes down), about 2 KB each, so a
    9 KB file whose compressed /Kids names one page a million times took 2 GB.
    """
    hidden = lzw_filter_named(path)  # before qpdf reads a byte of it
    if hidden is not None:
        raise BadInputError(shown, f"PDF {hidden}: save or print it again as PDF")
    try:
        with pikepdf.open(path, inherit_page_attributes=False) as pdf:
            if _page_tree_exceeds(pdf, max_pages):
                return max_pages + 1
            pages = len(pdf.pages)
            if _rebuilt(pdf):
                _check_rebuilt_pdf_whole(pdf, path, shown, pages, max_pages)
            return pages
    except pikepdf.PasswordError:
        raise BadInputError(shown, "encrypted PDF: it needs a password to open") from None
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        problem = library_problem(exc, path, shown)
        raise BadInputError(shown, f"corrupt or truncated PDF ({problem})") from None


def _rebuilt(pdf: pikepdf.Pdf) -> bool:
    """Whether qpdf had to rebuild the file's cross-reference table to open it."""
    return any("damaged" in w or "reconstruct" in w for w in pdf.get_warnings())


def _check_rebuilt_pdf_whole(
    pdf: pikepdf.Pdf, path: Path, shown: str, pages: int, max_pages: int
) -> None:
    """A PDF qpdf rebuilt is read only when nothing shows it lost pages: its end is there and
    its page list reaches every page object it holds. A cut transfer loses the end (and with
    it, often, the page list: qpdf then builds one from the pages that survived)."""
    found = wholeness.count_page_objects(iter(pdf.objects), limit=max_pages)
    declared = max(found, _largest_page_count(pdf), pages)
    if not wholeness.pdf_end_present(path):
        # A cut file keeps the page entries its writer put first: count the pages whose
        # drawing and images all survived, not the entries (3 entries, 1 page whole).
        readable = sum(wholeness.pdf_page_whole(page) for page in pdf.pages)
        raise wholeness.CutOffFileError(
            shown,
            wholeness.cut_off_problem(readable, declared, "the end of the file is missing"),
            pages_read=readable,
            pages_declared=declared,
        )
    if found > pages:
        raise wholeness.CutOffFileError(
            shown,
            wholeness.cut_off_problem(pages, found, "its page list is damaged"),
            pages_read=pages,
            pages_declared=found,
        )


def _largest_page_count(pdf: pikepdf.Pdf) -> int:
    """The largest /Count a page-tree node of the rebuilt file still declares (0 when none)."""
    try:
        pages = pdf.Root.get("/Pages")
        count = pages.get("/Count", 0) if isinstance(pages, pikepdf.Dictionary) else 0
        return int(count) if isinstance(count, int) and 0 <= int(count) < 1 << 31 else 0
    except (pikepdf.PdfError, AttributeError, TypeError, ValueError):
        return 0


def _page_tree_exceeds(pdf: pikepdf.Pdf, max_pages: int) -> bool:
    """Whether the page tree names more than ``max_pages`` pages (a page named twice counts
    twice, as qpdf counts it), looking at no more than about twice that many entries."""
    budget = 2 * max_pages + 16  # kids looked at: pages and the /Pages nodes between them
    pending: list[pikepdf.Object | None] = [pdf.Root.get("/Pages")]
    seen: set[tuple[int, int]] = set()
    pages = 0
    while pending:
        node = pending.pop()
        kids = node.get("/Kids") if isinstance(node, pikepdf.Dictionary) else None
        if node is None or not isinstance(kids, pikepdf.Array):
            pages += 1
            if pages > max_pages:
                return True
            continue
        if node.is_indirect:  # a direct node is written out whole: it cannot loop
            if node.objgen in seen:
                continue  # a loop: qpdf refuses it when it lists the pages
            seen.add(node.objgen)
        budget -= len(kids)
        if budget < 0:
            return True
        pending.extend(kids)
    return False


def pdf_page_geometry(pdf_page: pikepdf.Page) -> tuple[float, float, int]:
    """Visible width and height in points (before /Rotate) and the page's /Rotate."""
    box = [float(v) for v in pdf_page.cropbox]
    width, height = abs(box[2] - box[0]), abs(box[3] - box[1])
    rotate = int(pdf_page.obj.get("/Rotate", 0)) % 360
    return width, height, rotate


def _largest_image(
    pdf_page: pikepdf.Page, width_pt: float, height_pt: float
) -> tuple[float, ColourMode] | None:
    """Resolution and colour mode of the page's largest image (the scan), if any."""
    best: pikepdf.Object | None = None
    best_pixels = 0
    try:
        for image in pdf_page.get_images().values():
            pixels = int(image.get("/Width", 0)) * int(image.get("/Height", 0))
            if pixels > best_pixels:
                best, best_pixels = image, pixels
        if best is None:
            return None
        size = (int(best.get("/Width", 0)), int(best.get("/Height", 0)))
        mode = _pdf_colour_mode(best)
    except (pikepdf.PdfError, ValueError, TypeError):
        return None
    # Scans fill the page, perhaps rotated: compare long side with long side.
    long_in = max(width_pt, height_pt) / 72.0
    if min(size) <= 0 or long_in <= 0:
        return None
    return max(size) / long_in, mode


def _pdf_colour_mode(image: pikepdf.Object) -> ColourMode:
    if bool(image.get("/ImageMask", False)) or int(image.get("/BitsPerComponent", 8)) == 1:
        return ColourMode.BILEVEL
    space = image.get("/ColorSpace")
    if isinstance(space, pikepdf.Array) and len(space) > 0:
        family = str(space[0])
        if family == "/ICCBased":
            components = int(space[1].get("/N", 3))
            return ColourMode.GREY if components == 1 else ColourMode.COLOUR
        if family == "/Indexed":
            return ColourMode.COLOUR
        space = space[0]
    if str(space) in ("/DeviceGray", "/CalGray"):
        return ColourMode.GREY
    return ColourMode.COLOUR


def _load_pdf_page(source: SourceDocument, context: PageContext) -> LoadedPage:
    number = context.page_index + 1
    try:
        with pikepdf.open(source.path) as pdf:
            pdf_page = pdf.pages[context.page_index]
            if page_content_size(pdf_page) is None:
                # Every later look at the page parses its instructions: measured first.
                raise BadInputError(
                    source.name,
                    f"page {number} draws more than {MAX_PAGE_CONTENT_BYTES >> 20} MB of"
                    f" instructions or {MAX_PAGE_FORMS} forms, too much to read",
                )
            width_pt, height_pt, _rotate = pdf_page_geometry(pdf_page)
            scan = _largest_image(pdf_page, width_pt, height_pt)
            draws_text = page_draws_text(pdf_page)
            dpi = _render_dpi(scan, context)
            if width_pt * height_pt * (dpi / 72.0) ** 2 > context.max_page_pixels:
                raise BadInputError(
                    source.name,
                    f"page {number} is {width_pt:.0f}x{height_pt:.0f} pt; at {dpi:.0f} dpi that"
                    f" is over the limit of {context.max_page_pixels} pixels",
                )
            # A plain scanner's page: its JPEG decoded as it is (the scan's own pixels, no
            # renderer: a tenth of the time).
            plain = pdf_scan.embedded_scan(pdf_page, dpi) if scan is not None else None
    except pikepdf.PasswordError:
        raise BadInputError(source.name, "encrypted PDF: it needs a password to open") from None
    except pdf_scan.CutOffScanError:
        raise BadInputError(
            source.name, f"page {number} is cut off: its scan stops before its end; scan it again"
        ) from None
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        problem = library_problem(exc, source.path, source.name)
        raise BadInputError(source.name, f"page {number} is corrupt ({problem})") from None
    image_dpi = scan[0] if scan else None
    # A scan's annotations (e-signature stamps laid on by a signing system) are not paper:
    # OCR reads the scan alone, and the archive keeps the stamps as vector content.
    if plain is not None:
        pixels, mode = plain, (ColourMode.GREY if plain.ndim == 2 else ColourMode.COLOUR)
    else:
        rendered = poppler.render_page(
            source.path,
            page_number=number,
            dpi=dpi,
            source_name=source.name,
            hide_annotations=scan is not None,
        )
        pixels, mode = pil_to_array(rendered)
    if scan is not None:
        mode = scan[1]  # the scan's own colour space, not poppler's RGB rendering
    # Only text the page itself draws counts (pdftotext also reads annotations' stamps).
    existing = (
        poppler.page_text(source.path, page_number=number, source_name=source.name)
        if draws_text
        else ""
    )
    has_text = len("".join(existing.split())) >= MIN_EXISTING_TEXT_CHARS
    _check_minimum_size(source.name, context, pixels)
    return LoadedPage(
        index=context.page_index,
        image=pixels,
        dpi=dpi,
        colour_mode=mode,
        dpi_source=DpiSource.FILE if image_dpi is not None else DpiSource.ASSUMED,
        existing_text=existing if has_text else None,
        scanned=scan is not None,
        scan_dpi=float(round(image_dpi)) if image_dpi is not None else None,
    )


def _render_dpi(scan: tuple[float, ColourMode] | None, context: PageContext) -> float:
    dpi = float(round(scan[0])) if scan else context.default_dpi
    # Never render beyond 600 dpi (nothing is scanned finer) nor below 150 (unreadable).
    return min(max(dpi, 150.0), 600.0)


_SHOW_TEXT = frozenset({"Tj", "TJ", "'", '"'})


def page_draws_text(pdf_page: pikepdf.Page) -> bool:
    """Does the page's own content (its streams and the forms they draw) show any text?"""
    seen: set[tuple[int, int]] = set()

    def draws(container: pikepdf.Page | pikepdf.Object, resources: pikepdf.Object | None) -> bool:
        for op, operands in instructions(container, "Tj TJ ' \" Do"):
            if op in _SHOW_TEXT:
                return True
            if op == "Do" and resources is not None and operands:
                xobjects = resources.get("/XObject")
                name = str(operands[0])
                xobject = xobjects.get(name) if xobjects is not None else None
                if (
                    isinstance(xobject, pikepdf.Stream)
                    and xobject.get("/Subtype") == pikepdf.Name.Form
                    and xobject.objgen not in seen
                ):
                    seen.add(xobject.objgen)
                    if draws(xobject, xobject.get("/Resources") or resources):
                        return True
        return False

    return draws(pdf_page, pdf_page.obj.get("/Resources"))


def _describe(head: bytes) -> str:
    if not head.strip():
        return "content is blank"
    try:
        head.decode("utf-8")
        return "looks like a text file"
    except UnicodeDecodeError:
        return f"content starts with {head[:8].hex(' ')}"
