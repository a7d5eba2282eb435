"""Barcodes and QR codes, read with zxing-cpp on the original page at full resolution.

The one module that talks to the decoder. Payloads are returned as text decoded as
UTF-8 first (the citizen-ID QR is UTF-8 without an ECI marker, which zxing would
otherwise read as Latin-1), then as the decoder's own guess.
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np
import zxingcpp

# The shape lives with the page record it is stored in; read here, so named here too.
from models.pagerecord import Barcode as Barcode
from pipeline.deadline import check_deadline

# What a dossier's paper carries: QR codes (the chip ID card's, the receipt's, our separator
# sheet's) and the Code 128 some one-stop systems print beside the dossier code. Looking
# for every format zxing knows (EAN, PDF417, DataMatrix, Aztec ...) took four times as long
# on a page without any code (bench/page_steps.py: 0.10 s a page against 0.025 s).
FORMATS = zxingcpp.BarcodeFormats(
    (
        zxingcpp.BarcodeFormat.QRCode,
        zxingcpp.BarcodeFormat.MicroQRCode,
        zxingcpp.BarcodeFormat.RMQRCode,
        zxingcpp.BarcodeFormat.Code128,
    )
)


def _payload(result: zxingcpp.Barcode) -> str:
    raw = bytes(result.bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = result.text
    return unicodedata.normalize("NFC", text)


def read_barcodes(image: np.ndarray) -> tuple[Barcode, ...]:
    """Every readable barcode on a grey or BGR page image, top to bottom."""
    height, width = image.shape[:2]
    # zxing makes a grey image of a colour one anyway; OpenCV does it several times faster.
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    try:
        # try_invert=False: light-on-dark codes do not occur on paper dossiers, and zxing
        # reads every page without a code a second time, inverted, to look for one (on
        # bench/page_steps.py pages, 0.80 s a page instead of 1.32, a third of the step).
        results = zxingcpp.read_barcodes(grey, formats=FORMATS, try_invert=False)
    except (RuntimeError, ValueError):
        return ()
    found: list[Barcode] = []
    for result in results:
        check_deadline("reading barcodes")  # a page of thousands of codes stops in time
        if not result.valid:
            continue
        position = result.position
        xs = [
            position.top_left.x,
            position.top_right.x,
            position.bottom_left.x,
            position.bottom_right.x,
        ]
        ys = [
            position.top_left.y,
            position.top_right.y,
            position.bottom_left.y,
            position.bottom_right.y,
        ]
        found.append(
            Barcode(
                text=_payload(result),
                format=str(result.format).split(".")[-1],
                left=max(0.0, min(xs) / width),
                top=max(0.0, min(ys) / height),
                right=min(1.0, max(xs) / width),
                bottom=min(1.0, max(ys) / height),
            )
        )
    found.sort(key=lambda b: (b.top, b.left))
    return tuple(found)


def render_qr(payload: str, *, module_px: int = 10) -> np.ndarray:
    """A QR code (with its quiet zone) as a grey image, e.g. for the separator sheet."""
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = np.asarray(barcode.to_image(scale=module_px, add_quiet_zones=True))
    return image[:, :, 0] if image.ndim == 3 else image
