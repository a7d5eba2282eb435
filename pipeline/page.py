"""The per-page pipeline: an explicit ordered list of steps, each able to say if it applies.

A page goes load -> (text already in the PDF | clean -> OCR) -> write outputs. Steps share
one mutable :class:`PageJob`; the caller gets back a small frozen :class:`PageOutcome`
naming the files written to ``work_dir``, never pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from models.errors import BadInputError
from models.pagerecord import (
    GuardDecision,
    PageRecord,
    PageWarning,
    RereadValue,
    WarningCode,
    colour_warning,
    encode_page_record,
)
from pipeline.assemble import PageLayer, page_layer
from pipeline.barcodes import Barcode, read_barcodes
from pipeline.classify import PageClass, PageKind, classify_page
from pipeline.clean import CleanedPage, clean_page, to_grey
from pipeline.context import PageContext
from pipeline.crop_reader import NeuralCropReader
from pipeline.deadline import PageDeadline, check_deadline, page_deadline
from pipeline.edges import EdgeStep
from pipeline.engines import engine_for
from pipeline.fields import CANONICAL, reread_value
from pipeline.guard import (
    KEPT_UNTOUCHED,
    choose,
    judged_by_syllables,
    log_decision,
    reading_figures,
    reading_is_doubtful,
    why_suspect,
)
from pipeline.handwriting import (
    MIN_WORD_CONFIDENCE,
    CropReading,
    HandwrittenArea,
    find_handwritten_areas,
)
from pipeline.inkcolour import ColourInkStep
from pipeline.load import ColourMode, DpiSource, LoadedPage, SourceDocument, load_page
from pipeline.ocr import PageOcr, ocr_page
from pipeline.resolution import estimate_text_scale, resolution_found
from pipeline.second_reader import available_reader, coloured_ink_test, mend_reading
from pipeline.turns import turn_clockwise
from pipeline.vietnamese import trusted_vietnamese
from pipeline.words import reading_text

QR_BEARING = (PageKind.RECEIPT, PageKind.ID_COPY)
# The legal minimum for digitised copies (NĐ 30/2020, TT 01/2019/TT-BNV).
MIN_ARCHIVE_DPI = 200.0
PREVIEW_MAX_SIDE = 2000  # page images kept for viewing and review, not the archive


@dataclass
class PageJob:
    source: SourceDocument
    context: PageContext
    work_dir: Path
    preview_quality: int = 85
    loaded: LoadedPage | None = None
    # Tesseract's own reading when the neural reader mended it: handwriting is judged on
    # this one, so a pen's ink the neural reader guessed at still goes to a person.
    engine_ocr: PageOcr | None = None
    cleaned: CleanedPage | None = None
    ocr: PageOcr | None = None
    text: str = ""
    text_source: str = "ocr"
    warnings: list[PageWarning] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    barcodes: tuple[Barcode, ...] = ()
    page_class: PageClass | None = None
    replaced_text_layer: bool = False  # the PDF's own text was judged bad: archive drops it
    handwritten: list[tuple[HandwrittenArea, Path]] = field(default_factory=list)
    record: PageRecord | None = None  # built once, when the outputs are written
    reread: list[RereadValue] = field(default_factory=list)  # read again, from the unfaded scan
    guard: GuardDecision | None = None  # the never-worse guard's choice (pipeline/guard.py)
    # The untouched scan's reading when the guard made one and kept the cleaned reading:
    # the coloured print cleanup faded is taken from it (pipeline/inkcolour.py).
    untouched_ocr: PageOcr | None = None

    def path(self, suffix: str) -> Path:
        return self.work_dir / f"page-{self.context.page_index + 1:04d}{suffix}"


@dataclass(frozen=True)
class PageOutcome:
    """What a page left behind: its record (also written to ``record_path``), the layer
    assembly lays over it, and the files written to the work dir."""

    record: PageRecord
    layer: PageLayer
    text_path: Path
    record_path: Path
    preview_path: Path
    colour_mode: str
    blank: bool
    # (field, crop image file) of each handwritten value OCR could not read.
    handwritten: tuple[tuple[str, Path], ...] = ()


class PageStep(Protocol):
    name: str

    def able_to_run(self, job: PageJob) -> bool: ...

    def run(self, job: PageJob) -> None: ...


class LoadStep:
    name = "load"

    def able_to_run(self, job: PageJob) -> bool:
        return True

    def run(self, job: PageJob) -> None:
        job.loaded = page = load_page(job.source, job.context)
        recorded = (
            "not recorded in the file"
            if page.recorded_dpi is None
            else (f"recorded as {page.recorded_dpi:g} dpi, which no scanner uses")
        )
        if page.dpi_source is DpiSource.ASSUMED:
            job.warnings.append(
                PageWarning(
                    WarningCode.DPI_ASSUMED, f"resolution {recorded}; assumed {page.dpi:.0f} dpi"
                )
            )
        elif page.dpi_source is not DpiSource.FILE:
            found = resolution_found(page.dpi, page.dpi_source, page.scan_dpi)
            job.warnings.append(
                PageWarning(WarningCode.DPI_ESTIMATED, f"resolution {recorded}; {found}")
            )
        scanned_at = page.scan_dpi or page.dpi  # a PDF scan's own, not its rendering's
        if scanned_at < MIN_ARCHIVE_DPI - 1 and page.dpi_source is not DpiSource.ASSUMED:
            measured = (
                f"about {scanned_at:.0f} dpi (measured from the letters)"
                if page.dpi_source is DpiSource.ESTIMATED and page.scan_dpi is None
                else f"{scanned_at:.0f} dpi"
            )
            problem = f"scanned at {measured}, under the {MIN_ARCHIVE_DPI:.0f} dpi required"
            if job.context.refuse_low_dpi:
                raise BadInputError(job.source.name, f"page {page.index + 1} {problem}")
            job.warnings.append(PageWarning(WarningCode.LOW_DPI, problem))
        if page.colour_mode is not ColourMode.COLOUR and job.context.colour_required:
            warning = colour_warning(page.colour_mode)
            if job.context.refuse_non_colour:
                raise BadInputError(
                    job.source.name,
                    f"page {page.index + 1} {warning.text}: scan it again in colour",
                )
            job.warnings.append(warning)


class BarcodeStep:
    """QR codes and barcodes, on the original page at full resolution (small codes on a
    200 dpi scan are lost in any downscaled or binarised copy)."""

    name = "barcodes"

    def able_to_run(self, job: PageJob) -> bool:
        return job.loaded is not None

    def run(self, job: PageJob) -> None:
        assert job.loaded is not None
        job.barcodes = read_barcodes(job.loaded.image)


class ExistingTextStep:
    """A PDF page's own text is evidence, not a fact: kept only when it is good text.

    Born-digital pages carry exact text, better than any OCR of their rendering. Scans that
    passed through another system often carry that system's old OCR (``CONG Hcok xA HQI
    CHiJ NGHiA``): such a layer is judged (Vietnamese syllables and diacritics) and, when
    bad, the page is read again and the archive drops the old layer.
    """

    name = "existing-text"

    def able_to_run(self, job: PageJob) -> bool:
        return job.loaded is not None and job.loaded.existing_text is not None

    def run(self, job: PageJob) -> None:
        assert job.loaded is not None and job.loaded.existing_text is not None
        text = job.loaded.existing_text.strip()
        if job.loaded.scanned:
            # Text over a scan is someone's OCR: kept only if it is good and covers the page.
            trusted, reason = self._judge(text, job)
            if not trusted:
                job.warnings.append(
                    PageWarning(
                        WarningCode.TEXT_LAYER_DROPPED,
                        f"the PDF's own text layer was not kept: {reason}",
                    )
                )
                job.replaced_text_layer = True
                return
        job.text = text
        job.text_source = "pdf"

    @staticmethod
    def _judge(text: str, job: PageJob) -> tuple[bool, str]:
        assert job.loaded is not None
        if "vie" in job.context.lang.split("+"):
            trusted, reason = trusted_vietnamese(text)
            if not trusted:
                return False, reason
        scale = estimate_text_scale(to_grey(job.loaded.image))
        characters = len("".join(text.split()))
        if scale is not None and characters < MIN_TEXT_COVERAGE * scale.letters:
            return False, (
                f"it holds {characters} characters where the scan shows about {scale.letters}"
                " letters"
            )
        return True, "good text"


# An OCR layer holds at least about as many characters as the scan shows letter marks
# (diacritics are separate marks, merged letters one): under half, it misses part of the page.
MIN_TEXT_COVERAGE = 0.5


class CleanStep:
    name = "clean"

    def able_to_run(self, job: PageJob) -> bool:
        return job.loaded is not None and job.text_source == "ocr"

    def run(self, job: PageJob) -> None:
        assert job.loaded is not None
        job.cleaned = clean_page(job.loaded, job.context)


class OcrStep:
    name = "ocr"

    def able_to_run(self, job: PageJob) -> bool:
        return job.cleaned is not None

    def run(self, job: PageJob) -> None:
        assert job.cleaned is not None
        job.ocr = ocr_page(job.cleaned, job.context)
        job.text = job.ocr.text


class SecondReadingStep:
    """Never worse than the engine alone (pipeline/guard.py): a suspect page (a doubtful
    first reading, or coloured ink faded by cleanup) is read again as bare Tesseract reads
    the untouched scan, and the reading holding more good text wins. The untouched
    reading's boxes are in the original's pixels, so the page record then says so (no turn,
    identity transform). Every page's decision is logged and kept in its record."""

    name = "second-reading"

    def able_to_run(self, job: PageJob) -> bool:
        ready = job.ocr is not None and job.cleaned is not None and job.loaded is not None
        return ready and not (job.cleaned is not None and job.cleaned.blank)

    def run(self, job: PageJob) -> None:
        assert job.ocr is not None and job.cleaned is not None and job.loaded is not None
        lang = job.context.lang
        first = reading_figures(job.ocr, lang)
        reason = why_suspect(job.ocr, lang, faded_ink=job.cleaned.faded_ink)
        if reason is None:
            job.guard = choose(first, None, "first reading sound, no coloured ink faded")
            log_decision(job.context.source_name, job.context.page_index + 1, job.guard)
            return
        untouched, bare = read_untouched(job)
        job.guard = choose(first, reading_figures(bare, lang), reason)
        log_decision(job.context.source_name, job.context.page_index + 1, job.guard)
        if job.guard.kept != KEPT_UNTOUCHED:
            job.untouched_ocr = bare
        else:
            job.cleaned, job.ocr, job.text = untouched, bare, bare.text
            job.warnings.append(
                PageWarning(
                    WarningCode.UNTOUCHED_READ,
                    "cleanup made this page harder to read; the untouched scan was read",
                )
            )


