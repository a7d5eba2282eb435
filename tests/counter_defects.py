"""Dossiers with known defects, for the counter's verdict (issue 26): what the clerk must be
told, and what must raise no alarm.

Each generated dossier is a counter scan of a real-looking 3-page dossier from
``tests.dossiers`` (receipt with its QR, application form, ID copy; colour, 200 dpi, with the
mild noise, skew and JPEG of a counter scanner), then exactly one defect done to it the way
it happens at a counter:

- ``clean`` (one per procedure): nothing wrong;
- ``missing_paper``: the ID copy was never scanned (2 pages);
- ``bilevel``: one page scanned in black and white (1-bit, as a scanner's "text" mode
  writes it: CCITT G4 in the PDF);
- ``low_dpi``: one page scanned at 72 dpi (the image downsampled, the PDF page still A4);
- ``blank``: a blank white sheet scanned among the papers (4 pages);
- ``cut_off``: one page laid off the glass: its left part, through the printed lines, is
  not in the scan (the page keeps its size, as a scanner writes a fixed A4 frame, and the
  text starts at the image's edge);
- ``damaged``: the dossier's PDF cut at 60 % of its bytes (an interrupted transfer).

Every case carries the codes the verdict must name (``expected``), on which page, and the
verdict it must reach. ``real_pages()`` adds the real single-page letters of
``bench/real_vn`` (where they are at hand): they are no dossier of a procedure, so only two
things are asked of them: no cut_off and no blurred alarm (their 1-bit and 100 dpi scans
legitimately get colour and low_dpi).
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pikepdf
from PIL import Image

from pipeline.counter import ProblemCode, Verdict
from tests import dossiers, synth

__all__ = [
    "ALARMS",
    "CLEAN_PROCEDURES",
    "DEFECTS",
    "RESCANS",
    "DefectCase",
    "ScanPage",
    "cut_off_sweep",
    "defect_cases",
    "real_pages",
    "write_pdf",
]

DPI = 200
LOW_DPI = 72
# The left part of the page a cut_off scan loses: past the forms' 15-20 mm margin, through
# the start of every printed line.
CUT_FRACTION = 0.18
DAMAGED_FRACTION = 0.60
CLEAN_PROCEDURES = ("lltp", "doi-gplx")
DEFECTS = ("missing_paper", "bilevel", "low_dpi", "blank", "cut_off", "damaged")


@dataclass
class ScanPage:
    """One page as the scanner wrote it: the image, its resolution, its kind (truth)."""

    image: Image.Image
    dpi: float
    kind: str
    skew_deg: float = 0.0  # how askew the sheet lay on the glass


@dataclass(frozen=True)
class DefectCase:
    """One upload: a file, what was done to it, and what the counter must be told."""

    name: str  # the case's name (and the file's stem)
    defect: str  # "clean", one of DEFECTS, or "real"
    path: Path
    procedure: str | None  # the procedure chosen at the counter (None for real pages)
    pages: int  # pages in the file
    kinds: tuple[str, ...] = ()  # the paper on each page (truth), "blank" for the blank sheet
    expected: frozenset[ProblemCode] = frozenset()  # the verdict must name each of these
    page: int | None = None  # the 1-based page the defect is on
    verdict: Verdict | None = None  # the verdict it must reach (None: not asked)
    refused: bool = False  # the upload itself is refused (a damaged file)
    # Codes that must not appear (rescan/check alarms on a clean dossier; cut_off and
    # blurred on a real letter).
    forbidden: frozenset[ProblemCode] = frozenset()
    dossier_code: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# What the clerk must act on now: a false one sends a citizen back for nothing.
RESCANS = frozenset(
    {
        ProblemCode.COLOUR,
        ProblemCode.LOW_DPI,
        ProblemCode.CUT_OFF,
        ProblemCode.BLURRED,
        ProblemCode.MISSING_PAPER,
    }
)
# A false alarm on a clean dossier: any rescan, and any check (an operator's work for nothing).
# What would hold a citizen at the counter on a clean dossier. A field an operator must check
# later (OCR misread a typed value) is named on the verdict but holds nobody: the bench
# counts those separately ("fields for an operator"), as a reading matter, not an alarm.
ALARMS = RESCANS | {ProblemCode.PROCEDURE_UNKNOWN}


def _scanned_dossier(seed: int, procedure: str) -> tuple[list[ScanPage], dossiers.DossierTruth]:
    """Receipt, application form, ID copy, each through a mild 200-dpi counter scan; never
    upside down (a turned page is a note, and would only blur which page a defect is on)."""
    rng = random.Random(seed)
    rendered, truth = dossiers.make_dossier(rng, procedure=procedure, dpi=DPI, with_other=False)
    pages = []
    for index, (image, kind) in enumerate(rendered):
        spec = replace(dossiers.scan_degradation(rng), rotation=0)
        clean = synth.SynthPage(image=image.convert("RGB"), lines=[], dpi=DPI)
        scanned = synth.degrade(clean, spec, seed=seed * 10 + index)
        pages.append(ScanPage(scanned.image, DPI, kind, spec.skew_deg))
    return pages, truth


def _blank_sheet(seed: int) -> ScanPage:
    """A white A4 sheet through the same scanner: paper tone and noise, nothing printed."""
    width, height = round(dossiers.A4_MM[0] / 25.4 * DPI), round(dossiers.A4_MM[1] / 25.4 * DPI)
    sheet = synth.SynthPage(Image.new("RGB", (width, height), "white"), [], DPI)
    spec = synth.Degradation(noise_sigma=4.0, jpeg_quality=75, background=245)
    return ScanPage(synth.degrade(sheet, spec, seed=seed).image, DPI, "blank")


def _cut_off(page: ScanPage, fraction: float = CUT_FRACTION) -> ScanPage:
    """The page shifted left on the glass: its left ``fraction`` is not in the scan, the
    frame keeps its size (the rest of the glass is white paper tone on the right)."""
    width, height = page.image.size
    cut = round(width * fraction)
    tone = page.image.getpixel((width - 5, height // 2))
    out = Image.new("RGB", (width, height), tone)
    out.paste(page.image.crop((cut, 0, width, height)), (0, 0))
    return ScanPage(out, page.dpi, page.kind, page.skew_deg)


def _low_dpi(page: ScanPage) -> ScanPage:
    width, height = page.image.size
    scale = LOW_DPI / page.dpi
    small = page.image.resize((round(width * scale), round(height * scale)), Image.LANCZOS)
    return ScanPage(small, LOW_DPI, page.kind, page.skew_deg)


def _bilevel(page: ScanPage) -> ScanPage:
    """A scanner's black-and-white mode: a fixed threshold, no dithering."""
    grey = page.image.convert("L")
    bilevel = grey.point(lambda v: 255 if v > 160 else 0, mode="1")
    return ScanPage(bilevel, page.dpi, page.kind, page.skew_deg)


