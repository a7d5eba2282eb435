"""Assemble: one searchable PDF per dossier — original page images, invisible text on top.

The scanned pixels go into the PDF untouched: JPEG scans are embedded byte for byte,
lossless scans losslessly, and pages of a PDF input are copied as they are. The text
layer Tesseract made for the *cleaned* page is laid over the original through the inverse
of the cleaning transform, and the page's ``/Rotate`` turns it upright for display, so
rotation and deskew never resample the archived image.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image, ImageSequence

from pipeline.errors import BadInputError
from pipeline.load import MediaType, SourceDocument, pdf_page_geometry
from pipeline.textlayer import (
    FONT_RESOURCE,
    LineBox,
    lines_from_words,
    make_font,
    text_layer_content,
)


@dataclass(frozen=True)
class PageLayer:
    """What assembly needs to know about one processed page (small; no pixels)."""

    index: int
    dpi: float  # resolution the original page was loaded at
    width_px: int  # size of the loaded original page
    height_px: int
    rotation: int  # clockwise degrees to display the page upright
    to_cleaned: tuple[float, ...]  # 3x3 row-major, original px -> cleaned px
    cleaned_width_px: int
    cleaned_height_px: int
    ocr_json: Path | None  # OCR words of the cleaned page, or None (text already in the PDF)


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


def _load_lines(ocr_json: Path) -> list[LineBox]:
    record = json.loads(ocr_json.read_text(encoding="utf-8"))
    words = record.get("words") or []
    groups = [(int(w[6]), int(w[7]), int(w[8])) for w in words]
    return lines_from_words(words, groups)


def _add_text_layer(
    out: pikepdf.Pdf,
    font: pikepdf.Dictionary,
    page: pikepdf.Page,
    layer: PageLayer,
    box: tuple[float, float, float, float],
    existing_rotate: int,
) -> None:
    assert layer.ocr_json is not None
    lines = _load_lines(layer.ocr_json)
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


def _image_stream(out: pikepdf.Pdf, image: Image.Image, jpeg_bytes: bytes | None) -> pikepdf.Stream:
    """Embed without loss: JPEG data as is, everything else Flate-compressed raw pixels."""
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
    stream = pikepdf.Stream(out, zlib.compress(raw, 6))
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = image.size
    stream.ColorSpace = pikepdf.Name(colour)
    stream.BitsPerComponent = bits
    stream.Filter = pikepdf.Name.FlateDecode
    return stream


def _iter_source_images(source: SourceDocument) -> Iterable[tuple[Image.Image, bytes | None]]:
    """Each page of an image source, with the JPEG bytes when they can be reused as is."""
    jpeg = source.path.read_bytes() if source.media_type is MediaType.JPEG else None
    with Image.open(source.path) as image:
        for frame in ImageSequence.Iterator(image):
            frame.load()
            yield frame, jpeg


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
    if layer.ocr_json is not None:
        _add_text_layer(out, font, page, layer, box, 0)
    if layer.rotation:
        page.obj.Rotate = layer.rotation


def assemble_searchable_pdf(
    source: SourceDocument,
    layers: list[PageLayer],
    output: Path,
    info: DocumentInfo,
) -> None:
    """Write the dossier's searchable PDF to ``output`` (pages in ``layers`` order)."""
    by_index = {layer.index: layer for layer in layers}
    if sorted(by_index) != list(range(source.page_count)):
        raise ValueError(f"{source.name}: assembly needs every page once, got {sorted(by_index)}")
    out = pikepdf.new()
    try:
        font = make_font(out)
        if source.media_type is MediaType.PDF:
            _copy_pdf_pages(out, font, source, by_index)
        else:
            for index, (image, jpeg) in enumerate(_iter_source_images(source)):
                _image_page(out, font, by_index[index], image, jpeg)
        _set_info(out, info)
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".part")
        out.save(
            tmp,
            min_version="1.4",
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
        )
        tmp.replace(output)
    finally:
        out.close()


def _copy_pdf_pages(
    out: pikepdf.Pdf,
    font: pikepdf.Dictionary,
    source: SourceDocument,
    layers: dict[int, PageLayer],
) -> None:
    try:
        src = pikepdf.open(source.path)
    except pikepdf.PdfError as exc:
        raise BadInputError(source.name, f"corrupt PDF ({exc})") from None
    with src:
        for index, src_page in enumerate(src.pages):
            out.pages.append(src_page)
            page = out.pages[-1]
            layer = layers[index]
            width, height, existing = pdf_page_geometry(page)
            x0, y0 = (float(v) for v in list(page.cropbox)[:2])
            box = (x0, y0, x0 + width, y0 + height)
            if layer.ocr_json is not None:
                _add_text_layer(out, font, page, layer, box, existing)
            if layer.rotation:
                page.obj.Rotate = (existing + layer.rotation) % 360


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


def read_jpeg_mode(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode
