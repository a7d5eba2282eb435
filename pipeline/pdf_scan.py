"""A scanner's PDF page read without rendering: its one JPEG, decoded as it is.

Most counter scanners write a page as one JPEG drawn over the whole page and nothing else.
Rendering such a page with ``pdftoppm`` starts two programs, decodes the JPEG, resamples it
to the requested resolution and pipes a raw bitmap back; that cost 0.30 s a page on the
speed set of ``bench/ocr.py``, a quarter of what Tesseract needs to read it. Decoding the
JPEG here gives the scan's own pixels (no resampling) in a few hundredths of a second.

Anything else is left to the renderer, which stays the reference: another filter (JBIG2,
CCITT, Flate), a colour space that needs converting (CMYK, Lab, Indexed, a /Decode array),
transparency, a page turned by /Rotate, an image flipped, cropped or not filling the page,
any other drawing operator, or a JPEG whose decoded size is not the one the PDF declares.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pikepdf
from PIL import Image

from pipeline import wholeness
from pipeline.pdf_content import page_content_size

# The only operators a plain scanned page needs: save/restore state, place, draw.
_PLAIN_OPERATORS = frozenset({"q", "Q", "cm", "Do"})
# A plain scan's page draws one image in a few dozen bytes ("q 595 0 0 842 0 0 cm /Im0 Do Q").
_PLAIN_CONTENT_BYTES = 4096
# How far (in points) the drawn image may be from the page's crop box: writers round.
_PLACEMENT_TOLERANCE_PT = 1.0


class CutOffScanError(Exception):
    """The page's JPEG lost its end: what survives would be read as if it were the page."""


def embedded_scan(pdf_page: pikepdf.Page, dpi: float) -> np.ndarray | None:
    """The page's scan as a grey or BGR array, when the page is one JPEG and nothing else.

    ``dpi`` is the resolution the caller would render at; the scan is used only when its
    own resolution rounds to it (so nothing would be resampled). None: render instead.
    """
    try:
        return _plain_scan(pdf_page, dpi)
    except (pikepdf.PdfError, ValueError, TypeError, KeyError, AttributeError, cv2.error):
        return None  # anything unexpected: the renderer knows PDF better than this does


def _plain_scan(pdf_page: pikepdf.Page, dpi: float) -> np.ndarray | None:
    if int(pdf_page.obj.get("/Rotate", 0)) % 360 != 0:
        return None
    if page_content_size(pdf_page, _PLAIN_CONTENT_BYTES) is None:
        return None  # more than placing one image: and parsing all of it costs
    placed = _single_image_placement(pdf_page)
    if placed is None:
        return None
    name, matrix = placed
    resources = pdf_page.obj.get("/Resources")
    xobjects = resources.get("/XObject") if resources is not None else None
    image = xobjects.get(name) if xobjects is not None else None
    if not isinstance(image, pikepdf.Stream) or image.get("/Subtype") != pikepdf.Name.Image:
        return None
    components = _jpeg_components(image)
    if components is None:
        return None
    width, height = int(image["/Width"]), int(image["/Height"])
    if not _fills_page(pdf_page, matrix):
        return None
    a, _b, _c, d, _e, _f = matrix
    dpi_x, dpi_y = width / (a / 72.0), height / (d / 72.0)
    if round(dpi_x) != round(dpi) or abs(dpi_x - dpi_y) > 0.01 * dpi_x:
        return None
    raw = bytes(image.read_raw_bytes())
    if not wholeness.jpeg_is_whole(raw):
        # OpenCV and the renderer would both paint the missing rows grey and carry on.
        raise CutOffScanError("the page's scan stops before its end")
    if _jpeg_size(raw) != (width, height):
        return None  # the page-size limit was checked on the declared size: decode no other
    return decode_jpeg(
        np.frombuffer(raw, dtype=np.uint8), grey=components == 1, size=(width, height)
    )


def decode_jpeg(data: np.ndarray, *, grey: bool, size: tuple[int, int]) -> np.ndarray | None:
    """A JPEG's bytes decoded by OpenCV to grey or BGR, as stored: EXIF turns are not
    applied (PIL and PDF viewers do not either). None unless it is ``size`` (width, height)."""
    flags = cv2.IMREAD_IGNORE_ORIENTATION | (cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    pixels = cv2.imdecode(data, flags)
    if pixels is None or pixels.shape[:2] != (size[1], size[0]):
        return None
    return pixels


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's header, nothing decoded."""
    try:
        with Image.open(io.BytesIO(raw)) as header:
            return header.size if header.format == "JPEG" else None
    except (OSError, SyntaxError, ValueError):
        return None


def _jpeg_components(image: pikepdf.Stream) -> int | None:
    """1 or 3 for a plain 8-bit grey or RGB JPEG, else None."""
    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        if len(filters) != 1:
            return None
        filters = filters[0]
    if filters != pikepdf.Name.DCTDecode:
        return None
    if any(key in image for key in ("/Decode", "/SMask", "/Mask", "/DecodeParms")):
        return None
    if bool(image.get("/ImageMask", False)) or int(image.get("/BitsPerComponent", 8)) != 8:
        return None
    space = image.get("/ColorSpace")
    if space == pikepdf.Name.DeviceGray:
        return 1
    if space == pikepdf.Name.DeviceRGB:
        return 3
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == pikepdf.Name.ICCBased:
        components = int(space[1].get("/N", 0))
        return components if components in (1, 3) else None
    return None


def _single_image_placement(
    pdf_page: pikepdf.Page,
) -> tuple[str, tuple[float, float, float, float, float, float]] | None:
    """(XObject name, matrix it is drawn with) when the page draws exactly one XObject."""
    stack: list[np.ndarray] = []
    current = np.eye(3)
    drawn: tuple[str, np.ndarray] | None = None
    for instruction in pikepdf.parse_content_stream(pdf_page):
        op = str(instruction.operator)
        if op not in _PLAIN_OPERATORS:
            return None
        if op == "q":
            stack.append(current)
        elif op == "Q":
            if not stack:
                return None
            current = stack.pop()
        elif op == "cm":
            a, b, c, d, e, f = (float(v) for v in instruction.operands)
            current = np.array([[a, b, 0.0], [c, d, 0.0], [e, f, 1.0]]) @ current
        elif op == "Do":
            if drawn is not None:
                return None
            drawn = (str(instruction.operands[0]), current)
    if drawn is None:
        return None
    name, m = drawn
    return name, (m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[2, 0], m[2, 1])


def _fills_page(
    pdf_page: pikepdf.Page, matrix: tuple[float, float, float, float, float, float]
) -> bool:
    """The unit square drawn upright (not turned or flipped) exactly over the page.

    The renderer draws the media box and the resolution is measured on the crop box: a
    plain scan's page has both the same, and the image over all of it.
    """
    a, b, c, d, e, f = matrix
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
        return False
    return all(_covers(box, (e, f, e + a, f + d)) for box in (pdf_page.mediabox, pdf_page.cropbox))


def _covers(box: pikepdf.Array, drawn: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = (float(v) for v in box)
    wanted = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return all(
        abs(got - want) <= _PLACEMENT_TOLERANCE_PT for got, want in zip(drawn, wanted, strict=True)
    )