def read_untouched(job: PageJob) -> tuple[CleanedPage, PageOcr]:
    """The page as bare Tesseract reads it: the loaded scan in grey, neither turned nor
    cleaned, told its resolution only when the file records it."""
    assert job.loaded is not None and job.cleaned is not None
    loaded = job.loaded
    untouched = CleanedPage(
        index=loaded.index,
        image=to_grey(loaded.image),
        dpi=loaded.dpi,
        rotation=0,
        skew_deg=0.0,
        to_cleaned=np.eye(3),
        blank=False,
        ink_ratio=job.cleaned.ink_ratio,
        orientation_evidence=0.0,
        tinted_share=job.cleaned.tinted_share,  # of the same pixels
    )
    bare = ocr_page(untouched, job.context, tell_dpi=loaded.dpi_source is DpiSource.FILE)
    return untouched, bare


class NeuralReadingStep:
    """The neural line reader on the lines Tesseract reads with little confidence or that a
    seal or signature crosses, or on every line of a doubtful reading; the better
    reading of each line is kept (pipeline/second_reader.py). Without its model files the
    page keeps Tesseract's reading (one warning in the log)."""

    name = "neural-reading"

    def __init__(
        self, *, every_line: bool = False, always_neural: bool = False, tie_below: float = 100.0
    ) -> None:
        # For the bench: every line, and the neural text wherever it read something; and
        # the Tesseract confidence under which the neural reader wins a tie.
        self.every_line, self.always_neural = every_line, always_neural
        self.tie_below = tie_below

    def able_to_run(self, job: PageJob) -> bool:
        if not job.context.second_reader or job.ocr is None or not job.ocr.words:
            return False
        return job.cleaned is not None and not job.cleaned.blank

    def run(self, job: PageJob) -> None:
        assert job.ocr is not None and job.cleaned is not None and job.loaded is not None
        reader = available_reader(job.context.models_dir)
        if reader is None:
            return
        # A badly degraded page: every line. A seal or signature: the lines it crosses.
        degraded = reading_is_doubtful(job.ocr, job.context.lang)
        cleaned = job.cleaned
        mended = mend_reading(
            job.ocr,
            cleaned.image,
            reader,
            every_line=self.every_line or degraded,
            judge_syllables=judged_by_syllables(job.context.lang),
            always_neural=self.always_neural,
            also=coloured_ink_test(job.loaded.image, cleaned.to_cleaned, cleaned.image.shape[:2]),
            tie_below=self.tie_below,
        )
        if mended.lines_replaced:
            job.engine_ocr = job.engine_ocr or job.ocr
        job.ocr, job.text = mended.ocr, mended.ocr.text


