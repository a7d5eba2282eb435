"""Words in coloured ink (pipeline/inkcolour.py): a pen's values leave the reading, coloured
print stays, and coloured print cleanup faded comes back from the untouched scan's reading."""

from __future__ import annotations

import random
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.pagerecord import OcrWord
from pipeline.context import PageContext
from pipeline.inkcolour import coloured_threshold, sort_by_colour, word_chromas
from pipeline.load import inspect_source
from pipeline.page import process_page
from pipeline.vietnamese import plausible_print_word
from tests import dossiers, synth

BLACK, BLUE, PALE_BLUE = (20, 20, 20), (170, 60, 40), (150, 110, 95)  # BGR


def _page(marks: list[tuple[int, int, tuple[int, int, int]]]) -> np.ndarray:
    """A white page with a dark bar (a word's ink) of each colour at each (left, top)."""
    page = np.full((400, 600, 3), 245, np.uint8)
    for left, top, colour in marks:
        page[top + 5 : top + 15, left + 2 : left + 38] = colour
    return page


def _word(text: str, left: int, top: int, confidence: float, line: int, block: int = 1) -> OcrWord:
    return OcrWord(text, left, top, 40, 20, confidence, block, 1, line)


def test_a_pale_pen_counts_as_coloured_against_the_page_s_own_print() -> None:
    page = _page([(10, 10, BLACK), (60, 10, BLACK), (110, 10, PALE_BLUE)])
    words = [_word("Họ", 10, 10, 96, 1), _word("tên:", 60, 10, 96, 1), _word("Đỗ", 110, 10, 40, 1)]
    chromas = word_chromas(page, np.eye(3), words)
    assert chromas[0] == chromas[1] == 0.0
    assert chromas[2] > coloured_threshold(chromas)  # a photo's pale blue: 55, not 60+
    # A page printed all in blue: its print is the norm, nothing on it is "coloured".
    blue = _page([(10, 10, BLUE), (60, 10, BLUE), (110, 10, BLUE)])
    all_blue = word_chromas(blue, np.eye(3), words)
    assert all(c <= coloured_threshold(all_blue) for c in all_blue)


def test_a_pen_s_run_leaves_the_reading_and_coloured_print_stays() -> None:
    marks = [(10 + 50 * i, 10, BLACK) for i in range(3)]
    marks += [(160 + 50 * i, 10, BLUE) for i in range(3)]  # a pen's value after the label
    marks += [(10 + 50 * i, 60, BLUE) for i in range(3)]  # a line typed in blue
    marks += [(10 + 50 * i, 110, BLACK) for i in range(4)]
    page = _page(marks)
    words = [_word(t, 10 + 50 * i, 10, 96, 1) for i, t in enumerate(["1.", "Họ", "tên:"])]
    # The pen: a word read by luck at 95 among ones read at 20-60.
    words += [
        _word(t, 160 + 50 * i, 10, c, 1)
        for i, (t, c) in enumerate([("Đỗ", 95), ("/ZOc", 20), ("60%", 55)])
    ]
    words += [_word(t, 10 + 50 * i, 60, 96, 2) for i, t in enumerate(["Tổ", "khu", "Giang"])]
    words += [
        _word(t, 10 + 50 * i, 110, 97, 3) for i, t in enumerate(["Tôi", "xin", "cam", "đoan"])
    ]
    kept, sorting = sort_by_colour(words, original=page, to_original=np.eye(3))
    assert [w.text for w in kept] == [
        "1.",
        "Họ",
        "tên:",
        "Tổ",
        "khu",
        "Giang",
        "Tôi",
        "xin",
        "cam",
        "đoan",
    ]
    assert (sorting.coloured_kept, sorting.coloured_dropped, sorting.recovered) == (3, 3, 0)


