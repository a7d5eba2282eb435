"""Assemble: one searchable PDF per dossier — original page images, invisible text on top.

The scanned pixels go into the PDF untouched: JPEG scans are embedded byte for byte,
lossless scans losslessly, and pages of a PDF input are copied as they are. The text
layer Tesseract made for the *cleaned* page is laid over the original through the inverse
of the cleaning transform, and the page's ``/Rotate`` turns it upright for display, so
rotation and deskew never resample the archived image.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
from PIL import Image, ImageSequence

from models.errors import BadInputError, library_problem
from models.pagerecord import OcrWord, PageRecord
from pipeline.glyphless import FONT_RESOURCE, make_font
from pipeline.load import MediaType, SourceDocument, pdf_page_geometry
from pipeline.textlayer import lines_from_words, rows_across_blocks, text_layer_content

CHUNK_PAGES = 16  # image pages held in memory at most while assembling


@dataclass(frozen=True)
class PageLayer:
    """What assembly needs to know about one processed page (no pixels; no file)."""

    index: int
    dpi: float  # resolution the original page was loaded at
    width_px: int  # size of the loaded original page
    height_px: int
    rotation: int  # clockwise degrees to display the page upright
    to_cleaned: tuple[float, ...]  # 3x3 row-major, original px -> cleaned px
    # OCR words of the cleaned page, laid over it as invisible text; none: no text layer
    # (the PDF page's text is kept, or OCR read nothing).
    words: tuple[OcrWord, ...] = ()
    # The PDF page's own text was judged bad (someone's old OCR): the copy shows none of it.
    drop_page_text: bool = False


_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def page_layer(record: PageRecord, *, dpi: float, width_px: int, height_px: int) -> PageLayer:
    """The layer of a page from its record and the original's size and resolution (which
    the record does not hold: they are the page's, kept with ``models.PageInfo``)."""
    return PageLayer(
        index=record.index,
        dpi=dpi,
        width_px=width_px,
        height_px=height_px,
        rotation=record.rotation or 0,
        to_cleaned=record.to_cleaned or _IDENTITY,
        words=record.words,
        drop_page_text=record.drop_page_text,
    )


@dataclass(frozen=True)
class DocumentInfo:
    title: str
    subject: str = ""
    keywords: str = ""
    producer: str = "sohoa"


def _display_to_user(box: tuple[float, float, float, float], rotate: int, dpi: float) -> np.ndarray:
    """3x3 from pixels of the page as rendered (after /Rotate) to PDF user space."""
    x0, y0, x1, y1 = box
    k = 72.0 / dpi
    if rotate == 90:
        return np.array([[0, k, x0], [k, 0, y0], [0, 0, 1]])
    if rotate == 180:
        return np.array([[-k, 0, x1], [0, k, y0], [0, 0, 1]])
    if rotate == 270:
        return np.array([[0, -k, x1], [-k, 0, y1], [0, 0, 1]])
    return np.array([[k, 0, x0], [0, -k, y1], [0, 0, 1]])


def cleaned_to_user_matrix(
    layer: PageLayer, box: tuple[float, float, float, float], existing_rotate: int
) -> np.ndarray:
    """3x3 from cleaned-image pixels (where the OCR boxes are) to the output page's space."""
    cleaned_to_original = np.linalg.inv(np.array(layer.to_cleaned, dtype=np.float64).reshape(3, 3))
    return _display_to_user(box, existing_rotate, layer.dpi) @ cleaned_to_original


