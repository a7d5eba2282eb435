"""The never-worse guard (pipeline/guard.py): when it reads the untouched scan, what it
keeps, and that every page's decision is logged and kept in its page record."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from PIL import ImageDraw, ImageFont

from models.pagerecord import GuardDecision, ReadingFigures, decode_page_record
from pipeline.context import PageContext
from pipeline.guard import KEPT_CLEANED, KEPT_UNTOUCHED, choose, why_suspect
from pipeline.load import inspect_source
from pipeline.ocr import PageOcr
from pipeline.page import process_page
from tests import synth

LETTER = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015",
    "Ủy ban nhân dân tỉnh đề nghị các sở, ban, ngành thực hiện nghiêm túc",
    "Thời gian nhận hồ sơ: mười giờ ba mươi phút, ngày mười lăm tháng sáu",
    "Nơi thường trú: thôn Đông, xã Hưng Đạo, huyện Tiên Lữ, tỉnh Hưng Yên",
]
# The signer's title and name, put on with a rubber stamp in blue ink: text, not a seal.
STAMPED = ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Nguyễn Văn Thành"]


def _figures(score: float) -> ReadingFigures:
    return ReadingFigures(words=100, mean_confidence=90.0, syllable_rate=0.9, score=score)


def test_the_untouched_reading_is_kept_only_when_it_holds_more_good_text() -> None:
    assert choose(_figures(50.0), _figures(60.0), "r").kept == KEPT_UNTOUCHED
    assert choose(_figures(60.0), _figures(50.0), "r").kept == KEPT_CLEANED
    assert choose(_figures(60.0), _figures(60.0), "r").kept == KEPT_CLEANED  # a tie: cleaned
    assert choose(_figures(60.0), None, "r").kept == KEPT_CLEANED


def test_faded_coloured_ink_or_a_doubtful_reading_make_a_page_suspect() -> None:
    empty = PageOcr(index=0, words=(), text="", image_width=10, image_height=10, dpi=300.0)
    assert why_suspect(empty, "vie", faded_ink=False) == "first reading doubtful"
    assert why_suspect(empty, "vie", faded_ink=True) == (
        "first reading doubtful and coloured ink faded"
    )


def test_the_guard_decision_survives_the_page_record() -> None:
    from models.pagerecord import PageRecord, encode_page_record

    decision = GuardDecision(KEPT_UNTOUCHED, "coloured ink faded", _figures(1.0), _figures(2.0))
    record = PageRecord(index=0, text="x", guard=decision)
    assert decode_page_record(encode_page_record(record)).guard == decision
    assert decode_page_record(encode_page_record(PageRecord(index=0, text="x"))).guard is None
    with pytest.raises(ValueError, match="malformed"):
        decode_page_record(b'{"index": 0, "guard": {"kept": "cleaned"}}')


@pytest.mark.slow
def test_a_title_and_name_stamped_in_blue_are_read_as_bare_tesseract_reads_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Cleanup fades coloured ink so that seals and signatures do not garble the print
    under them; a title and name stamped in colour faded with them. The guard reads the
    untouched scan too and keeps it, so the page reads no worse than the engine alone."""
    page = synth.render_page(LETTER, dpi=200, font_pt=12)
    draw = ImageDraw.Draw(page.image)
    font = ImageFont.truetype(synth.find_font("serif"), round(14 * 200 / 72))
    for row, line in enumerate(STAMPED):
        draw.text((800, 700 + 60 * row), line, font=font, fill=(40, 60, 200))
    truth = page.text + "\n" + "\n".join(STAMPED)
    path = tmp_path / "stamped.png"
    page.image.save(path, dpi=(200, 200))
    with caplog.at_level(logging.INFO, logger="pipeline.guard"):
        outcome = process_page(
            inspect_source(path), PageContext(source_name=path.name, page_index=0), tmp_path / "w"
        )
    text = outcome.text_path.read_text(encoding="utf-8")
    bare = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "vie"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert "Nguyễn Văn Thành" in text
    assert synth.char_error_rate(truth, text) <= synth.char_error_rate(truth, bare) + 0.005
    guard = outcome.record.guard
    assert guard is not None and guard.kept == KEPT_UNTOUCHED, guard
    assert guard.reason == "coloured ink faded"
    assert guard.untouched is not None and guard.untouched.words > guard.cleaned.words
    stored = decode_page_record(outcome.record_path.read_bytes())
    assert stored.guard == guard
    [line] = [r.getMessage() for r in caplog.records if r.name == "pipeline.guard"]
    assert line.startswith("guard stamped.png p1: kept untouched (coloured ink faded)"), line
    assert "score" in line and "untouched" in line.split(":", 2)[2]


@pytest.mark.slow
def test_a_sound_page_without_coloured_ink_is_read_once_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = synth.render_page(LETTER, dpi=200, font_pt=12)
    path = tmp_path / "plain.png"
    page.image.save(path, dpi=(200, 200))
    with caplog.at_level(logging.INFO, logger="pipeline.guard"):
        outcome = process_page(
            inspect_source(path), PageContext(source_name=path.name, page_index=0), tmp_path / "w"
        )
    guard = outcome.record.guard
    assert guard is not None and guard.kept == KEPT_CLEANED and guard.untouched is None
    assert guard.reason == "first reading sound, no coloured ink faded"
    assert guard.cleaned.words >= 40 and guard.cleaned.mean_confidence > 78.0
    assert [r.name for r in caplog.records].count("pipeline.guard") == 1


def test_more_text_read_much_less_surely_after_a_sound_reading_is_not_kept() -> None:
    """A pen's values on a form: the untouched scan reads them as extra words, with clearly
    less confidence than the print a sound first reading holds (issue 28)."""
    sound = ReadingFigures(words=145, mean_confidence=95.4, syllable_rate=0.99, score=140.7)
    with_pen = ReadingFigures(words=204, mean_confidence=84.4, syllable_rate=0.87, score=164.1)
    decision = choose(sound, with_pen, "coloured ink faded")
    assert decision.kept == KEPT_CLEANED
    assert decision.reason.startswith("coloured ink faded; untouched reading 11.0 points less")
    # Nearly as sure (print stamped in colour), or a doubtful first reading: untouched wins.
    stamped = ReadingFigures(words=160, mean_confidence=93.0, syllable_rate=0.97, score=150.0)
    assert choose(sound, stamped, "coloured ink faded").kept == KEPT_UNTOUCHED
    doubtful = ReadingFigures(words=106, mean_confidence=42.2, syllable_rate=0.19, score=14.2)
    better = ReadingFigures(words=78, mean_confidence=30.0, syllable_rate=0.85, score=60.4)
    assert choose(doubtful, better, "first reading doubtful").kept == KEPT_UNTOUCHED
