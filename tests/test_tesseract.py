"""pipeline.tesseract: the in-process engines (tesserocr) and the subprocess fallback give
the same readings, stop at their timeouts and fail with clear errors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from models.errors import OcrEngineError, OcrTimeoutError
from pipeline import tesseract
from pipeline.tesseract_engine import parse_tsv

needs_api = pytest.mark.skipif(
    tesseract.TESSEROCR is None, reason="tesserocr is not installed (scripts/setup.sh)"
)


@pytest.fixture
def page(samples_dir: Path) -> np.ndarray:
    image = cv2.imread(str(samples_dir / "page.jpg"), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image


@pytest.fixture
def fresh_pool(monkeypatch: pytest.MonkeyPatch) -> tesseract.EnginePool:
    pool = tesseract.EnginePool(max_idle=4)
    monkeypatch.setattr(tesseract, "POOL", pool)
    return pool


@needs_api
@pytest.mark.slow
@pytest.mark.parametrize("dpi", [200.0, None], ids=["dpi-told", "dpi-estimated"])
def test_in_process_reading_is_the_command_lines_byte_for_byte(
    page: np.ndarray, dpi: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process = tesseract.recognise_tsv(page, lang="vie", dpi=dpi)
    monkeypatch.setattr(tesseract, "TESSEROCR", None)
    by_program = tesseract.recognise_tsv(page, lang="vie", dpi=dpi)
    assert in_process == by_program
    words, text = parse_tsv(in_process)
    assert len(words) > 50 and ("Nguyễn" in text or "hồ sơ" in text)


@needs_api
@pytest.mark.slow
def test_in_process_orientation_is_the_command_lines(
    page: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    turned = cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE)
    in_process = tesseract.detect_rotation(turned)
    monkeypatch.setattr(tesseract, "TESSEROCR", None)
    assert in_process is not None and in_process == tesseract.detect_rotation(turned)
    assert in_process[0] == 270  # turned 90 clockwise: 270 more stands it upright


@needs_api
def test_engines_are_loaded_once_and_reused(
    page: np.ndarray, fresh_pool: tesseract.EnginePool
) -> None:
    small = cv2.resize(page, None, fx=0.5, fy=0.5)[:400]  # a few lines: quick to read
    for _ in range(3):
        tesseract.recognise_tsv(small, lang="vie", dpi=100)
    assert fresh_pool.created == 1 and fresh_pool.idle_count() == 1
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: tesseract.recognise_tsv(small, lang="vie", dpi=100), range(6)))
    assert fresh_pool.created <= 2  # never more engines than pages read at once
    fresh_pool.close()
    assert fresh_pool.idle_count() == 0


class FakeEngine:
    """Stands for tesserocr's PyTessBaseAPI: misbehaves as told, records its life."""

    instances: ClassVar[list[FakeEngine]] = []
    behaviour: ClassVar[str] = "ok"
    release: ClassVar[threading.Event] = threading.Event()

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.variables: dict[str, str] = {}
        self.ended = False
        FakeEngine.instances.append(self)

    def SetVariable(self, name: str, value: str) -> bool:
        self.variables[name] = value
        return True

    def SetImageBytes(self, *_args: object) -> None:
        pass

    def Recognize(self, timeout: int = 0) -> bool:
        if self.behaviour == "stops-at-deadline":
            time.sleep(timeout / 1000)  # Tesseract's own deadline check, then False
            return False
        if self.behaviour == "stuck-in-layout":
            FakeEngine.release.wait(30)  # ignores the deadline until the test lets it go
            return True
        if self.behaviour == "fails":
            return False
        if self.behaviour == "raises":
            raise RuntimeError("Failed to recognise\nbad image")
        return True

    def GetTSVText(self, page: int) -> str:
        return "5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t95\tchữ\n"

    def DetectOrientationScript(self) -> dict[str, object] | None:
        return {"orient_deg": 90, "orient_conf": 4.567, "script_name": "Latin"}

    def Clear(self) -> None:
        pass

    def End(self) -> None:
        self.ended = True


@pytest.fixture
def fake_api(
    monkeypatch: pytest.MonkeyPatch, fresh_pool: tesseract.EnginePool
) -> Iterator[type[FakeEngine]]:
    FakeEngine.instances = []
    FakeEngine.behaviour = "ok"
    FakeEngine.release = threading.Event()
    module = SimpleNamespace(PyTessBaseAPI=FakeEngine)
    monkeypatch.setattr(tesseract, "TESSEROCR", module)
    monkeypatch.setattr(tesseract, "check_languages", lambda lang: None)
    monkeypatch.setattr(tesseract, "installed_languages", lambda: frozenset({"vie", "osd"}))
    yield FakeEngine
    FakeEngine.release.set()


GREY = np.full((40, 60), 255, np.uint8)


def test_options_reach_the_engine_as_on_the_command_line(fake_api: type[FakeEngine]) -> None:
    tsv = tesseract.recognise_tsv(GREY, lang="vie", dpi=299.6, psm=6)
    assert tsv.startswith(tesseract.TSV_HEADER)
    assert parse_tsv(tsv)[1] == "chữ"
    (engine,) = fake_api.instances
    assert engine.kwargs["lang"] == "vie" and engine.kwargs["psm"] == 6
    assert engine.kwargs["variables"] == {"tessedit_do_invert": "0"}
    assert engine.variables["user_defined_dpi"] == "300"
    tesseract.recognise_tsv(GREY, lang="vie", dpi=None, psm=6)
    assert len(fake_api.instances) == 1  # the same engine, its resolution reset to "estimate"
    assert engine.variables["user_defined_dpi"] == "0"


