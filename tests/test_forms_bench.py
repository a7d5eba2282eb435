"""The truth of bench/forms.py: a hand-filled form's machine print, without the pen's values."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from tests import dossiers


@pytest.mark.parametrize("procedure", ["doi-gplx", "lltp"])
def test_printed_lines_hold_the_labels_and_none_of_the_handwriting(procedure: str) -> None:
    truth = dossiers.random_truth(random.Random(7), procedure=procedure)
    typed = dossiers.render_application_form(truth, dpi=60, rng=random.Random(7))
    # Typed in: every line is machine print, values included.
    assert typed.meta["printed_lines"] == typed.lines
    assert any(truth.person.id_number in line for line in typed.lines)

    hand = dossiers.render_application_form(
        replace(truth, handwritten=True), dpi=60, rng=random.Random(7)
    )
    printed = "\n".join(str(line) for line in hand.meta["printed_lines"])  # type: ignore[attr-defined]
    assert hand.meta["printed_lines"] != hand.lines  # the pen's values are in lines only
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in printed
    labels = ("Kính gửi:", "nơi cấp:") + (
        ("Tôi là: Quốc tịch:", "Ngày tháng năm sinh:", "Lý do:")
        if procedure == "doi-gplx"
        else ("1. Họ và tên:", "3. Giới tính: 4. Ngày sinh:", "Yêu cầu cấp: Phiếu số 1 Phiếu số 2")
    )
    for label in labels:
        assert label in printed.splitlines() or label in printed, label
    pen = [truth.person.id_number, f"{truth.person.date_of_birth:%d/%m/%Y}"]
    if truth.gplx is not None:
        pen += [truth.gplx.licence_number, truth.gplx.driving_school]
    else:
        assert truth.lltp is not None
        pen += [truth.lltp.father, truth.lltp.mother, truth.person.phone]
    for value in pen:
        assert value not in printed, value
        assert any(value in line for line in hand.lines), value
    # The blank form's own print: no value filled in, typed ones neither (the name under
    # the signature is typed).
    form = "\n".join(str(line) for line in hand.meta["form_lines"])  # type: ignore[attr-defined]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in form and "Kính gửi:" in form
    assert truth.person.full_name in printed and truth.person.full_name not in form
    # Reading order: the printed lines keep the page's order from top to bottom.
    order = [line for line in printed.splitlines() if line in ("Kính gửi:", "nơi cấp:")]
    assert order == ["Kính gửi:", "nơi cấp:"]
