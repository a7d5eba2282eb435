"""The second reader: model files checked by hash, the CTC decoder and long-line splitting,
the per-line choice between Tesseract and the neural reader, the real model on generated
lines, and a page read with networking denied."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import shutil
import socket
import sys
import threading
import types
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline import linereader
from pipeline.context import PageContext
from pipeline.crop_reader import NeuralCropReader, line_bands
from pipeline.engines import engine_for
from pipeline.linereader import (
    STEP_PX,
    DecodedChar,
    LineReading,
    ctc_greedy,
    join_pieces,
    reading_of,
    split_spans,
)
from pipeline.load import inspect_source
from pipeline.neural_engine import NeuralEngine
from pipeline.ocr import OcrWord, PageOcr
from pipeline.page import PAGE_STEPS, NeuralReadingStep, process_page
from pipeline.second_reader import (
    available_reader,
    coloured_ink_test,
    mend_reading,
    neural_wins,
)
from pipeline.tesseract_engine import TesseractEngine, parse_tsv
from pipeline.weights import (
    ModelFileError,
    ModelFileMissingError,
    default_models_dir,
    verified_files,
)
from pipeline.words import Box, lines_of
from tests import synth

MODELS = default_models_dir()
HAVE_MODELS = (MODELS / "asternet.onnx").is_file() and (MODELS / "vocab.json").is_file()
needs_models = pytest.mark.skipif(
    not HAVE_MODELS,
    reason=f"neural reader model files not in {MODELS} (scripts/setup.sh puts them there)",
)

VOCAB = ["<blank>", "a", "b", " ", "ệ"]


def _log_probs(path: list[int], *, sure: float = 0.9) -> np.ndarray:
    """(steps, classes) log-probabilities whose best path is ``path``."""
    probs = np.full((len(path), len(VOCAB)), (1 - sure) / (len(VOCAB) - 1))
    for step, index in enumerate(path):
        probs[step, index] = sure
    return np.log(probs)


# --- decoding and splitting, as plain functions ------------------------------------------


def test_ctc_greedy_merges_repeats_and_drops_blanks() -> None:
    decoded = ctc_greedy(_log_probs([0, 1, 1, 0, 1, 2, 2, 3, 0, 4]), VOCAB)
    assert "".join(c.char for c in decoded) == "aab ệ"
    assert [c.step for c in decoded] == [1, 4, 5, 7, 9]
    assert all(abs(c.probability - 0.9) < 1e-6 for c in decoded)


def test_ctc_greedy_keeps_a_characters_best_frame_probability() -> None:
    log_probs = _log_probs([1, 1])
    log_probs[1, 1] = np.log(0.97)
    (only,) = ctc_greedy(log_probs, VOCAB)
    assert only.char == "a" and abs(only.probability - 0.97) < 1e-6


def test_reading_confidence_is_the_letters_mean_and_text_is_nfc() -> None:
    chars = [DecodedChar("e", 0, 0.5), DecodedChar("\u0323", 1, 0.9), DecodedChar(" ", 2, 0.1)]
    chars += [DecodedChar(" ", 3, 0.1), DecodedChar("b", 4, 0.7)]
    reading = reading_of(chars)
    assert reading.text == "ẹ b" and len(reading.text) == 3
    assert abs(reading.confidence - 0.7) < 1e-9  # spaces do not count


def test_short_line_is_one_piece() -> None:
    assert split_spans(1024) == [(0, 1024)]


@pytest.mark.parametrize("width", [1028, 2000, 3333, 10_000])
def test_long_line_pieces_cover_it_within_the_model_limit(width: int) -> None:
    spans = split_spans(width, max_width=1024, overlap=96)
    assert spans[0][0] == 0 and spans[-1][1] == width
    for (start, end), (next_start, _) in itertools.pairwise(spans):
        assert end - start == 1024 and start % STEP_PX == 0
        assert end - next_start >= 96  # neighbours overlap
    assert all(end - start <= 1024 for start, end in spans)


def test_pieces_are_joined_without_doubling_the_overlap() -> None:
    # A line of 40 letters, one every 8 columns; read in pieces of 160 columns.
    letters = [chr(ord("a") + i % 26) for i in range(40)]
    width = len(letters) * 8
    spans = split_spans(width, max_width=160, overlap=48)
    assert len(spans) > 2
    pieces = []
    for start, end in spans:
        pieces.append(
            [
                DecodedChar(letter, (8 * i - start) // STEP_PX, 0.9)
                for i, letter in enumerate(letters)
                if start <= 8 * i < end
            ]
        )
    joined = join_pieces(spans, pieces)
    assert "".join(c.char for c in joined) == "".join(letters)
    assert [c.step for c in joined] == [8 * i // STEP_PX for i in range(40)]


# --- model files: checked by hash, absent means Tesseract alone ---------------------------


def _manifest(tmp_path: Path, content: bytes) -> Path:
    manifest = tmp_path / "models.toml"
    digest = hashlib.sha256(content).hexdigest()
    manifest.write_text(
        '[demo]\nwheel = "demo==1"\n[demo.files."weights.bin"]\n'
        f'member = "demo/weights.bin"\nsha256 = "{digest}"\n',
        encoding="utf-8",
    )
    return manifest


def test_model_file_with_its_recorded_hash_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"the vetted weights")
    files = verified_files("demo", tmp_path, _manifest(tmp_path, b"the vetted weights"))
    assert files["weights.bin"] == tmp_path / "weights.bin"


def test_tampered_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"the vetted weights, plus a backdoor")
    with pytest.raises(ModelFileError, match=r"weights\.bin has SHA-256 .* refused"):
        verified_files("demo", tmp_path, _manifest(tmp_path, b"the vetted weights"))


def test_missing_model_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match=r"weights\.bin is missing.*setup\.sh"):
        verified_files("demo", tmp_path, _manifest(tmp_path, b"x"))


def test_without_model_files_pages_are_read_by_tesseract_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh "warned once" flag, so the warning is seen whatever ran before.
    monkeypatch.setattr("pipeline.second_reader._missing_warned", threading.Event())
    with caplog.at_level(logging.WARNING, logger="pipeline.second_reader"):
        assert available_reader(tmp_path / "nothing-here") is None
    assert "Tesseract alone" in caplog.text and "asternet.onnx is missing" in caplog.text


@needs_models
def test_reader_refuses_a_tampered_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "asternet.onnx").symlink_to(MODELS / "asternet.onnx")
    vocab = (MODELS / "vocab.json").read_text(encoding="utf-8").replace('"a"', '"á"', 1)
    (tmp_path / "vocab.json").write_text(vocab, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"vocab\.json has SHA-256"):
        available_reader(tmp_path)


# --- choosing per line --------------------------------------------------------------------


class FakeReader:
    """The test reader behind the seam: a fixed reading, and a record of what it was shown."""

    def __init__(self, text: str, confidence: float = 0.98) -> None:
        self.reading = reading_of([DecodedChar(c, i, confidence) for i, c in enumerate(text)])
        self.shown: list[tuple[int, int]] = []

    def read_line(self, image: np.ndarray) -> LineReading:
        self.shown.append(image.shape[:2])
        return self.reading


def _word(text: str, left: int, line: int, confidence: float) -> OcrWord:
    return OcrWord(text, left, 40 * line, 8 * len(text), 24, confidence, 1, 1, line)


def _page(lines: list[list[tuple[str, float]]]) -> PageOcr:
    words = []
    for number, line in enumerate(lines, start=1):
        left = 10
        for text, confidence in line:
            words.append(_word(text, left, number, confidence))
            left += 8 * len(text) + 10
    rows = ["level\tblock_num\tpar_num\tline_num\tleft\ttop\twidth\theight\tconf\ttext"]
    rows += [
        f"5\t1\t1\t{w.line}\t{w.left}\t{w.top}\t{w.width}\t{w.height}\t{w.confidence}\t{w.text}"
        for w in words
    ]
    parsed, text = parse_tsv("\n".join(rows))
    return PageOcr(0, parsed, text, 800, 200, 300.0)


def test_weak_line_is_reread_and_the_better_reading_kept_with_tesseract_boxes() -> None:
    page = _page(
        [
            [("Cộng", 95), ("hòa", 96), ("xã", 94), ("hội", 97)],
            [("Độc", 70), ("lặp", 40), ("-", 80), ("Tụ", 50), ("do", 90)],
        ]
    )
    reader = FakeReader("Độc lập - Tự do")
    mended = mend_reading(page, np.full((200, 800), 255, np.uint8), reader, every_line=False)
    assert len(reader.shown) == 1  # the confident line was not re-read
    assert mended.lines_read == 1 and mended.lines_replaced == 1
    assert mended.ocr.text == "Cộng hòa xã hội\nĐộc lập - Tự do"
    old_line, new_line = page.words[4:], mended.ocr.words[4:]
    assert [(w.left, w.width) for w in new_line] == [(w.left, w.width) for w in old_line]
    assert all(abs(w.confidence - 98.0) < 1e-6 for w in new_line)


def test_neural_text_with_other_word_count_is_spread_over_the_line_box() -> None:
    page = _page([[("Ngày15", 30), ("tháng", 60)]])
    mended = mend_reading(
        page, np.full((200, 800), 255, np.uint8), FakeReader("Ngày 15 tháng"), every_line=False
    )
    words = mended.ocr.words
    assert [w.text for w in words] == ["Ngày", "15", "tháng"]
    line_left = page.words[0].left
    line_right = page.words[-1].left + page.words[-1].width
    assert words[0].left == line_left and words[-1].left + words[-1].width == line_right
    assert words[0].left < words[1].left < words[2].left
    assert {(w.block, w.paragraph, w.line) for w in words} == {(1, 1, 1)}


def test_a_worse_neural_reading_loses() -> None:
    page = _page([[("Độc", 70), ("lập", 60), ("Tự", 50), ("do", 90)]])
    mended = mend_reading(
        page, np.full((200, 800), 255, np.uint8), FakeReader("Đôc lâp Tư dơ"), every_line=True
    )
    assert mended.lines_replaced == 0 and mended.ocr is page


def test_a_reading_of_something_else_never_wins() -> None:
    # Much longer than Tesseract's reading of the same box: another line was in the crop.
    long = LineReading("Độc lập Tự do Hạnh phúc Cộng hòa xã hội chủ nghĩa", 0.99, ())
    assert not neural_wins("Độc lập", 40.0, long, frozenset({("đôc", 5), ("lâp", 5)}))


# --- the real model --------------------------------------------------------------------


def _line_image(text: str, size: int = 36) -> np.ndarray:
    font = ImageFont.truetype(synth.find_font("serif"), size)
    image = Image.new("L", (int(font.getlength(text)) + 24, int(size * 1.5)), 250)
    ImageDraw.Draw(image).text((12, size // 6), text, font=font, fill=25)
    return np.asarray(image)


@pytest.mark.slow
@needs_models
def test_neural_reader_reads_a_generated_vietnamese_line() -> None:
    reader = linereader.shared_reader()
    text = "Nơi thường trú: thôn Đông, xã Hưng Đạo, huyện Tiên Lữ"
    reading = reader.read_line(_line_image(text))
    # Two letters in 53 at most: its language sense sometimes prefers a commoner tone
    # ("Đồng" for "Đông"), which is why it only mends lines Tesseract reads worse.
    assert synth.char_error_rate(text, reading.text) <= 0.04
    assert reading.confidence > 0.8


@pytest.mark.slow
@needs_models
def test_neural_reader_reads_a_line_longer_than_the_model_takes() -> None:
    reader = linereader.shared_reader()
    text = (
        "Thời gian giải quyết hồ sơ theo quy định là năm ngày làm việc, "
        "đăng ký nhận kết quả tại bưu điện tỉnh Quảng Ninh"
    )
    image = _line_image(text)
    assert image.shape[1] * 32 / image.shape[0] > linereader.MAX_PIECE_PX  # two pieces
    reading = reader.read_line(image)
    assert synth.char_error_rate(text, reading.text) <= 0.03


@pytest.mark.slow
@needs_models
def test_crop_reader_reads_each_line_of_a_field() -> None:
    top, bottom = _line_image("Ngô Đình Lộc"), _line_image("03/03/2004")
    width = max(top.shape[1], bottom.shape[1])
    crop = np.full((top.shape[0] + bottom.shape[0] + 20, width + 20), 250, np.uint8)
    crop[: top.shape[0], : top.shape[1]] = top
    crop[top.shape[0] + 20 :, : bottom.shape[1]] = bottom
    assert len(line_bands(crop)) == 2
    reading = NeuralCropReader(linereader.shared_reader()).read_crop(crop)
    assert (
        reading is not None and synth.char_error_rate("Ngô Đình Lộc 03/03/2004", reading.text) < 0.1
    )
    assert 0.5 < reading.confidence <= 1.0
    assert (
        NeuralCropReader(linereader.shared_reader()).read_crop(np.full((60, 200), 250, np.uint8))
        is None
    )


@pytest.mark.slow
@needs_models
def test_engines_behind_one_seam_read_the_same_page() -> None:
    lines = ["Cộng hòa xã hội chủ nghĩa Việt Nam", "Độc lập - Tự do - Hạnh phúc"]
    page = synth.render_page(lines, dpi=200, font_pt=14)
    grey = np.asarray(page.image.convert("L"))
    tesseract = TesseractEngine(lang="vie")
    for engine in (tesseract, NeuralEngine(linereader.shared_reader(), layout=tesseract)):
        read = engine.read(grey, dpi=200, timeout_s=60, label=engine.name)
        text = "\n".join(" ".join(w.text for w in line) for line in lines_of(read))
        assert synth.char_error_rate("\n".join(lines), text) < 0.05
        assert all(w.width > 0 and 0 <= w.confidence <= 100 for w in read)
        assert [w.line_key for w in read] == sorted(w.line_key for w in read)


@pytest.mark.slow
@needs_models
def test_the_neural_engine_is_named_and_reads_one_line_alone() -> None:
    neural = engine_for(PageContext(source_name="line.png", page_index=0, ocr_engine="neural"))
    assert isinstance(neural, NeuralEngine)
    text = "Ngô Đình Lộc 03/03/2004"
    line = _line_image(text)
    words = neural.read(line, dpi=None, one_line=True, timeout_s=30, label="line.png")
    assert synth.char_error_rate(text, " ".join(w.text for w in words)) < 0.1
    assert {w.line_key for w in words} == {(1, 1, 1)}
    assert all(w.left >= 0 and w.left + w.width <= line.shape[1] for w in words)


@pytest.mark.slow
@needs_models
def test_a_page_is_read_with_networking_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("networking denied in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(linereader, "_shared", {})  # the model is loaded under the ban too
    page = synth.stamped_pages(1, dpi=200)[0]
    path = tmp_path / "stamped.jpg"
    page.image.save(path, "JPEG", quality=90, dpi=(200, 200))
    every_line = tuple(
        NeuralReadingStep(every_line=True) if isinstance(s, NeuralReadingStep) else s
        for s in PAGE_STEPS
    )
    source = inspect_source(path)
    outcome = process_page(
        source,
        PageContext(source_name=path.name, page_index=0, second_reader=True),
        tmp_path / "w",
        steps=every_line,
    )
    text = outcome.text_path.read_text(encoding="utf-8")
    assert synth.char_error_rate(page.text, text) < 0.03
    assert linereader._shared  # the neural reader was loaded and used in this process
    assert attempts == []
    assert not [name for name in sys.modules if name.split(".")[0] == "asterocr"]
    shutil.rmtree(tmp_path / "w")


def test_lines_crossed_by_a_seal_are_found_through_the_cleanup_transform() -> None:
    original = np.full((400, 600, 3), 245, np.uint8)
    cv2.circle(original, (450, 100), 60, (40, 40, 220), 6)  # a red ring (BGR), top right
    # The cleaned page is the original turned 90° clockwise: (x, y) -> (399 - y, x).
    to_cleaned = np.array([[0.0, -1.0, 399.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    crosses = coloured_ink_test(original, to_cleaned, (600, 400))
    assert crosses is not None
    assert crosses(Box(left=230, top=380, width=140, height=30))  # where the ring went
    assert not crosses(Box(left=230, top=60, width=140, height=30))  # where the ring was
    assert coloured_ink_test(np.full((400, 600, 3), 245, np.uint8), np.eye(3), (400, 600)) is None


# --- set-up: files out of the wheel, checked, the wheel never installed -------------------


def _fetch_script() -> types.ModuleType:
    path = Path(__file__).resolve().parent.parent / "scripts" / "fetch_models.py"
    spec = importlib.util.spec_from_file_location("fetch_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_pip_download(wheel_members: dict[str, bytes], calls: list[list[str]]) -> object:
    """Stands in for ``pip download``: writes a wheel holding ``wheel_members``."""

    def run(command: list[str], check: bool) -> None:
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "demo-1-py3-none-any.whl", "w") as wheel:
            for member, data in wheel_members.items():
                wheel.writestr(member, data)

    return run


def test_setup_takes_only_the_listed_files_out_of_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch_models = _fetch_script()
    calls: list[list[str]] = []
    members = {"demo/weights.bin": b"the vetted weights", "demo/telemetry.py": b"import socket"}
    monkeypatch.setattr(fetch_models.subprocess, "run", _fake_pip_download(members, calls))
    dest = tmp_path / "models"
    assert fetch_models.fetch(dest, _manifest(tmp_path, b"the vetted weights")) == ["weights.bin"]
    assert sorted(p.name for p in dest.iterdir()) == ["weights.bin"]
    assert "download" in calls[0] and "--no-deps" in calls[0] and "install" not in calls[0]
    # In place and intact: nothing is downloaded again.
    assert fetch_models.fetch(dest, _manifest(tmp_path, b"the vetted weights")) == []
    assert len(calls) == 1


def test_setup_refuses_a_wheel_whose_file_has_another_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch_models = _fetch_script()
    members = {"demo/weights.bin": b"weights someone replaced"}
    monkeypatch.setattr(fetch_models.subprocess, "run", _fake_pip_download(members, []))
    dest = tmp_path / "models"
    with pytest.raises(SystemExit, match=r"weights\.bin from demo==1 has SHA-256"):
        fetch_models.fetch(dest, _manifest(tmp_path, b"the vetted weights"))
    assert list(dest.iterdir()) == []