def _add_text_layer(
    out: pikepdf.Pdf,
    font: pikepdf.Dictionary,
    page: pikepdf.Page,
    layer: PageLayer,
    box: tuple[float, float, float, float],
    existing_rotate: int,
) -> None:
    lines = rows_across_blocks(lines_from_words(layer.words))
    if not lines:
        return
    content = text_layer_content(lines, cleaned_to_user_matrix(layer, box, existing_rotate))
    resources = page.obj.get("/Resources")
    if resources is None:
        page.obj.Resources = resources = pikepdf.Dictionary()
    fonts = resources.get("/Font")
    if fonts is None:
        resources.Font = fonts = pikepdf.Dictionary()
    fonts[FONT_RESOURCE] = font
    # Isolate the original content's graphics state so ours starts from the default.
    page.contents_add(pikepdf.Stream(out, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(out, b"Q\nq\n" + content + b"Q\n"))


def _png_stream(out: pikepdf.Pdf, data: bytes) -> pikepdf.Stream | None:
    """A PNG's compressed pixels are PDF Flate data with PNG predictors: embed them as is.

    Only for what PDF can show directly: 8-bit (or less) grey, RGB or palette, not
    interlaced, no alpha. Anything else returns None and is re-encoded losslessly.
    """
    position = 8
    header: tuple[int, ...] | None = None
    palette = b""
    idat: list[bytes] = []
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = (
                int.from_bytes(body[0:4], "big"),
                int.from_bytes(body[4:8], "big"),
                body[8],
                body[9],
                body[12],
            )
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            return None  # transparency: must be flattened
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None or not idat:
        return None
    width, height, depth, colour_type, interlace = header
    if interlace or depth not in (1, 2, 4, 8) or colour_type not in (0, 2, 3):
        return None
    if colour_type == 2 and depth != 8:
        return None
    colors = 3 if colour_type == 2 else 1
    stream = pikepdf.Stream(out, b"".join(idat))
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = width, height
    stream.BitsPerComponent = depth
    if colour_type == 3:
        if not palette:
            return None
        stream.ColorSpace = pikepdf.Array(
            [
                pikepdf.Name.Indexed,
                pikepdf.Name.DeviceRGB,
                len(palette) // 3 - 1,
                pikepdf.String(palette),
            ]
        )
    else:
        stream.ColorSpace = pikepdf.Name.DeviceRGB if colour_type == 2 else pikepdf.Name.DeviceGray
    stream.Filter = pikepdf.Name.FlateDecode
    stream.DecodeParms = pikepdf.Dictionary(
        Predictor=15, Colors=colors, BitsPerComponent=depth, Columns=width
    )
    return stream


def _image_stream(out: pikepdf.Pdf, image: Image.Image, original: bytes | None) -> pikepdf.Stream:
    """Embed without loss: JPEG and PNG data as is, everything else Flate-compressed pixels."""
    if original is not None and original.startswith(b"\x89PNG"):
        stream = _png_stream(out, original)
        if stream is not None:
            return stream
        image.load()
        original = None
    jpeg_bytes = original
    if jpeg_bytes is not None:
        colour = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}.get(image.mode)
        if colour is not None:
            stream = pikepdf.Stream(out, jpeg_bytes)
            stream.Type = pikepdf.Name.XObject
            stream.Subtype = pikepdf.Name.Image
            stream.Width, stream.Height = image.size
            stream.ColorSpace = pikepdf.Name(colour)
            stream.BitsPerComponent = 8
            stream.Filter = pikepdf.Name.DCTDecode
            if image.mode == "CMYK" and "adobe" in image.info:
                # Adobe-written CMYK JPEGs store inverted values.
                stream.Decode = pikepdf.Array([1, 0, 1, 0, 1, 0, 1, 0])
            return stream
    bits = 8
    if image.mode == "1":
        bits, colour = 1, "/DeviceGray"
        raw = image.tobytes()
    elif image.mode == "L":
        colour, raw = "/DeviceGray", image.tobytes()
    elif image.mode == "CMYK":
        colour, raw = "/DeviceCMYK", image.tobytes()
    else:
        from pipeline.load import pil_to_array

        pixels, _ = pil_to_array(image)
        if pixels.ndim == 2:
            colour, raw = "/DeviceGray", pixels.tobytes()
        else:
            colour, raw = "/DeviceRGB", np.ascontiguousarray(pixels[:, :, ::-1]).tobytes()
    # Level 3: scans are noisy, higher levels buy ~3 % size for twice the time.
    stream = pikepdf.Stream(out, zlib.compress(raw, 3))
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = image.size
    stream.ColorSpace = pikepdf.Name(colour)
    stream.BitsPerComponent = bits
    stream.Filter = pikepdf.Name.FlateDecode
    return stream


def _iter_source_images(source: SourceDocument) -> Iterable[tuple[Image.Image, bytes | None]]:
    """Each page of an image source, with the file's bytes when they can be embedded as is."""
    passthrough = None
    if source.media_type in (MediaType.JPEG, MediaType.PNG):
        passthrough = source.path.read_bytes()
    with Image.open(source.path) as image:
        for frame in ImageSequence.Iterator(image):
            if passthrough is None or source.media_type is not MediaType.PNG:
                frame.load()
            yield frame, passthrough


