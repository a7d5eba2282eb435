"""Tesseract: the one module that runs it.

Two ways to the same engine, chosen per process:

* in process, through ``tesserocr`` (built against the system's libtesseract, so the
  engine, its model and its output are the very ones the ``tesseract`` program gives):
  loaded engines are kept in a small pool and reused page after page. Loading the model is
  about a third of the time a subprocess spends on a page, and orientation detection is
  six times faster (issue 18: 1.63 s against 2.48 s a page, 0.18 s against 1.16 s);
* as a subprocess through pytesseract, when ``tesserocr`` is not installed.

Both give Tesseract's TSV (words with boxes, confidences, line keys) for the same
language, page segmentation and resolution options, stop a page after its timeout and turn
Tesseract's failure modes into :class:`~models.errors.OcrEngineError` subclasses with a
readable message.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import cv2
import numpy as np
import pytesseract
from pytesseract.pytesseract import run_tesseract

from models.errors import OcrEngineError, OcrTimeoutError

# Tesseract's OpenMP threads fight each other when several pages run at once; one thread
# per process and pages in parallel is several times faster (see DEVELOPERS.md). Set before
# tesserocr loads libtesseract, which reads it once.
os.environ["OMP_THREAD_LIMIT"] = "1"


def _load_tesserocr() -> ModuleType | None:
    try:
        import tesserocr
    except ImportError:
        return None
    # A tesserocr wheel that bundles its own Tesseract looks for models in its own folder
    # and finds none: such an install cannot read, the command line still can.
    _path, languages = tesserocr.get_languages()
    if not languages:
        return None
    quiet_leptonica()
    return tesserocr


# Leptonica's names across Debian releases (bookworm's liblept 1.82, trixie's libleptonica).
LEPTONICA_LIBRARIES = ("liblept.so.5", "libleptonica.so.6", "liblept.so")
L_SEVERITY_NONE = 6


def leptonica_library() -> str | None:
    """The name Leptonica loads by here, or None when none of ``LEPTONICA_LIBRARIES`` does."""
    for name in LEPTONICA_LIBRARIES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return name
    return None


def quiet_leptonica() -> None:
    """Leptonica's messages off in this process (when it is found).

    Tesseract's image library prints "Error in boxClipToRectangle: box outside rectangle"
    and the like to stderr while reading pages it reads well (bare ``tesseract`` prints them
    too): lines with "Error" among sohoa's own on a clerk's screen, naming no file. A real
    failure still comes back from the engine, and is told in words (OcrEngineError)."""
    name = leptonica_library()
    if name is not None:
        ctypes.CDLL(name).setMsgSeverity(L_SEVERITY_NONE)


# None: the subprocess path (tesserocr missing). Tests set it to None, or to a fake.
TESSEROCR: ModuleType | None = _load_tesserocr()

PAGE_PSM = 3  # fully automatic page segmentation, the command line's default
NOT_INSTALLED = "tesseract is not installed (Debian packages tesseract-ocr tesseract-ocr-vie)"
# The header line Tesseract's TSV renderer writes before the first page; the API's
# GetTSVText gives the rows only.
TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\t"
    "left\ttop\twidth\theight\tconf\ttext\n"
)
# An engine past its deadline is told to stop (Tesseract checks between words); layout
# analysis cannot be interrupted, so the caller waits at most this much longer, then gives
# the engine up (it is never reused) and reports the timeout.
ABANDON_GRACE_S = 2.0
# Idle engines kept per language: one per worker thread that OCRs at the same time. A
# loaded ``vie`` engine holds about 30 MB; more than this in the pool are closed.
MAX_IDLE_ENGINES = max(2, 2 * (os.cpu_count() or 1))


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    if TESSEROCR is not None:
        return frozenset(TESSEROCR.get_languages()[1])
    try:
        return frozenset(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError:
        raise OcrEngineError(NOT_INSTALLED) from None


def check_languages(lang: str) -> None:
    missing = [part for part in lang.split("+") if part not in installed_languages()]
    if missing:
        raise OcrEngineError(
            f"Tesseract language data not installed: {', '.join(missing)} "
            f"(installed: {', '.join(sorted(installed_languages()))})"
        )


def in_process() -> bool:
    """True when pages are read by engines loaded in this process (tesserocr)."""
    return TESSEROCR is not None


def recognise_tsv(
    image: np.ndarray,
    *,
    lang: str,
    dpi: float | None,
    psm: int = PAGE_PSM,
    timeout_s: float = 180.0,
    label: str = "page",
) -> str:
    """OCR one grey image; Tesseract's TSV (words with boxes, confidences, line keys).

    ``dpi`` None lets Tesseract estimate the resolution from the letters itself, as it does
    for a file that records none.
    """
    check_languages(lang)
    if TESSEROCR is not None:
        return _recognise_in_process(
            image, lang=lang, dpi=dpi, psm=psm, timeout_s=timeout_s, label=label
        )
    return _recognise_subprocess(
        image, lang=lang, dpi=dpi, psm=psm, timeout_s=timeout_s, label=label
    )


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_CONFIDENCE = re.compile(r"Orientation confidence:\s*([\d.]+)")
OSD_MIN_CHARACTERS = 20


def detect_rotation(image: np.ndarray, *, timeout_s: float = 30.0) -> tuple[int, float] | None:
    """Tesseract's OSD: (clockwise rotation to apply, confidence), or None if it cannot tell."""
    if "osd" not in installed_languages():
        return None
    if TESSEROCR is not None:
        return _detect_rotation_in_process(image, timeout_s=timeout_s)
    try:
        report = pytesseract.image_to_osd(
            image,
            config=f"--psm 0 -c min_characters_to_try={OSD_MIN_CHARACTERS}",
            timeout=max(1, round(timeout_s)),
        )
    except (pytesseract.TesseractError, RuntimeError):
        return None  # too little text for OSD is the usual reason: not an error for us
    rotate, confidence = _ROTATE.search(report), _CONFIDENCE.search(report)
    if not rotate or not confidence:
        return None
    return int(rotate.group(1)) % 360, float(confidence.group(1))