def test_orientation_answer_is_the_turn_to_apply(fake_api: type[FakeEngine]) -> None:
    # The engine says "turned 90 clockwise"; the caller wants the turn that stands it up.
    assert tesseract.detect_rotation(GREY) == (270, 4.57)
    assert fake_api.instances[0].kwargs["lang"] == "osd"


def test_deadline_stop_is_a_timeout_error(fake_api: type[FakeEngine]) -> None:
    fake_api.behaviour = "stops-at-deadline"
    with pytest.raises(OcrTimeoutError, match=r"^scan.pdf page 2: OCR took longer than 1s"):
        tesseract.recognise_tsv(GREY, lang="vie", dpi=200, timeout_s=1, label="scan.pdf page 2")
    # The engine stopped cleanly: it goes back to the pool for the next page.
    assert tesseract.POOL.idle_count() == 1


def test_engine_stuck_past_its_deadline_is_abandoned(
    fake_api: type[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tesseract, "ABANDON_GRACE_S", 0.2)
    fake_api.behaviour = "stuck-in-layout"
    began = time.monotonic()
    with pytest.raises(OcrTimeoutError, match="took longer than 0s and was stopped"):
        tesseract.recognise_tsv(GREY, lang="vie", dpi=200, timeout_s=0.1, label="p")
    assert time.monotonic() - began < 10  # the caller did not wait for the engine
    stuck = fake_api.instances[0]
    assert tesseract.POOL.idle_count() == 0 and not stuck.ended
    fake_api.release.set()  # the engine finally returns: closed, never reused
    for _ in range(100):
        if stuck.ended:
            break
        time.sleep(0.05)
    assert stuck.ended and tesseract.POOL.idle_count() == 0
    fake_api.behaviour = "ok"
    tesseract.recognise_tsv(GREY, lang="vie", dpi=200, label="p")
    assert len(fake_api.instances) == 2  # a fresh engine for the next page


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("fails", r"^a.png page 1: Tesseract failed \(recognition did not complete\)$"),
        ("raises", r"^a.png page 1: Tesseract failed \(Failed to recognise; bad image\)$"),
    ],
)
def test_engine_failure_is_one_clear_line(
    fake_api: type[FakeEngine], behaviour: str, message: str
) -> None:
    fake_api.behaviour = behaviour
    with pytest.raises(OcrEngineError, match=message):
        tesseract.recognise_tsv(GREY, lang="vie", dpi=200, label="a.png page 1")


def test_engine_that_cannot_load_is_a_clear_error(
    fake_api: type[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> None:
        raise RuntimeError("Failed to init API, possibly an invalid tessdata path: ./")

    monkeypatch.setattr(tesseract.TESSEROCR, "PyTessBaseAPI", broken)
    with pytest.raises(OcrEngineError, match="Tesseract could not load 'vie'"):
        tesseract.recognise_tsv(GREY, lang="vie", dpi=200)


def test_only_grey_images_are_accepted(fake_api: type[FakeEngine]) -> None:
    with pytest.raises(OcrEngineError, match="8-bit grey"):
        tesseract.recognise_tsv(np.zeros((4, 4, 3), np.uint8), lang="vie", dpi=200)


def test_orientation_failure_means_no_answer(
    fake_api: type[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(self: FakeEngine) -> None:
        raise RuntimeError("too few characters")

    monkeypatch.setattr(fake_api, "DetectOrientationScript", refuses)
    assert tesseract.detect_rotation(GREY) is None


def test_preload_fills_the_pool_once(fake_api: type[FakeEngine]) -> None:
    tesseract.preload("vie", 2)
    tesseract.preload("vie", 2)  # already there: nothing more is loaded
    assert len(fake_api.instances) == 2 and tesseract.POOL.idle_count() == 2
    tesseract.recognise_tsv(GREY, lang="vie", dpi=200)
    assert len(fake_api.instances) == 2  # the page read on a preloaded engine


def test_preload_is_quiet_when_the_engine_cannot_load(
    fake_api: type[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> None:
        raise RuntimeError("Failed to init API")

    monkeypatch.setattr(tesseract.TESSEROCR, "PyTessBaseAPI", broken)
    tesseract.preload("vie", 2)  # the page that needs it reports the error, with its name
    assert tesseract.POOL.idle_count() == 0


@needs_api
def test_leptonicas_messages_stay_off_a_clerks_screen() -> None:
    """Tesseract's image library printed "Error in boxClipToRectangle: box outside
    rectangle" on real pages it read well, between sohoa's own lines. Loading the engine
    turns its messages off; the probe is a Leptonica call that always complains."""
    name = tesseract.leptonica_library()
    if name is None:
        pytest.skip("no Leptonica library found by name")
    probe = f"import ctypes; ctypes.CDLL({name!r}).boxClipToRectangle(None, 10, 10)"
    root = Path(__file__).resolve().parent.parent

    def stderr_of(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120
        )
        return done.stderr

    assert "Error in boxClipToRectangle" in stderr_of(probe)  # what a clerk saw
    assert stderr_of("import pipeline.tesseract; " + probe) == ""