def _image_page(
    out: pikepdf.Pdf,
    font: pikepdf.Dictionary,
    layer: PageLayer,
    image: Image.Image,
    jpeg: bytes | None,
) -> None:
    width_pt = layer.width_px * 72.0 / layer.dpi
    height_pt = layer.height_px * 72.0 / layer.dpi
    page = out.add_blank_page(page_size=(width_pt, height_pt))
    name = page.add_resource(_image_stream(out, image, jpeg), pikepdf.Name.XObject, prefix="Scan")
    page.contents_add(
        pikepdf.Stream(out, f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm {name} Do Q\n".encode())
    )
    box = (0.0, 0.0, width_pt, height_pt)
    if layer.words:
        _add_text_layer(out, font, page, layer, box, 0)
    if layer.rotation:
        page.obj.Rotate = layer.rotation


def assemble_searchable_pdf(
    source: SourceDocument,
    layers: list[PageLayer],
    output: Path,
    info: DocumentInfo,
) -> None:
    """Write a searchable PDF of the source pages named by ``layers``, in that order.

    A dossier split from a stack names only its own pages.
    """
    by_index = {layer.index: layer for layer in layers}
    order = [layer.index for layer in layers]
    if len(by_index) != len(layers) or not all(0 <= i < source.page_count for i in order):
        raise ValueError(f"{source.name}: assembly needs distinct pages of the file, got {order}")
    output.parent.mkdir(parents=True, exist_ok=True)
    if source.media_type is MediaType.PDF:
        # Pages copied from the source stay backed by the source file (kept open until the
        # save): no memory growth, whatever the page count.
        try:
            src = pikepdf.open(source.path)
        except pikepdf.PdfError as exc:
            problem = library_problem(exc, source.path, source.name)
            raise BadInputError(source.name, f"corrupt PDF ({problem})") from None
        with src:
            out = pikepdf.new()
            try:
                _copy_pdf_pages(out, make_font(out), src, [by_index[i] for i in order])
                _save(out, output, info)
            finally:
                out.close()
        return
    # Image sources: embedded pixels would pile up in memory until the final save, so
    # write them CHUNK_PAGES at a time and merge the parts (file-backed) at the end.
    parts: list[Path] = []
    try:
        out = pikepdf.new()
        font = make_font(out)
        wanted = iter(order)
        next_index = next(wanted, None)
        if order != sorted(order):
            raise ValueError(f"{source.name}: image pages must be assembled in file order")
        for index, (image, passthrough) in enumerate(_iter_source_images(source)):
            if index != next_index:
                continue
            _image_page(out, font, by_index[index], image, passthrough)
            next_index = next(wanted, None)
            if len(out.pages) == CHUNK_PAGES:
                parts.append(_save_part(out, output, len(parts)))
                out = pikepdf.new()
                font = make_font(out)
        if len(out.pages) or not parts:
            parts.append(_save_part(out, output, len(parts)))
        _merge(parts, output, info)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def _save_part(out: pikepdf.Pdf, output: Path, number: int) -> Path:
    part = output.with_name(f".{output.name}.part{number:04d}.pdf")
    try:
        out.save(part, compress_streams=True)
    finally:
        out.close()
    return part


def _merge(parts: list[Path], output: Path, info: DocumentInfo) -> None:
    opened = [pikepdf.open(part) for part in parts]
    try:
        merged = pikepdf.new()
        try:
            for part in opened:
                merged.pages.extend(part.pages)
            _save(merged, output, info)
        finally:
            merged.close()
    finally:
        for part in opened:
            part.close()


def _save(out: pikepdf.Pdf, output: Path, info: DocumentInfo) -> None:
    _set_info(out, info)
    tmp = output.with_name(output.name + ".part")
    out.save(
        tmp,
        min_version="1.4",
        compress_streams=True,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
    )
    tmp.replace(output)


def _copy_pdf_pages(
    out: pikepdf.Pdf, font: pikepdf.Dictionary, src: pikepdf.Pdf, layers: list[PageLayer]
) -> None:
    for layer in layers:
        out.pages.append(src.pages[layer.index])
        page = out.pages[-1]
        if layer.drop_page_text:
            drop_text(out, page)
        width, height, existing = pdf_page_geometry(page)
        x0, y0 = (float(v) for v in list(page.cropbox)[:2])
        box = (x0, y0, x0 + width, y0 + height)
        if layer.words:
            _add_text_layer(out, font, page, layer, box, existing)
        if layer.rotation:
            page.obj.Rotate = (existing + layer.rotation) % 360
    # Annotations become page content: an e-signature stamp another system laid on stays
    # visible as it was, without its form field and signature value, which belonged to
    # the original file (kept byte for byte) and would not validate over this copy.
    out.flatten_annotations("all")


_TEXT_SHOWING = frozenset({"Tj", "TJ", "'", '"'})


def drop_text(out: pikepdf.Pdf, page: pikepdf.Page) -> None:
    """Remove the text a page's own content shows (an old OCR layer); keep everything else.

    Forms the page draws (e-signature stamps, logos) are not touched. The moves to the next
    line that ``'`` and ``"`` make are kept, so nothing else drawn in the block shifts.
    """
    try:
        instructions = pikepdf.parse_content_stream(page)
    except pikepdf.PdfError:
        return
    kept: list[Any] = []  # instructions, inline images, or (operands, operator) pairs
    for instruction in instructions:
        op = str(instruction.operator)
        if op not in _TEXT_SHOWING:
            kept.append(instruction)
            continue
        operands = list(instruction.operands)
        if op == '"' and len(operands) >= 2:
            kept.append(([operands[0]], pikepdf.Operator("Tw")))
            kept.append(([operands[1]], pikepdf.Operator("Tc")))
            kept.append(([], pikepdf.Operator("T*")))
        elif op == "'":
            kept.append(([], pikepdf.Operator("T*")))
    page.obj.Contents = out.make_stream(pikepdf.unparse_content_stream(kept))


def _set_info(out: pikepdf.Pdf, info: DocumentInfo) -> None:
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%SZ")
    out.docinfo[pikepdf.Name.Title] = info.title
    out.docinfo[pikepdf.Name.Producer] = info.producer
    out.docinfo[pikepdf.Name.Creator] = "sohoa"
    out.docinfo[pikepdf.Name.CreationDate] = now
    if info.subject:
        out.docinfo[pikepdf.Name.Subject] = info.subject
    if info.keywords:
        out.docinfo[pikepdf.Name.Keywords] = info.keywords