def write_pdf(pages: Sequence[ScanPage], path: Path) -> None:
    """An image-only PDF, one scan per page at its own resolution (the page keeps its paper
    size whatever the dpi): colour and grey pages as JPEG, 1-bit pages as CCITT G4."""
    with pikepdf.Pdf.new() as out:
        for page in pages:
            buffer = io.BytesIO()
            if page.image.mode == "1":
                page.image.save(buffer, "PDF", resolution=page.dpi)
            else:
                page.image.convert("RGB").save(buffer, "PDF", resolution=page.dpi, quality=85)
            with pikepdf.open(io.BytesIO(buffer.getvalue())) as single:
                out.pages.extend(single.pages)
        out.save(path)


def _case(
    root: Path,
    name: str,
    defect: str,
    procedure: str,
    pages: list[ScanPage],
    truth: dossiers.DossierTruth,
    **changes: object,
) -> DefectCase:
    path = root / f"{name}.pdf"
    write_pdf(pages, path)
    case = DefectCase(
        name=name,
        defect=defect,
        path=path,
        procedure=procedure,
        pages=len(pages),
        kinds=tuple(p.kind for p in pages),
        dossier_code=truth.dossier_code,
    )
    return replace(case, **changes)  # type: ignore[arg-type]


def defect_cases(
    root: Path, *, seed: int = 2600, only: Sequence[str] = (), clean: int = 2
) -> list[DefectCase]:
    """``clean`` clean dossiers (procedures in turn from ``CLEAN_PROCEDURES``) and one dossier
    per defect of ``DEFECTS``, written as PDFs under ``root``. ``only``: the defects wanted
    ("clean" for the clean ones); empty for all."""
    root.mkdir(parents=True, exist_ok=True)
    wanted = set(only) or {"clean", *DEFECTS}
    cases: list[DefectCase] = []
    for number in range(clean if "clean" in wanted else 0):
        procedure = CLEAN_PROCEDURES[number % len(CLEAN_PROCEDURES)]
        # The first ones keep their seeds whatever the count; more come from seed + 100.
        pages, truth = _scanned_dossier(seed + number + (100 if number >= 2 else 0), procedure)
        name = f"sach-{procedure}" + (f"-{number + 1}" if number >= 2 else "")
        cases.append(
            _case(
                root, name, "clean", procedure, pages, truth,
                verdict=Verdict.COMPLETE, forbidden=ALARMS,
            )
        )  # fmt: skip
    for number, defect in enumerate(DEFECTS, start=10):
        if defect not in wanted:
            continue
        procedure = CLEAN_PROCEDURES[number % len(CLEAN_PROCEDURES)]
        pages, truth = _scanned_dossier(seed + number, procedure)
        name = f"loi-{defect.replace('_', '-')}"
        incomplete: dict[str, object] = {"verdict": Verdict.INCOMPLETE}
        if defect == "missing_paper":
            pages = [p for p in pages if p.kind != "id_copy"]
            case = _case(
                root, name, defect, procedure, pages, truth,
                expected=frozenset({ProblemCode.MISSING_PAPER}), **incomplete,
            )  # fmt: skip
        elif defect == "bilevel":
            pages[1] = _bilevel(pages[1])
            case = _case(
                root, name, defect, procedure, pages, truth,
                expected=frozenset({ProblemCode.COLOUR}), page=2, **incomplete,
            )  # fmt: skip
        elif defect == "low_dpi":
            pages[2] = _low_dpi(pages[2])
            case = _case(
                root, name, defect, procedure, pages, truth,
                expected=frozenset({ProblemCode.LOW_DPI}), page=3, **incomplete,
            )  # fmt: skip
        elif defect == "blank":
            pages.insert(2, _blank_sheet(seed + number))
            # A blank sheet is a note, not an alarm: no rescan (what OCR makes of the other
            # pages' fields is not this case's).
            case = _case(
                root, name, defect, procedure, pages, truth,
                expected=frozenset({ProblemCode.BLANK}), page=3, forbidden=RESCANS,
            )  # fmt: skip
        elif defect == "cut_off":
            pages[1] = _cut_off(pages[1])
            case = _case(
                root, name, defect, procedure, pages, truth,
                expected=frozenset({ProblemCode.CUT_OFF}), page=2, **incomplete,
                notes=(f"sheet askew {pages[1].skew_deg:+.2f} degrees",),
            )  # fmt: skip
        else:  # damaged
            case = _case(root, name, defect, procedure, pages, truth, refused=True)
            data = case.path.read_bytes()
            case.path.write_bytes(data[: round(len(data) * DAMAGED_FRACTION)])
        cases.append(case)
    return cases