class ClassifyStep:
    name = "classify"

    def able_to_run(self, job: PageJob) -> bool:
        return job.loaded is not None

    def run(self, job: PageJob) -> None:
        blank = job.cleaned.blank if job.cleaned is not None else False
        job.page_class = classify_page(
            job.text, job.barcodes, blank=blank, catalogue=job.context.catalogue
        )
        if job.page_class.kind in QR_BEARING and not job.barcodes and job.loaded is not None:
            # The page should carry a QR but none was read: dark specks on the code are the
            # usual cause, and a 3x3 closing removes them (recovered 3 of 4 such pages in
            # our speckled set; a median filter recovered none). Only here, not for every
            # page, because it costs another decoder pass.
            grey = to_grey(job.loaded.image)
            closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
            job.barcodes = read_barcodes(closed)
            if job.barcodes:
                job.page_class = classify_page(
                    job.text, job.barcodes, blank=blank, catalogue=job.context.catalogue
                )


# A value read again is taken when its words average this confidence (0-100): typed text on
# the unfaded scan reads at 85-96; a pen's strokes, when Tesseract makes words of them, lower.
REREAD_CONFIDENCE = 80.0


class HandwritingStep:
    """On an application form: the areas after field labels holding ink OCR did not read.

    Judged and cut in the page as scanned (in colour: the OCR copy may have had its blue
    ink faded), turned upright like the page, and written next to the page's other files so
    the review queue can show a person exactly what to key in.
    """

    name = "handwriting"

    def able_to_run(self, job: PageJob) -> bool:
        return (
            job.ocr is not None
            and job.cleaned is not None
            and job.loaded is not None
            and job.page_class is not None
            and job.page_class.kind is PageKind.APPLICATION_FORM
            and job.page_class.procedure_id is not None
        )

    def run(self, job: PageJob) -> None:
        assert job.ocr is not None and job.cleaned is not None and job.loaded is not None
        assert job.page_class is not None and job.page_class.procedure_id is not None
        procedure = job.context.catalogue.procedure(job.page_class.procedure_id)
        if procedure is None:
            return
        engine_ocr = job.engine_ocr or job.ocr
        areas = find_handwritten_areas(
            job.loaded.image,
            engine_ocr.words,
            (engine_ocr.image_width, engine_ocr.image_height),
            procedure.form.labels,
            fields=[name for name in CANONICAL if name in procedure.form.labels],
            to_image=np.linalg.inv(job.cleaned.to_cleaned),
            accept=lambda name, text: reread_value(name, text, procedure.form) is not None,
        )
        for area in areas:
            check_deadline("reading handwritten areas")
            assert area.crop is not None
            crop = turn_clockwise(area.crop, job.cleaned.rotation)
            reading = self._read_again(crop, job)
            if reading is not None and reread_value(area.field, reading[0], procedure.form):
                job.reread.append(RereadValue(area.field, *reading))
                continue
            path = job.path(f".hw-{area.field}.png")
            if not cv2.imwrite(str(path), crop):
                raise OSError(f"could not write {path}")
            job.handwritten.append((replace(area, suggestion=self._suggest(crop, job)), path))

    @staticmethod
    def _suggest(crop: np.ndarray, job: PageJob) -> CropReading | None:
        """The neural reader's reading of the crop: pre-filled in review, never a value.

        Whenever its model files are there, whether or not it mends lines: a suggestion a
        person checks against the crop cannot make a page's text worse."""
        reader = available_reader(job.context.models_dir)
        return NeuralCropReader(reader).read_crop(crop) if reader is not None else None

    @staticmethod
    def _read_again(crop: np.ndarray, job: PageJob) -> tuple[str, float] | None:
        """The area read as one line from the scan as it is, or None if still unreadable.

        The OCR copy fades coloured ink (seals, signatures), and with it the blue of values
        typed or written on forms: a typed value comes back readable from the unfaded scan,
        handwriting does not (or not with confidence) and goes to a person.
        """
        assert job.loaded is not None
        grey = cv2.copyMakeBorder(to_grey(crop), 12, 12, 12, 12, cv2.BORDER_REPLICATE)
        words = engine_for(job.context).read(
            grey,
            dpi=job.loaded.dpi,
            one_line=True,
            timeout_s=min(30.0, job.context.ocr_timeout_s),
            label=job.context.label,
        )
        text = reading_text(words)
        read = [w for w in words if w.text.strip()]
        if not read or min(w.confidence for w in read) < MIN_WORD_CONFIDENCE:
            return None
        mean = sum(w.confidence for w in read) / len(read)
        if mean < REREAD_CONFIDENCE:
            return None
        return " ".join(text.split()), round(mean, 1)


