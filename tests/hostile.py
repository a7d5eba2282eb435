"""A batch of hostile and broken inputs, each with what must become of it.

Used by tests/test_hostile.py and bench/faults.py: every refused file must fail alone with
one readable line naming it, its original kept; every readable one must be archived.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image

from tests import synth


@dataclass(frozen=True)
class HostileInput:
    path: Path
    expect: str  # "archived", "failed" or "duplicate"
    problem: str = ""  # part of the one-line error, for "failed"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_bomb(path: Path, side: int = 30_000) -> None:
    """A real decompression bomb: side x side 1-bit pixels, ~110 MB raw, ~100 KB on disk."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def make_hostile_inputs(folder: Path) -> list[HostileInput]:
    folder.mkdir(parents=True, exist_ok=True)
    page = synth.render_page(synth.corpus_lines(10, 5), dpi=200, font_pt=12)
    other = synth.render_page(synth.corpus_lines(10, 6), dpi=200, font_pt=12)
    inputs: list[HostileInput] = []

    good = folder / "good.jpg"
    page.image.save(good, quality=90, dpi=(200, 200))
    inputs.append(HostileInput(good, "archived"))
    duplicate = folder / "good-again.jpg"
    duplicate.write_bytes(good.read_bytes())
    inputs.append(HostileInput(duplicate, "duplicate"))
    renamed = folder / "really-a-jpeg.pdf"
    other.image.save(renamed, format="JPEG", quality=85, dpi=(200, 200))
    inputs.append(HostileInput(renamed, "archived"))
    cmyk = folder / "cmyk.tif"
    other.image.convert("CMYK").save(cmyk, dpi=(200, 200))
    inputs.append(HostileInput(cmyk, "archived"))
    deep = folder / "sixteen-bit.tif"
    grey = np.asarray(page.image.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(deep, dpi=(200, 200))
    inputs.append(HostileInput(deep, "archived"))
    # A name that is not UTF-8 (Latin-1 bytes from an old Windows share).
    latin = folder / os.fsdecode("h\xe5s\xf5-b\xe0n-sao.png".encode("latin-1"))
    other.image.convert("L").save(latin, dpi=(200, 200))
    inputs.append(HostileInput(latin, "archived"))

    zero = folder / "zero.pdf"
    zero.write_bytes(b"")
    inputs.append(HostileInput(zero, "failed", "empty file"))
    text = folder / "letter.pdf"
    text.write_text("Kính gửi: not a scan at all\n", encoding="utf-8")
    inputs.append(HostileInput(text, "failed", "not a PDF, TIFF, JPEG or PNG"))
    whole = folder / "whole.pdf"
    synth.save_pdf([page], whole)
    truncated = folder / "truncated.pdf"
    truncated.write_bytes(whole.read_bytes()[:1500])
    inputs.append(HostileInput(truncated, "failed", "corrupt or truncated PDF"))
    corrupt = folder / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    inputs.append(HostileInput(corrupt, "failed", "PDF"))
    locked = folder / "locked.pdf"
    with pikepdf.open(whole) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret"))
    inputs.append(HostileInput(locked, "failed", "encrypted"))
    whole.unlink()
    thousands = folder / "thousands.pdf"
    with pikepdf.new() as pdf:
        for _ in range(2500):
            pdf.add_blank_page(page_size=(595, 842))
        pdf.save(thousands)
    inputs.append(HostileInput(thousands, "failed", "too many pages"))
    bomb = folder / "bomb.png"
    write_png_bomb(bomb)
    inputs.append(HostileInput(bomb, "failed", "over the limit"))
    dot = folder / "dot.png"
    Image.new("RGB", (1, 1)).save(dot)
    inputs.append(HostileInput(dot, "failed", "too small"))
    return inputs