def test_print_under_a_warm_lamp_is_not_coloured_ink() -> None:
    """A lamp's colour tints paper and faint print alike: each word is seen against its own
    paper, so faint grey print read unsurely stays, while a pen under the same light goes."""
    page = np.full((200, 600, 3), (170, 210, 230), np.uint8)  # BGR: yellowish paper
    for left in (10, 60, 110, 160, 210):
        page[15:25, left + 2 : left + 38] = (30, 37, 40)  # black print
    for left in (260, 310):
        page[15:25, left + 2 : left + 38] = (90, 120, 135)  # faint grey print, same light
    page[65:75, 12:48] = (150, 60, 50)  # a blue pen's word on the next line
    page[65:75, 62:98] = (150, 60, 50)
    black = ["Căn", "cứ", "Luật", "Tổ", "chức"]
    words = [_word(t, 10 + 50 * i, 10, 95, 1) for i, t in enumerate(black)]
    words += [_word(t, 260 + 50 * i, 10, 70, 1) for i, t in enumerate(["chính", "quyền"])]
    words += [_word("Đỗ", 10, 60, 93, 2), _word("/ZOc", 60, 60, 20, 2)]
    kept, sorting = sort_by_colour(words, original=page, to_original=np.eye(3))
    assert [w.text for w in kept] == [*black, "chính", "quyền"]
    assert sorting.coloured_dropped == 2


def test_a_stray_coloured_mark_too_small_to_judge_is_left_as_read() -> None:
    page = _page([(10, 10, BLACK), (60, 10, BLACK), (110, 10, BLUE)])
    words = [
        _word("Nơi", 10, 10, 96, 1),
        _word("nhận:", 60, 10, 96, 1),
        _word("&=:", 110, 10, 0, 1),
    ]
    kept, sorting = sort_by_colour(words, original=page, to_original=np.eye(3))
    assert [w.text for w in kept] == ["Nơi", "nhận:", "&=:"] and not sorting.changed