class WriteOutputsStep:
    name = "write"

    def able_to_run(self, job: PageJob) -> bool:
        return job.loaded is not None

    def run(self, job: PageJob) -> None:
        assert job.loaded is not None
        text_path = job.path(".txt")
        text_path.write_text(job.text, encoding="utf-8")
        job.files["text"] = text_path
        record_path = job.path(".ocr.json")
        job.record = page_record(job)
        record_path.write_bytes(encode_page_record(job.record))
        job.files["record"] = record_path
        preview_path = job.path(".jpg")
        _write_preview(job.loaded.image, preview_path, job.preview_quality)
        job.files["preview"] = preview_path


def page_record(job: PageJob) -> PageRecord:
    """The page's record from what the steps found (values rounded as they are stored)."""
    ocr, cleaned, loaded = job.ocr, job.cleaned, job.loaded
    return PageRecord(
        index=job.context.page_index,
        text=ocr.text if ocr is not None else job.text,
        text_source=job.text_source,
        words=(
            tuple(replace(w, confidence=round(w.confidence, 1)) for w in ocr.words)
            if ocr is not None
            else ()
        ),
        image_width=ocr.image_width if ocr is not None else None,
        image_height=ocr.image_height if ocr is not None else None,
        dpi=ocr.dpi if ocr is not None else None,
        mean_confidence=ocr.mean_confidence if ocr is not None else None,
        rotation=cleaned.rotation if cleaned is not None else None,
        skew_deg=round(cleaned.skew_deg, 3) if cleaned is not None else None,
        to_cleaned=(
            tuple(round(float(v), 6) for v in cleaned.to_cleaned.ravel())
            if cleaned is not None
            else None
        ),
        # Where the page's resolution came from: the file, the letters, or a guess.
        dpi_source=str(loaded.dpi_source) if loaded is not None else None,
        warnings=tuple(job.warnings),
        barcodes=job.barcodes,
        kind=str(job.page_class.kind) if job.page_class is not None else None,
        kind_confidence=(
            round(job.page_class.confidence, 3) if job.page_class is not None else None
        ),
        procedure_id=job.page_class.procedure_id if job.page_class is not None else None,
        reread=tuple(job.reread),
        handwritten=tuple(area.to_note() for area, _path in job.handwritten),
        drop_page_text=job.replaced_text_layer,
        guard=job.guard,
    )