CUT_SWEEP_SEEDS = (2614, 2640, 2641, 2642, 2643, 2644)


def cut_off_sweep(
    root: Path, *, seeds: Sequence[int] = CUT_SWEEP_SEEDS, fraction: float = CUT_FRACTION
) -> list[DefectCase]:
    """The cut_off defect on more sheets: for each seed, the receipt (page 1) and the form
    (page 2) each cut by ``fraction`` in turn, as the sheet lay (skew ±2°, recorded in the
    case's notes). The ID copy is left out: its card sits mid-page, past any such cut."""
    root.mkdir(parents=True, exist_ok=True)
    cases = []
    for seed in seeds:
        procedure = CLEAN_PROCEDURES[seed % len(CLEAN_PROCEDURES)]
        pages, truth = _scanned_dossier(seed, procedure)
        for index in (0, 1):
            cut = list(pages)
            cut[index] = _cut_off(pages[index], fraction)
            cases.append(
                _case(
                    root, f"cat-{seed}-trang-{index + 1}", "cut_off", procedure, cut, truth,
                    expected=frozenset({ProblemCode.CUT_OFF}), page=index + 1,
                    verdict=Verdict.INCOMPLETE,
                    notes=(f"sheet askew {pages[index].skew_deg:+.2f} degrees",),
                )
            )  # fmt: skip
    return cases


def real_pages() -> list[DefectCase]:
    """The real letters of bench/real_vn at hand on this machine (none where they are not):
    no cut_off and no blurred alarm is expected on any of them."""
    from bench import real_vn

    cases = []
    for page in real_vn.load_corpus():
        try:
            path = real_vn.materialise(page)
        except SystemExit:
            continue
        cases.append(
            DefectCase(
                name=page.id,
                defect="real",
                path=path,
                procedure=None,
                pages=1,
                forbidden=frozenset({ProblemCode.CUT_OFF, ProblemCode.BLURRED}),
                notes=(page.note,),
            )
        )
    return cases