# ---------------------------------------------------------------------------- in process


class EnginePool:
    """Loaded engines, idle between pages, one checked out per page being read.

    A pool rather than one engine per thread: Prefect's and the service's thread pools come
    and go, and an engine left in a dead thread's storage would hold its model until the
    process ends. The pool grows to the number of pages read at the same time.
    """

    def __init__(self, max_idle: int = MAX_IDLE_ENGINES) -> None:
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[Any]] = {}
        self._lock = threading.Lock()
        self.created = 0  # engines loaded since start (a figure for benches and tests)

    def take(self, lang: str, psm: int) -> Any:
        with self._lock:
            idle = self._idle.get((lang, psm))
            if idle:
                return idle.pop()
        assert TESSEROCR is not None
        try:
            engine = TESSEROCR.PyTessBaseAPI(
                lang=lang,
                psm=psm,
                # The command line's `-c tessedit_do_invert=0`: no second look at every
                # line as white on black (Tesseract 5 tries it on doubtful lines).
                variables={"tessedit_do_invert": "0"},
            )
        except RuntimeError as exc:
            raise OcrEngineError(f"Tesseract could not load {lang!r}: {exc}") from None
        with self._lock:
            self.created += 1
        return engine

    def give_back(self, lang: str, psm: int, engine: Any) -> None:
        with self._lock:
            idle = self._idle.setdefault((lang, psm), [])
            if len(idle) < self.max_idle:
                idle.append(engine)
                return
        engine.End()

    def close(self) -> None:
        with self._lock:
            engines = [engine for idle in self._idle.values() for engine in idle]
            self._idle.clear()
        for engine in engines:
            engine.End()

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())


POOL = EnginePool()
OSD_PSM = 0


def preload(lang: str, engines: int) -> None:
    """Load ``engines`` engines for ``lang`` into the pool ahead of the first pages.

    For a caller with idle time to spend (``sohoa process`` waiting for Prefect's server):
    the first pages then start reading at once. Nothing to do on the subprocess path; a
    failure here is left for the page that needs the engine to report, with its name.
    """
    if TESSEROCR is None:
        return
    loaded = []
    try:
        for _ in range(min(engines, POOL.max_idle) - POOL.idle_count()):
            loaded.append(POOL.take(lang, PAGE_PSM))
    except OcrEngineError:
        pass
    for engine in loaded:
        POOL.give_back(lang, PAGE_PSM, engine)


def _recognise_in_process(
    image: np.ndarray, *, lang: str, dpi: float | None, psm: int, timeout_s: float, label: str
) -> str:
    grey = _grey_bytes(image, label)
    height, width = image.shape[:2]

    def read(engine: Any) -> str:
        # The command line's `--dpi N` is this variable; 0 lets Tesseract estimate it.
        engine.SetVariable("user_defined_dpi", str(round(dpi)) if dpi else "0")
        engine.SetImageBytes(grey, width, height, 1, width)
        if not engine.Recognize(timeout=max(1, round(timeout_s * 1000))):
            raise _Unfinished
        return TSV_HEADER + str(engine.GetTSVText(0))

    return _run_with_deadline(read, lang=lang, psm=psm, timeout_s=timeout_s, label=label)