PAGE_STEPS: tuple[PageStep, ...] = (
    LoadStep(),
    BarcodeStep(),
    ExistingTextStep(),
    CleanStep(),
    OcrStep(),
    SecondReadingStep(),
    ColourInkStep(),
    NeuralReadingStep(),
    ClassifyStep(),
    EdgeStep(),
    HandwritingStep(),
    WriteOutputsStep(),
)


def _write_preview(image: np.ndarray, path: Path, quality: int) -> None:
    longest = max(image.shape[:2])
    if longest > PREVIEW_MAX_SIDE:
        factor = PREVIEW_MAX_SIDE / longest
        # Down to half size bilinear looks the same on screen and is some 6x faster than
        # area averaging (24 ms a 200 dpi colour page); further down it would alias.
        smaller = cv2.INTER_LINEAR if factor >= 0.5 else cv2.INTER_AREA
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=smaller)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")


def process_page(
    source: SourceDocument,
    context: PageContext,
    work_dir: Path,
    *,
    preview_quality: int = 85,
    steps: tuple[PageStep, ...] = PAGE_STEPS,
) -> PageOutcome:
    """Run every applicable step for one page; files land in ``work_dir``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    job = PageJob(
        source=source, context=context, work_dir=work_dir, preview_quality=preview_quality
    )
    # The whole page within SOHOA_PAGE_TIMEOUT_S (pipeline/deadline.py): checked around
    # every step, inside long loops, and each step (Tesseract) given only what is left.
    deadline = PageDeadline(context.source_name, context.page_index + 1, context.ocr_timeout_s)
    with page_deadline(deadline):
        for step in steps:
            deadline.check(f"before the {step.name} step")
            job.context = replace(context, ocr_timeout_s=max(1.0, deadline.remaining()))
            if step.able_to_run(job):
                step.run(job)
            deadline.check(f"in the {step.name} step")
    job.context = context
    loaded, cleaned = job.loaded, job.cleaned
    assert loaded is not None
    record = job.record or page_record(job)  # the one written, unless no step wrote it
    return PageOutcome(
        record=record,
        layer=page_layer(
            record, dpi=loaded.paper_dpi, width_px=loaded.width, height_px=loaded.height
        ),
        text_path=job.files["text"],
        record_path=job.files["record"],
        preview_path=job.files["preview"],
        colour_mode=str(loaded.colour_mode),
        blank=cleaned.blank if cleaned is not None else False,
        handwritten=tuple((area.field, path) for area, path in job.handwritten),
    )