def test_coloured_print_with_a_mark_in_its_run_stays_and_a_pen_s_lucky_run_goes() -> None:
    """A residence table typed in blue, its cell's rule read into a date ("|03/1992" at
    17), and a footer in navy with a logo read as a word ("[HIẾU" at 0): most words read as
    surely as print and all of those are plausible printed words, so the print stays and
    the mark goes, leaving no hole in its line (a photographed form 22.7 -> 19.6 %, a real
    auditor's report's footer back in its line, 2.3 -> 1.5 %). A pen's run read at 92-95
    by luck but for one word holds words no print has ("t", "tñô"): it still goes."""
    table = [("|03/1992", 17), ("03/1994", 97), ("Xã", 97), ("Quang", 97), ("Trung,", 96)]
    footer = [("A", 75), ("member", 90), ("of", 93), ("[HIẾU", 0), ("International", 95)]
    pen = [("Cẳn/", 93), ("sá", 95), ("t", 93), ("giao", 94), ("tñô", 92), ("tỈn", 46)]
    marks = [(10 + 50 * i, 10 + 50 * row, BLUE) for row in range(3) for i in range(6)]
    # The page's own print, black, most of its words.
    marks += [(10 + 50 * i, 160 + 50 * row, BLACK) for row in range(4) for i in range(6)]
    page = _page(marks)
    words = [
        _word(text, 10 + 50 * i, 10 + 50 * row, confidence, row + 1)
        for row, run in enumerate((table, footer, pen))
        for i, (text, confidence) in enumerate(run)
    ]
    black = ["Tôi", "xin", "cam", "đoan", "khai", "đúng"] * 4
    words += [
        _word(t, 10 + 50 * (i % 6), 160 + 50 * (i // 6), 96, 4 + i // 6)
        for i, t in enumerate(black)
    ]
    kept, sorting = sort_by_colour(words, original=page, to_original=np.eye(3))
    assert [w.text for w in kept] == [
        *("03/1994", "Xã", "Quang", "Trung,"),
        *("A", "member", "of", "International"),
        *black,
    ]
    assert (sorting.coloured_kept, sorting.coloured_dropped) == (8, 8)
    # The logo's place is no hole in the footer's line (a text layer takes a hole wider
    # than a gutter for one): the word after it is laid from where the logo began.
    after_logo = next(w for w in kept if w.text == "International")
    assert (after_logo.left, after_logo.left + after_logo.width) == (160, 250)
    assert next(w for w in kept if w.text == "03/1994").left == 60  # no word before the rule


def test_a_printed_word_is_told_from_a_pen_s_lucky_reading() -> None:
    plausible = ["Quang", "TRUNG", "đường", "Lợi,", "(ii)", "03/1994", "18,", "HLB", "member"]
    assert all(plausible_print_word(word) for word in plausible)
    lucky = ["t", "tñô", "CÔng", "Cẳn/x", "3a5", "", "|", "qwż"]
    assert not any(plausible_print_word(word) for word in lucky)


def test_coloured_print_cleanup_faded_comes_back_from_the_untouched_reading_once() -> None:
    marks = [(10 + 50 * i, 10, BLACK) for i in range(3)] + [
        (10 + 50 * i, 110, BLACK) for i in range(3)
    ]
    marks += [(10 + 50 * i, 60, BLUE) for i in range(3)] + [(300, 160, BLUE)]
    page = _page(marks)
    # The cleaned page was shifted 5 px right and 3 down (its deskew): boxes move with it.
    to_cleaned = np.array([[1.0, 0, 5], [0, 1.0, 3], [0, 0, 1.0]])
    cleaned = [_word(t, 15 + 50 * i, 13, 96, 1) for i, t in enumerate(["Từ", "ngày", "Đến"])]
    cleaned += [
        _word(t, 15 + 50 * i, 113, 96, 1, block=2) for i, t in enumerate(["Nghề", "nghiệp", "Nơi"])
    ]
    cleaned.append(_word("05/2016", 15, 63, 97, 1, block=3))  # one faded word it still read
    untouched = [
        _word(t, 10 + 50 * i, 60, 96, 1, block=7) for i, t in enumerate(["05/2016", "nay", "Tổ"])
    ]
    untouched += [
        _word(t, 10 + 50 * i, 10, 96, 1, block=6) for i, t in enumerate(["Từ", "ngày", "Đến"])
    ]
    # A pen's "5," read surely: too small to judge, so never taken as print from here.
    untouched.append(_word("5,", 300, 160, 97, 1, block=8))
    kept, sorting = sort_by_colour(
        cleaned,
        original=page,
        to_original=np.linalg.inv(to_cleaned),
        untouched=untouched,
        to_reading=to_cleaned,
    )
    texts = [w.text for w in kept]
    assert texts == ["Từ", "ngày", "Đến", "nay", "Tổ", "Nghề", "nghiệp", "Nơi", "05/2016"]
    assert sorting.recovered == 2
    nay = kept[3]
    assert (nay.left, nay.top, nay.width, nay.height) == (65, 63, 40, 20)  # in cleaned pixels
    assert nay.line_key == kept[4].line_key and nay.block > 3  # a line of its own block


@pytest.mark.slow
def test_a_form_filled_in_by_pen_reads_its_print_without_the_pen(tmp_path: Path) -> None:
    """bench/forms.py's case, scanned in colour at 200 dpi: the pen's values are not in the
    text, the residence table typed in blue is, and the print reads far better than bare
    Tesseract reads it (which keeps the pen's words)."""
    truth = replace(dossiers.random_truth(random.Random(12), procedure="lltp"), handwritten=True)
    page = dossiers.render_application_form(truth, dpi=200, rng=random.Random(12))
    scanned = synth.degrade(page, synth.Degradation(skew_deg=0.6, noise_sigma=3.0), seed=12)
    path = tmp_path / "lltp.jpg"
    scanned.image.convert("RGB").save(path, quality=85, dpi=(200, 200))
    outcome = process_page(
        inspect_source(path), PageContext(source_name=path.name, page_index=0), tmp_path / "w"
    )
    text = outcome.text_path.read_text(encoding="utf-8")
    printed = "\n".join(str(line) for line in page.meta["printed_lines"])  # type: ignore[attr-defined]
    assert truth.lltp is not None
    for value in (truth.person.phone, truth.lltp.father, truth.lltp.mother):
        assert value not in text, value
    assert "Học sinh" in text or "Nông dân" in text  # the blue-typed table
    bare = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "vie"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    ours, engine = synth.char_error_rate(printed, text), synth.char_error_rate(printed, bare)
    assert ours < engine - 0.1, (ours, engine)
    image = cv2.imread(str(path))
    assert image is not None and image.ndim == 3  # the case is a colour page