def _detect_rotation_in_process(image: np.ndarray, *, timeout_s: float) -> tuple[int, float] | None:
    grey = _grey_bytes(image, "page")
    height, width = image.shape[:2]

    def detect(engine: Any) -> dict[str, Any] | None:
        engine.SetVariable("min_characters_to_try", str(OSD_MIN_CHARACTERS))
        engine.SetImageBytes(grey, width, height, 1, width)
        answer: dict[str, Any] | None = engine.DetectOrientationScript()
        return answer

    try:
        answer = _run_with_deadline(
            detect, lang="osd", psm=OSD_PSM, timeout_s=timeout_s, label="page"
        )
    except OcrEngineError:
        return None  # as on the command line: OSD that fails or stalls only means "no idea"
    if not answer:
        return None  # too little text for OSD
    # orient_deg is how far the page is turned clockwise; the command line's "Rotate:"
    # (what to apply to stand it upright) is the opposite turn.
    # Rounded as the command line prints it, so both paths decide alike at the threshold.
    return (360 - int(answer["orient_deg"])) % 360, round(float(answer["orient_conf"]), 2)


class _Unfinished(Exception):
    """Recognize returned False: stopped at its deadline (or failed inside Tesseract)."""


T = TypeVar("T")


def _run_with_deadline(
    work: Callable[[Any], T], *, lang: str, psm: int, timeout_s: float, label: str
) -> T:
    """Run ``work`` on a pooled engine in a helper thread, waiting at most ``timeout_s``.

    Tesseract releases the GIL while it reads, so helper threads of parallel pages run on
    all cores. The engine is given back only if it finished: one left behind by a timeout
    is closed when (if ever) its thread returns, never reused mid-page.
    """
    pool = POOL
    engine = pool.take(lang, psm)
    outcome: dict[str, Any] = {}
    done = threading.Event()
    state = threading.Lock()  # decides, once, whether the engine goes back or is closed
    abandoned = False

    def body() -> None:
        nonlocal abandoned
        began = time.monotonic()
        try:
            outcome["value"] = work(engine)
        except _Unfinished:
            outcome["unfinished"] = time.monotonic() - began
        except Exception as exc:  # any failure is handed to the waiting thread as is
            outcome["error"] = exc
        finally:
            engine.Clear()
            with state:
                keep = not abandoned
                if keep:
                    # Back in the pool before the caller wakes: its next page reuses it.
                    pool.give_back(lang, psm, engine)
                done.set()
            if not keep:
                engine.End()

    thread = threading.Thread(target=body, name=f"tesseract-{label}", daemon=True)
    thread.start()
    if not done.wait(timeout_s + ABANDON_GRACE_S):
        with state:
            if not done.is_set():
                abandoned = True
        if abandoned:
            raise OcrTimeoutError(f"{label}: OCR took longer than {timeout_s:.0f}s and was stopped")
    if "value" in outcome:
        return outcome["value"]
    if "unfinished" in outcome:
        if outcome["unfinished"] >= timeout_s * 0.95:
            raise OcrTimeoutError(f"{label}: OCR took longer than {timeout_s:.0f}s and was stopped")
        raise OcrEngineError(f"{label}: Tesseract failed (recognition did not complete)")
    error = outcome.get("error")
    if isinstance(error, MemoryError):
        raise error
    raise OcrEngineError(f"{label}: Tesseract failed ({_one_line(error)})") from None


def _grey_bytes(image: np.ndarray, label: str) -> bytes:
    """The 8-bit grey pixels, row after row, as SetImageBytes reads them."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise OcrEngineError(f"{label}: Tesseract is given 8-bit grey images only")
    return np.ascontiguousarray(image).tobytes()


# ---------------------------------------------------------------------------- subprocess


def _recognise_subprocess(
    image: np.ndarray, *, lang: str, dpi: float | None, psm: int, timeout_s: float, label: str
) -> str:
    with tempfile.TemporaryDirectory(prefix="sohoa-tess-") as tmp:
        source = Path(tmp) / "page.png"
        # PNG level 1: the file is read back at once, speed beats size.
        if not cv2.imwrite(str(source), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OcrEngineError(f"{label}: could not write the image for Tesseract")
        base = Path(tmp) / "out"
        config = (
            f"--psm {psm} {f'--dpi {round(dpi)} ' if dpi else ''}"
            "-c tessedit_create_tsv=1 -c tessedit_create_txt=0 -c tessedit_do_invert=0"
        )
        try:
            run_tesseract(
                str(source),
                str(base),
                extension="tsv",
                lang=lang,
                config=config,
                timeout=max(1, round(timeout_s)),
            )
        except pytesseract.TesseractNotFoundError:
            raise OcrEngineError(NOT_INSTALLED) from None
        except pytesseract.TesseractError as exc:
            raise OcrEngineError(f"{label}: Tesseract failed ({_one_line(exc.message)})") from None
        except RuntimeError as exc:
            if "timeout" in str(exc).lower():
                raise OcrTimeoutError(
                    f"{label}: OCR took longer than {timeout_s:.0f}s and was stopped"
                ) from None
            raise
        try:
            return base.with_suffix(".tsv").read_text(encoding="utf-8")
        except OSError as exc:
            raise OcrEngineError(f"{label}: Tesseract produced no output ({exc})") from None


def _one_line(message: object) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-2:]) if lines else "no message"
