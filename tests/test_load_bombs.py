"""Files that claim far more pages than they hold bytes: refused at the page limit, counted
no further (they reach the service's upload before any other check)."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import TiffImagePlugin

from models.errors import BadInputError
from pipeline.load import inspect_source
from pipeline.pdf_content import page_content_size

REPO = Path(__file__).resolve().parents[1]


# The child's own peak resident set, from /proc (per address space, so fresh after exec).
PEAK_KB_SOURCE = (
    "def _peak_kb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
    "    raise RuntimeError('no VmHWM in /proc/self/status')\n"
)


def _pdf_naming_one_page(path: Path, times: int) -> None:
    """A PDF whose root /Pages lists the same page ``times`` times, inside a compressed
    object stream: a few KB for a million pages."""
    packer = zlib.compressobj(9)
    packed = packer.compress(b"2 0 << /Type /Pages /Kids [")
    block = 100_000
    for start in range(0, times, block):  # packed as it goes: never the whole text at once
        packed += packer.compress(b"3 0 R " * min(block, times - start))
    packed += packer.compress(b"] /Count %d >>" % times) + packer.flush()
    body = b"%PDF-1.5\n"
    offsets: dict[int, int] = {}
    for number, content in (
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"),
        (
            4,
            b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n"
            % len(packed)
            + packed
            + b"\nendstream",
        ),
    ):
        offsets[number] = len(body)
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref_at = len(body)
    rows = [(0, 0, 65535), (1, offsets[1], 0), (2, 4, 0), (1, offsets[3], 0)]
    rows += [(1, offsets[4], 0), (1, xref_at, 0)]
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    body += (
        b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table)
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    path.write_bytes(body)


def _tiff_of_bare_frames(path: Path, frames: int) -> None:
    """A TIFF of ``frames`` 1x1 grey frames sharing one pixel: ~100 bytes a frame."""
    tags = [(256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8)]
    tags += [(278, 3, 1), (279, 4, 1)]
    size = 2 + 12 * len(tags) + 4
    parts = [b"II*\x00" + struct.pack("<I", 16) + bytes(8)]
    for frame in range(frames):
        following = 16 + (frame + 1) * size if frame < frames - 1 else 0
        directory = struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
            directory += struct.pack("<HHI", tag, kind, 1) + packed
        parts.append(directory + struct.pack("<I", following))
    path.write_bytes(b"".join(parts))


def _in_own_process(path: Path, name: str, *, load_first_page: bool = False) -> dict[str, Any]:
    """inspect_source (then load_page of page 1, if asked) in a fresh interpreter: the
    refusal, and the child's peak memory (KB)."""
    code = (
        "import json, sys\n" + PEAK_KB_SOURCE + "from pathlib import Path\n"
        "from models.errors import BadInputError\n"
        "from pipeline.context import PageContext\n"
        "from pipeline.load import inspect_source, load_page\n"
        "try:\n"
        "    source = inspect_source(Path(sys.argv[1]), name=sys.argv[2])\n"
        "    if sys.argv[3] == 'load':\n"
        "        load_page(source, PageContext(source_name=sys.argv[2], page_index=0))\n"
        "    error = None\n"
        "except BadInputError as exc:\n"
        "    error = exc.message\n"
        # VmHWM, not ru_maxrss: Linux carries the forking parent's high-water mark over
        # exec into ru_maxrss, and a pytest worker may hold a gigabyte by then.
        "peak = _peak_kb()\n"
        "print(json.dumps({'error': error, 'peak_kb': peak}))\n"
    )
    step = "load" if load_first_page else "inspect"
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), name, step],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def test_pdf_naming_a_page_a_million_times_is_refused_without_listing_them(
    tmp_path: Path,
) -> None:
    """9 KB that made qpdf list (and copy) a million pages: 2 GB and 10 s of the service
    before the page limit was even looked at. Measured in a process of its own."""
    bomb = tmp_path / "bomb.pdf"
    _pdf_naming_one_page(bomb, 1_000_000)
    assert bomb.stat().st_size < 20_000
    outcome = _in_own_process(bomb, "bomb.pdf")
    # The interpreter and its imports take ~120 MB; the million pages took 2 GB more.
    assert outcome["peak_kb"] < 600_000, outcome
    assert outcome["error"] == "bomb.pdf: too many pages (more than 2000, limit 2000)"


def test_object_stream_inflating_to_hundreds_of_megabytes_is_not_parsed(
    tmp_path: Path,
) -> None:
    """350 KB whose object stream inflates to 240 MB of /Kids (40 million entries): qpdf
    inflated and parsed it all, about 1 GB, before any page was counted."""
    bomb = tmp_path / "inflating.pdf"
    _pdf_naming_one_page(bomb, 40_000_000)
    assert bomb.stat().st_size < 1_000_000
    outcome = _in_own_process(bomb, "inflating.pdf")
    assert outcome["peak_kb"] < 600_000, outcome
    assert outcome["error"].startswith("inflating.pdf: corrupt or truncated PDF"), outcome


