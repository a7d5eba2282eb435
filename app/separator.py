"""The separator sheet: a page with a QR that tells sohoa "a new dossier starts here"."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.barcodes import render_qr
from pipeline.qrdata import SEPARATOR_PAYLOAD

DPI = 200
A4_MM = (210, 297)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size_px)
    except OSError:  # no DejaVu on this machine: the QR is what matters
        return ImageFont.load_default()


def write_separator_pdf(path: Path) -> None:
    width, height = (round(mm / 25.4 * DPI) for mm in A4_MM)
    page = Image.new("L", (width, height), 255)
    qr = Image.fromarray(render_qr(SEPARATOR_PAYLOAD, module_px=24))
    page.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    draw = ImageDraw.Draw(page)
    title = _font(round(DPI * 0.35))
    note = _font(round(DPI * 0.14))
    for text, font, y in (
        ("TỜ PHÂN CÁCH HỒ SƠ", title, height // 8),
        ("Đặt tờ này giữa hai hồ sơ khi quét · sohoa separator", note, height // 8 + DPI // 2),
    ):
        box = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (box[2] - box[0])) // 2, y), text, font=font, fill=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path, "PDF", resolution=float(DPI))
