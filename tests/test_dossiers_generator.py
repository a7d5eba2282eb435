"""The dossier generator (tests/dossiers.py) produces what it claims: valid identifiers, pages
of the right size, and QR codes that still decode after the simulated counter scan."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import cast

import numpy as np
import pikepdf
import pytest
import zxingcpp

from tests import dossiers, synth
from tests.synth import SynthPage

# domain.md, "Citizen ID (CCCD) number": the 63 province codes, written out independently.
_CODES = """
    001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033
    034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066
    067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096
"""
DOMAIN_PROVINCE_CODES = set(_CODES.split())
DOSSIER_CODE = re.compile(r"^(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-(\d{2})(\d{2})(\d{2})-(\d{4})$")
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
PROCEDURE_CODE = re.compile(r"^[12]\.\d{6}\.\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")


def cccd_problems(number: str, birth: date, sex: str) -> list[str]:
    """What is wrong with a 12-digit CCCD number, per domain.md (empty list: valid)."""
    if not re.fullmatch(r"\d{12}", number):
        return [f"{number!r} is not 12 digits"]
    problems = []
    if number[:3] not in DOMAIN_PROVINCE_CODES:
        problems.append(f"province code {number[:3]} is not one of the 63")
    century = {19: 0, 20: 2, 21: 4}.get(birth.year // 100)
    if century is None:
        problems.append(f"birth year {birth.year} outside 1900-2199")
    else:
        expected = century + (0 if sex == "Nam" else 1)
        if int(number[3]) != expected:
            problems.append(f"century/sex digit {number[3]} != {expected} ({birth.year}, {sex})")
    if number[4:6] != f"{birth.year % 100:02d}":
        problems.append(f"year digits {number[4:6]} != {birth.year % 100:02d}")
    return problems


def paper_mm(page: SynthPage) -> tuple[float, float]:
    return cast(tuple[float, float], page.meta["page_mm"])


def decode_qr(page: SynthPage) -> list[bytes]:
    found = zxingcpp.read_barcodes(np.asarray(page.image.convert("RGB")), formats=QR_ONLY)
    return [b.bytes for b in found]


@pytest.fixture(scope="module")
def stack() -> tuple[list[SynthPage], list[dossiers.DossierTruth], list[int]]:
    return dossiers.make_stack(10, seed=20251103)


def test_cccd_numbers_are_structurally_valid() -> None:
    rng = random.Random(1)
    people = [dossiers.random_person(rng) for _ in range(400)]
    for person in people:
        assert cccd_problems(person.id_number, person.date_of_birth, person.sex) == [], person
    # both centuries and both sexes occur, so the century/sex digit is really exercised
    assert {p.id_number[3] for p in people} == {"0", "1", "2", "3"}
    # and the checker itself rejects what it should
    good = people[0]
    wrong_sex = "Nữ" if good.sex == "Nam" else "Nam"
    assert cccd_problems(good.id_number, good.date_of_birth, wrong_sex)
    assert cccd_problems("003" + good.id_number[3:], good.date_of_birth, good.sex)
    assert cccd_problems(good.id_number[:-1], good.date_of_birth, good.sex)


def test_people_look_real() -> None:
    rng = random.Random(2)
    for _ in range(200):
        p = dossiers.random_person(rng)
        assert p.full_name == unicodedata.normalize("NFC", p.full_name)
        words = p.full_name.split()
        assert 3 <= len(words) <= 5 and all(w[0].isupper() and w[1:].islower() for w in words)
        assert p.sex in {"Nam", "Nữ"}
        assert p.old_id is None or re.fullmatch(r"\d{9}", p.old_id)
        assert re.fullmatch(r"0[35789]\d{8}", p.phone), p.phone
        assert p.id_issue_date >= date(p.date_of_birth.year + 14, 1, 1)
        fields = dossiers.cccd_qr_payload(p).split("|")
        assert len(fields) == (7 if p.old_id else 6)
        assert fields[0] == p.id_number and fields[-1] == f"{p.id_issue_date:%d%m%Y}"
        assert p.full_name in fields and p.address in fields
        assert f"{p.date_of_birth:%d%m%Y}" in fields
    names = " ".join(dossiers.random_person(rng).full_name for _ in range(50))
    assert any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", names))


def test_truths_and_expected_fields() -> None:
    rng = random.Random(3)
    for _ in range(100):
        truth = dossiers.random_truth(rng)
        m = DOSSIER_CODE.match(truth.dossier_code)
        assert m, truth.dossier_code
        yy, mm, dd = (int(g) for g in m.group(2, 3, 4))
        assert date(2000 + yy, mm, dd) == truth.received_date
        assert m.group(1).endswith(truth.agency.code)
        assert PROCEDURE_CODE.match(truth.procedure_code), truth.procedure_code
        assert truth.procedure_code.endswith(truth.agency.code)
        assert truth.appointment > truth.received and truth.appointment.weekday() < 5
        fields = truth.expected_fields()
        assert set(fields) == {
            "dossier_code",
            "procedure",
            "full_name",
            "date_of_birth",
            "sex",
            "id_number",
            "address",
            "phone",
        }
        assert fields["procedure"] in {"doi-gplx", "lltp"}
        assert date.fromisoformat(fields["date_of_birth"]) == truth.person.date_of_birth
        assert (truth.gplx is not None) == (truth.procedure == "doi-gplx")
        assert (truth.lltp is not None) == (truth.procedure == "lltp")


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_pages_render_at_requested_size(dpi: int) -> None:
    truth = dossiers.random_truth(random.Random(dpi), procedure="doi-gplx")
    lltp = dossiers.random_truth(random.Random(dpi), procedure="lltp")

    def px(mm: float) -> int:
        return round(mm / 25.4 * dpi)

    a4, a5 = (px(210), px(297)), (px(148), px(210))
    rendered = [
        (dossiers.render_receipt(truth, dpi=dpi), a5, "receipt"),
        (dossiers.render_gplx_form(truth, dpi=dpi), a4, "application_form"),
        (dossiers.render_lltp_form(lltp, dpi=dpi), a4, "application_form"),
        (dossiers.render_id_copy(truth, dpi=dpi), a4, "id_copy"),
        (dossiers.render_separator(dpi=dpi), a4, "separator"),
        (dossiers.render_blank_back(dpi=dpi), a4, "blank"),
        (dossiers.render_other(truth, dpi=dpi), a4, "other"),
    ]
    for (image, kind), size, expected_kind in rendered:
        assert image.mode == "RGB" and image.size == size and kind == expected_kind


def test_receipt_qr_upper_left_in_every_style() -> None:
    truth = dossiers.random_truth(random.Random(4), procedure="lltp")
    dpi = 200
    parsed: dict[str, dict[str, str]] = {}
    pipe: list[str] = []
    for style in dossiers.QR_STYLES:
        image, _ = dossiers.render_receipt(truth, dpi=dpi, qr_style=style)
        [code] = zxingcpp.read_barcodes(image, formats=QR_ONLY)
        assert code.bytes.decode("utf-8") == dossiers.receipt_qr_payload(truth, style)
        assert code.ec_level == "M"
        xs = [p.x for p in (code.position.top_left, code.position.bottom_right)]
        ys = [p.y for p in (code.position.top_left, code.position.bottom_right)]
        assert max(xs) < image.width / 3 and max(ys) < image.height / 4, code.position
        width_mm = (xs[1] - xs[0]) / dpi * 25.4
        assert 20.0 <= width_mm <= 25.5, width_mm
        text = code.bytes.decode("utf-8")
        if style == "json":
            parsed[style] = json.loads(text)
        elif style == "kv":
            parsed[style] = dict(item.split("=", 1) for item in text.split(";"))
        else:
            pipe = text.split("|")
    assert parsed["json"]["maHoSo"] == parsed["kv"]["MHS"] == truth.dossier_code
    assert parsed["json"]["maTTHC"] == parsed["kv"]["MTTHC"] == truth.procedure_code
    assert parsed["json"]["soDinhDanh"] == parsed["kv"]["CCCD"] == truth.person.id_number
    assert pipe[:3] == [truth.dossier_code, truth.procedure_code, truth.person.id_number]
    assert datetime.fromisoformat(parsed["json"]["thoiGianCap"]).replace(tzinfo=None) == (
        truth.received
    )
    assert parsed["json"]["ngayHenTra"] == truth.appointment.date().isoformat()
    assert pipe[6] == f"{truth.appointment:%Y%m%d}"


def test_id_copy_qr_is_small_and_exact() -> None:
    truth = dossiers.random_truth(random.Random(5))
    image, _ = dossiers.render_id_copy(truth)
    [code] = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    assert code.bytes.decode("utf-8") == dossiers.cccd_qr_payload(truth.person)
    width_mm = (code.position.bottom_right.x - code.position.top_left.x) / 200 * 25.4
    assert 13.0 <= width_mm <= 19.0, width_mm


def test_stack_layout(
    stack: tuple[list[SynthPage], list[dossiers.DossierTruth], list[int]],
) -> None:
    pages, truths, firsts = stack
    assert len(truths) == len(firsts) == 10
    assert len({t.dossier_code for t in truths}) == 10
    assert firsts[0] == 0 and firsts == sorted(firsts)
    for index, first in enumerate(firsts):
        end = firsts[index + 1] if index + 1 < len(firsts) else len(pages)
        kinds = [p.meta["kind"] for p in pages[first:end]]
        assert kinds[0] == "receipt" and kinds[1] == "application_form" and kinds[2] == "id_copy"
        assert all(pages[first + k].meta["dossier"] == index for k in range(len(kinds)))
        assert set(kinds) <= {"receipt", "application_form", "id_copy", "other"}
        receipt = pages[first]
        assert f"Mã hồ sơ: {truths[index].dossier_code}" in receipt.lines
        form_text = "\n".join(pages[first + 1].lines)
        person = truths[index].person
        assert cccd_problems(person.id_number, person.date_of_birth, person.sex) == []
        assert person.id_number in form_text
        assert f"{person.date_of_birth:%d/%m/%Y}" in form_text
    for page in pages:
        assert page.dpi == 200
        w_mm, h_mm = paper_mm(page)
        expected = (round(w_mm / 25.4 * 200), round(h_mm / 25.4 * 200))
        rotated = page.meta["rotation"] in (90, 270)
        assert page.image.size == (expected[::-1] if rotated else expected)
    assert {t.procedure for t in truths} == {"doi-gplx", "lltp"}
    assert any(p.meta["rotation"] == 180 for p in pages), "no page upside down"


def test_every_qr_in_a_degraded_stack_decodes_exactly(
    stack: tuple[list[SynthPage], list[dossiers.DossierTruth], list[int]],
) -> None:
    pages, truths, _ = stack
    checked = {"receipt": 0, "id_copy": 0}
    for number, page in enumerate(pages):
        kind = str(page.meta["kind"])
        expected = cast(list[str], page.meta["qr_payloads"])
        dossier = page.meta["dossier"]
        truth = truths[dossier] if isinstance(dossier, int) else None
        assert expected == dossiers.qr_payloads_for(truth, kind)
        if kind not in checked:
            continue
        decoded = decode_qr(page)
        assert decoded == [p.encode("utf-8") for p in expected], (number, kind, page.meta)
        checked[kind] += 1
    assert checked == {"receipt": 10, "id_copy": 10}


def test_separators_lie_between_dossiers_and_decode() -> None:
    pages, _, firsts = dossiers.make_stack(3, seed=11, separators=True, degrade=False)
    kinds = [p.meta["kind"] for p in pages]
    assert kinds.count("separator") == 2 and kinds[0] == "receipt"
    for first in firsts[1:]:
        separator = pages[first - 1]
        assert separator.meta["kind"] == "separator" and separator.meta["dossier"] is None
        assert pages[first].meta["kind"] == "receipt"
    assert [i for i, k in enumerate(kinds) if k == "receipt"] == firsts
    upside_down = synth.Degradation(rotation=180, skew_deg=2.0, noise_sigma=6, jpeg_quality=70)
    scanned = synth.degrade(pages[firsts[1] - 1], upside_down, seed=1)
    assert decode_qr(scanned) == [dossiers.SEPARATOR_PAYLOAD.encode()]


def test_stack_is_deterministic() -> None:
    degraded, truths, firsts = dossiers.make_stack(1, seed=7)
    clean, truths_clean, firsts_clean = dossiers.make_stack(1, seed=7, degrade=False)
    again, *_ = dossiers.make_stack(1, seed=7, degrade=False)
    assert truths == truths_clean and firsts == firsts_clean
    assert [p.lines for p in degraded] == [p.lines for p in clean]
    for a, b in zip(clean, again, strict=True):
        assert a.meta == b.meta and np.array_equal(np.asarray(a.image), np.asarray(b.image))
    # each degraded page is the clean page through synth.degrade with the recorded parameters
    first, spec = degraded[0], degraded[0].meta["degradation"]
    assert isinstance(spec, synth.Degradation)
    redone = synth.degrade(clean[0], spec, seed=cast(int, first.meta["degrade_seed"]))
    assert np.array_equal(np.asarray(redone.image), np.asarray(first.image))
    other, truths_other, _ = dossiers.make_stack(1, seed=8, degrade=False)
    assert truths_other != truths
    assert not np.array_equal(np.asarray(clean[0].image), np.asarray(other[0].image))


def test_stack_saves_as_pdf_at_paper_size(
    stack: tuple[list[SynthPage], list[dossiers.DossierTruth], list[int]], tmp_path: Path
) -> None:
    pages = stack[0][:8]
    path = tmp_path / "stack.pdf"
    dossiers.save_stack_pdf(pages, path)
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == len(pages)
        for page, synth_page in zip(pdf.pages, pages, strict=True):
            box = [float(v) for v in page.mediabox]
            w_mm, h_mm = paper_mm(synth_page)
            assert abs(box[2] / 72 * 25.4 - w_mm) < 1.0 and abs(box[3] / 72 * 25.4 - h_mm) < 1.0


def test_make_dossier_options() -> None:
    rng = random.Random(9)
    pages, truth = dossiers.make_dossier(rng, procedure="lltp", with_id_copy=False)
    kinds = [k for _, k in pages]
    assert truth.procedure == "lltp" and kinds[:2] == ["receipt", "application_form"]
    assert "id_copy" not in kinds
    pages, truth = dossiers.make_dossier(rng, procedure="doi-gplx", blank_backs=True)
    kinds = [k for _, k in pages]
    assert kinds[::2][:3] == ["receipt", "application_form", "id_copy"]
    assert kinds[1::2] == ["blank"] * (len(kinds) // 2)
    assert all(k in dossiers.PAGE_KINDS for k in kinds)