def test_pdf_pages_named_twice_count_as_qpdf_counts_them(tmp_path: Path) -> None:
    target = tmp_path / "twice.pdf"
    _pdf_naming_one_page(target, 3)
    with pikepdf.open(target) as pdf:
        assert len(pdf.pages) == 3
    assert inspect_source(target, max_pages=3).page_count == 3
    with pytest.raises(BadInputError, match="too many pages"):
        inspect_source(target, max_pages=2)


def test_pdf_page_tree_loop_is_still_refused_as_corrupt(tmp_path: Path) -> None:
    target = tmp_path / "loop.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pages = pdf.Root.Pages
    pages.Kids.append(pages)  # the tree names itself
    pages.Count = 2
    pdf.save(target)
    with pytest.raises(BadInputError, match="corrupt"):
        inspect_source(target)


def test_tiff_frames_are_counted_only_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PIL's n_frames reads every directory (~0.3 ms each): 20 000 bare frames in 2 MB cost
    5 s of the service before the limit refused them. Now at most limit + 1 are read."""
    target = tmp_path / "frames.tif"
    _tiff_of_bare_frames(target, 3000)
    read: list[int] = []
    seek = TiffImagePlugin.TiffImageFile._seek

    def counting_seek(image: TiffImagePlugin.TiffImageFile, frame: int) -> None:
        read.append(frame)
        seek(image, frame)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "_seek", counting_seek)
    with pytest.raises(BadInputError, match="too many pages") as refused:
        inspect_source(target, name="frames.tif", max_pages=10)
    assert max(read) <= 11
    assert refused.value.message == "frames.tif: too many pages (more than 10, limit 10)"


def test_tiff_frames_within_the_limit_are_all_counted(tmp_path: Path) -> None:
    target = tmp_path / "five.tif"
    _tiff_of_bare_frames(target, 5)
    assert inspect_source(target, max_pages=5).page_count == 5
    with pytest.raises(BadInputError, match="too many pages"):
        inspect_source(target, max_pages=4)
    single = tmp_path / "one.tif"
    _tiff_of_bare_frames(single, 1)
    assert inspect_source(single, max_pages=1).page_count == 1


def _pdf_drawing(path: Path, content: bytes, *, raw_filter: str | None = None) -> None:
    """One A4 page drawing ``content`` (Flate-compressed by pikepdf unless ``raw_filter``
    names the filter the bytes are already encoded with)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    if raw_filter is None:
        page.obj.Contents = pdf.make_stream(content)
        pdf.save(path, compress_streams=True)
        return
    stream = pikepdf.Stream(pdf, content)
    stream.Filter = pikepdf.Name(raw_filter)
    page.obj.Contents = stream
    pdf.save(path, compress_streams=False)


def test_pdf_page_drawing_millions_of_instructions_is_refused_unparsed(tmp_path: Path) -> None:
    """44 KB of compressed ``/X Do`` took 2.4 GB and 47 s in page_draws_text while the
    service processed the page (after its 202). Measured in a process of its own."""
    bomb = tmp_path / "drawing.pdf"
    _pdf_drawing(bomb, b"/X Do " * 5_000_000)
    assert bomb.stat().st_size < 100_000
    outcome = _in_own_process(bomb, "drawing.pdf", load_first_page=True)
    assert outcome["peak_kb"] < 600_000, outcome
    assert outcome["error"] == (
        "drawing.pdf: page 1 draws more than 4 MB of instructions or 2000 forms, too much to read"
    )


def test_content_size_is_measured_without_decoding_past_the_limit(tmp_path: Path) -> None:
    flate = tmp_path / "flate.pdf"
    _pdf_drawing(flate, b"q Q " * 1000)
    with pikepdf.open(flate) as pdf:
        assert page_content_size(pdf.pages[0]) == 4000
        assert page_content_size(pdf.pages[0], limit=3999) is None
    ascii85 = tmp_path / "a85.pdf"
    _pdf_drawing(
        ascii85, base64.a85encode(b"0 0 m 10 10 l S\n") + b"~>", raw_filter="/ASCII85Decode"
    )
    with pikepdf.open(ascii85) as pdf:
        assert page_content_size(pdf.pages[0]) == 16
    hexed = tmp_path / "hex.pdf"
    _pdf_drawing(hexed, b"0 0 m 10 10 l S\n".hex().encode() + b">", raw_filter="/ASCIIHexDecode")
    with pikepdf.open(hexed) as pdf:
        assert page_content_size(pdf.pages[0]) == 16


def test_forms_a_page_holds_count_towards_its_drawing(tmp_path: Path) -> None:
    target = tmp_path / "forms.pdf"
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    form = pdf.make_stream(b"q Q " * 2000)
    form.Type, form.Subtype, form.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 9, 9]
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form, Fm1=form))
    page.obj.Contents = pdf.make_stream(b"/Fm0 Do /Fm1 Do")
    pdf.save(target)
    with pikepdf.open(target) as pdf:
        assert page_content_size(pdf.pages[0]) == 15 + 8000  # the shared form once
        assert page_content_size(pdf.pages[0], limit=8000) is None
