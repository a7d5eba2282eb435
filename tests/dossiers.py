"""Generated scanned dossiers with ground truth, as they come off a post-counter scanner.

A dossier is a receipt ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", A5, QR code upper left), an
application form (driver's-licence exchange or criminal-record certificate request, A4), a
photocopy of the citizen-ID card (A4, chip-CCCD QR) and sometimes a supporting paper. A stack is
several dossiers one after another, optionally with separator sheets and blank backs, degraded
like a 200-dpi counter scan. Everything is deterministic for a given seed and every value that is
printed or encoded is known (``DossierTruth``, ``SynthPage.meta``).

Used to test stack splitting, page classification, QR reading and field extraction. Layouts
follow the printed labels in ``/work/shared/domain.md``; the QR encodings inside receipts are not
published, so three plausible encodings are produced (``QR_STYLES``) and readers must be tolerant.
"""

from __future__ import annotations

import functools
import json
import math
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import segno
from PIL import Image, ImageChops, ImageDraw, ImageFont

from tests import synth
from tests.synth import Degradation, SynthPage

__all__ = [
    "A4_MM",
    "A5_MM",
    "AGENCIES",
    "ALL_QR_STYLES",
    "CARD_MM",
    "PAGE_KINDS",
    "PROCEDURES",
    "PROVINCE_CODES",
    "QR_STYLES",
    "SEPARATOR_PAYLOAD",
    "DossierTruth",
    "GplxDetails",
    "LltpDetails",
    "PageKind",
    "Person",
    "Variant",
    "cccd_qr_payload",
    "make_dossier",
    "make_stack",
    "qr_payloads_for",
    "random_person",
    "random_truth",
    "receipt_qr_payload",
    "render_application_form",
    "render_blank_back",
    "render_gplx_form",
    "render_id_copy",
    "render_lltp_form",
    "render_other",
    "render_receipt",
    "render_separator",
    "save_stack_pdf",
    "scan_degradation",
]

PageKind = Literal["receipt", "application_form", "id_copy", "separator", "blank", "other"]
QrStyle = Literal["json", "kv", "pipe"]
Procedure = Literal["doi-gplx", "lltp"]

PAGE_KINDS: tuple[PageKind, ...] = (
    "receipt",
    "application_form",
    "id_copy",
    "separator",
    "blank",
    "other",
)
QR_STYLES: tuple[QrStyle, ...] = ("json", "kv", "pipe")
# Further layouts, only when asked for (random dossiers keep drawing from QR_STYLES, so every
# seed still gives the dossiers it gave before): "art26" is the pipe order of TT 01/2023
# Art. 26 as issue 14 met it (issuing system "DVC", time as a ddmmyyyy date: a 12-digit ID,
# a date and words, which once passed for a citizen-ID QR); "url" a look-up link.
ALL_QR_STYLES: tuple[str, ...] = (*QR_STYLES, "art26", "url")
SEPARATOR_PAYLOAD = "SOHOA:SEPARATOR:v1"
RECEIPT_PAPER_NAME = "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"

A4_MM = (210.0, 297.0)
A5_MM = (148.0, 210.0)
CARD_MM = (85.6, 53.98)  # ID-1 card

# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

# CCCD digits 1-3: province of birth registration (TT 07/2016/TT-BCA), the 63 codes of domain.md.
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}
_CITIES = {"Hà Nội", "Hải Phòng", "Đà Nẵng", "Hồ Chí Minh", "Cần Thơ"}


@dataclass(frozen=True)
class Agency:
    code: str  # level-1 identity code under QCVN 102:2016, e.g. "H49"
    province: str
    portal: str  # the issuing system named in the receipt QR


# H49 is Quảng Ninh per domain.md; H30, H38, H55 appear with these provinces in public code;
# H56 is illustrative (the domain examples use it).
AGENCIES: dict[str, Agency] = {
    a.code: a
    for a in (
        Agency("H49", "Quảng Ninh", "dichvucong.quangninh.gov.vn"),
        Agency("H56", "Thanh Hóa", "dichvucong.thanhhoa.gov.vn"),
        Agency("H38", "Lào Cai", "dichvucong.laocai.gov.vn"),
        Agency("H30", "Hậu Giang", "dichvucong.haugiang.gov.vn"),
        Agency("H55", "Thái Nguyên", "dichvucong.thainguyen.gov.vn"),
    )
}


@dataclass(frozen=True)
class ProcedureInfo:
    base_code: str  # national part of the procedure code; the agency suffix is added
    title: str  # "Nội dung yêu cầu giải quyết"
    days: int  # statutory processing time in working days
    components: tuple[str, ...]  # "Thành phần hồ sơ"


PROCEDURES: dict[str, ProcedureInfo] = {
    "doi-gplx": ProcedureInfo(
        base_code="1.002809",
        title="Đổi giấy phép lái xe do ngành Giao thông vận tải cấp",
        days=5,
        components=(
            "Đơn đề nghị đổi, cấp lại giấy phép lái xe (bản chính)",
            "Giấy khám sức khỏe của người lái xe (bản chính)",
            "Bản sao giấy phép lái xe, căn cước công dân",
        ),
    ),
    "lltp": ProcedureInfo(
        base_code="2.000488",
        title="Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        days=10,
        components=(
            "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp (bản chính)",
            "Bản chụp căn cước công dân",
        ),
    ),
}


def _split(text: str, sep: str = " ") -> tuple[str, ...]:
    return tuple(text.split(sep))


FAMILY_NAMES = _split(
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trịnh Lương Đoàn"
)
MIDDLE_NAMES = {
    "Nam": _split("Văn Hữu Đức Minh Quang Thành Công Ngọc Xuân Mạnh Quốc"),
    "Nữ": _split("Thị Thu Ngọc Thanh Kim Mỹ Phương Bích Thùy Diệu Hồng"),
}
GIVEN_NAMES = {
    "Nam": _split(
        "Anh Bình Cường Dũng Hùng Hải Khoa Long Nam Phúc Quân Sơn Thắng Tuấn Việt Đạt Hiếu Lộc "
        "Trường Nghĩa Khải Hưng"
    ),
    "Nữ": _split(
        "Hằng Lan Linh Mai Ngọc Nhung Phương Thảo Trang Vy Yến Hương Huyền Oanh Ánh Duyên Giang "
        "Hà Nguyệt Quyên Loan"
    ),
}

# (province, district, wards): where people live. Pre-2025 three-level addresses, as on CCCDs.
ADDRESS_PLACES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Quảng Ninh", "Thành phố Hạ Long", ("Phường Hồng Hải", "Phường Bạch Đằng", "Phường Cao Xanh")),
    ("Quảng Ninh", "Thành phố Cẩm Phả", ("Phường Cẩm Trung", "Phường Cẩm Thành")),
    ("Thanh Hóa", "Thành phố Thanh Hóa", ("Phường Điện Biên", "Phường Ba Đình")),
    ("Thanh Hóa", "Huyện Hoằng Hóa", ("Xã Hoằng Đạo", "Xã Hoằng Phong")),
    ("Lào Cai", "Thành phố Lào Cai", ("Phường Cốc Lếu", "Phường Kim Tân")),
    ("Hậu Giang", "Thành phố Vị Thanh", ("Phường 1", "Phường 5")),
    ("Thái Nguyên", "Thành phố Thái Nguyên", ("Phường Hoàng Văn Thụ", "Phường Quang Trung")),
    ("Hà Nội", "Quận Đống Đa", ("Phường Láng Hạ", "Phường Ô Chợ Dừa")),
    ("Hồ Chí Minh", "Quận 1", ("Phường Bến Nghé", "Phường Đa Kao")),
    ("Nghệ An", "Huyện Nghi Lộc", ("Xã Nghi Phong", "Xã Nghi Thái")),
)
STREETS = _split(
    "Trần Hưng Đạo, Lê Lợi, Nguyễn Trãi, Hai Bà Trưng, Lý Thường Kiệt, Quang Trung, "
    "Nguyễn Văn Cừ, Lê Thánh Tông, Phan Bội Châu, Điện Biên Phủ, Bà Triệu",
    ", ",
)
HOMETOWN_COMMUNES = _split(
    "Xã Tân Phong, Xã Hưng Đạo, Xã Quang Trung, Xã Đông Sơn, Xã Yên Lạc, Xã Hòa Bình, "
    "Phường Trần Phú, Xã Nghĩa Hưng, Xã Thanh Xuân, Xã Phú Lộc",
    ", ",
)
PHONE_PREFIXES = _split(
    "090 091 093 094 096 097 098 032 034 035 036 037 038 039 081 083 084 085 088 070 076 077"
)
OCCUPATIONS = _split(
    "Công nhân, Kỹ sư, Giáo viên, Kinh doanh tự do, Nhân viên văn phòng, Lái xe, Nông dân, "
    "Sinh viên",
    ", ",
)
WORKPLACES = _split(
    "Công ty TNHH Minh Phát, Công ty CP Xây dựng số 5, Tự do, Trường THCS Trần Phú, "
    "Công ty TNHH Điện tử Hòa Bình",
    ", ",
)

ID_ISSUER = "Cục Cảnh sát quản lý hành chính về trật tự xã hội"


def _province_label(province: str) -> str:
    return f"Thành phố {province}" if province in _CITIES else f"Tỉnh {province}"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def ascii_fold(text: str) -> str:
    """Vietnamese without diacritics (for e-mail addresses and the MRZ)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def upper_vi(text: str) -> str:
    return nfc(nfc(text).upper())


# --------------------------------------------------------------------------------------------
# People and dossiers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    full_name: str  # proper case, NFC
    date_of_birth: date
    sex: str  # "Nam" | "Nữ"
    id_number: str  # 12-digit CCCD, structurally valid
    old_id: str | None  # 9-digit CMND
    address: str  # permanent residence (nơi thường trú)
    phone: str
    id_issue_date: date
    hometown: str  # quê quán
    birthplace: str  # nơi sinh
    ethnicity: str = "Kinh"
    email: str = ""

    @property
    def birth_province_code(self) -> str:
        return self.id_number[:3]

    def cccd_qr_payload(self) -> str:
        return cccd_qr_payload(self)


def cccd_qr_payload(person: Person) -> str:
    """The chip-CCCD front QR: ``id|old_id|name|ddmmyyyy|sex|address|ddmmyyyy`` (6 fields when
    the person has no old CMND number)."""
    fields = [person.id_number]
    if person.old_id:
        fields.append(person.old_id)
    fields += [
        person.full_name,
        f"{person.date_of_birth:%d%m%Y}",
        person.sex,
        person.address,
        f"{person.id_issue_date:%d%m%Y}",
    ]
    return "|".join(fields)


def _random_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _random_name(rng: random.Random, sex: str, family: str | None = None) -> str:
    parts = [family or rng.choice(FAMILY_NAMES), rng.choice(MIDDLE_NAMES[sex])]
    if rng.random() < 0.3:
        extra = rng.choice(MIDDLE_NAMES[sex])
        if extra != parts[1]:
            parts.append(extra)
    given = rng.choice(GIVEN_NAMES[sex])
    if given == parts[-1]:
        given = GIVEN_NAMES[sex][0] if given != GIVEN_NAMES[sex][0] else GIVEN_NAMES[sex][1]
    parts.append(given)
    return nfc(" ".join(parts))


def _random_address(rng: random.Random, province: str | None = None) -> str:
    places = [p for p in ADDRESS_PLACES if p[0] == province] or list(ADDRESS_PLACES)
    prov, district, wards = rng.choice(places)
    ward = rng.choice(wards)
    if ward.startswith("Xã"):
        first = f"Thôn {rng.choice(('Đông', 'Tây', 'Nam', 'Bắc', 'Trung', 'Thượng', 'Hạ'))}"
    elif rng.random() < 0.5:
        first = f"Số {rng.randint(1, 250)}, đường {rng.choice(STREETS)}"
    else:
        first = f"Tổ {rng.randint(1, 30)}, khu {rng.randint(1, 12)}"
    return nfc(f"{first}, {ward}, {district}, {prov}")


def random_person(
    rng: random.Random,
    *,
    province: str | None = None,
    born: tuple[int, int] = (1955, 2006),
) -> Person:
    """A plausible adult with a structurally valid CCCD number (province, century/sex, year)."""
    sex = "Nam" if rng.random() < 0.55 else "Nữ"
    dob = _random_date(rng, date(born[0], 1, 1), date(born[1], 12, 31))
    code = rng.choice(list(PROVINCE_CODES))
    century = dob.year // 100 - 19  # 1900s -> 0, 2000s -> 1, 2100s -> 2
    sex_digit = 2 * century + (0 if sex == "Nam" else 1)
    id_number = f"{code}{sex_digit}{dob.year % 100:02d}{rng.randint(0, 999_999):06d}"
    old_id = None
    if dob.year <= 2001 and rng.random() < 0.7:
        old_id = f"{rng.randint(0, 3)}{rng.randint(0, 99_999_999):08d}"
    issued_from = max(date(2021, 1, 15), _add_years(dob, 14))
    issue = _random_date(rng, issued_from, max(issued_from, date(2024, 6, 28)))
    home_province = PROVINCE_CODES[code]
    hometown = nfc(f"{rng.choice(HOMETOWN_COMMUNES)}, {home_province}")
    birthplace = nfc(_province_label(home_province))
    name = _random_name(rng, sex)
    email = ""
    if rng.random() < 0.5:
        folded = ascii_fold(name).lower().split()
        email = f"{folded[-1]}.{folded[0]}{dob.year % 100:02d}@gmail.com"
    phone = f"{rng.choice(PHONE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"
    ethnicity = "Kinh" if rng.random() < 0.85 else rng.choice(("Tày", "Thái", "Mường", "Nùng"))
    return Person(
        full_name=name,
        date_of_birth=dob,
        sex=sex,
        id_number=id_number,
        old_id=old_id,
        address=_random_address(rng, province),
        phone=phone,
        id_issue_date=issue,
        hometown=hometown,
        birthplace=birthplace,
        ethnicity=ethnicity,
        email=email,
    )


@dataclass(frozen=True)
class GplxDetails:
    licence_class: str
    licence_number: str
    licence_issuer: str
    licence_issue_date: date
    driving_school: str
    learned_year: int
    requested_class: str
    reason: str


@dataclass(frozen=True)
class LltpDetails:
    father: str
    mother: str
    spouse: str
    occupation: str
    workplace: str
    temporary_residence: str
    certificate: str  # "Phiếu số 1"
    purpose: str
    history: tuple[tuple[str, str, str, str, str], ...]  # from, to, residence, occupation, work


@dataclass(frozen=True)
class DossierTruth:
    dossier_code: str
    procedure: str  # "doi-gplx" | "lltp"
    procedure_code: str
    person: Person
    received: datetime  # date and time the counter received the dossier (Vietnam local time)
    appointment: datetime  # when the result is due
    agency: Agency
    qr_style: str = "json"
    gplx: GplxDetails | None = None
    lltp: LltpDetails | None = None
    handwritten: bool = False  # the citizen filled the application form in by hand
    # Whose data the ID copy's chip QR carries when it is not the applicant's (a conflicting
    # source: the wrong card handed in, or a reader's error); None: the applicant's.
    id_qr_person: Person | None = None

    @property
    def received_date(self) -> date:
        return self.received.date()

    @property
    def receipt_qr_payload(self) -> str:
        return receipt_qr_payload(self)

    def expected_fields(self) -> dict[str, str]:
        p = self.person
        return {
            "dossier_code": self.dossier_code,
            "procedure": self.procedure,
            "full_name": p.full_name,
            "date_of_birth": p.date_of_birth.isoformat(),
            "sex": p.sex,
            "id_number": p.id_number,
            "address": p.address,
            "phone": p.phone,
        }


def _add_working_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _random_weekday(rng: random.Random, start: date, end: date) -> date:
    day = _random_date(rng, start, end)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def random_truth(
    rng: random.Random,
    *,
    procedure: str | None = None,
    agency_code: str | None = None,
    received: datetime | None = None,
    sequence: int | None = None,
    qr_style: str | None = None,
) -> DossierTruth:
    """A dossier's ground truth: code, procedure, applicant, dates and form details."""
    proc = procedure or rng.choice(list(PROCEDURES))
    if proc not in PROCEDURES:
        raise ValueError(f"unknown procedure {proc!r}")
    info = PROCEDURES[proc]
    agency = AGENCIES[agency_code] if agency_code else rng.choice(list(AGENCIES.values()))
    if received is None:
        day = _random_weekday(rng, date(2025, 3, 3), date(2025, 12, 19))
        minute = rng.randint(7 * 60 + 30, 16 * 60 + 30)
        received = datetime.combine(day, time(minute // 60, minute % 60, rng.randint(0, 59)))
    if rng.random() < 0.6:
        unit = f"000.00.00.{agency.code}"
    else:
        z, y = rng.choice((17, 20, 25, 30)), rng.choice((14, 22, 31, 40))
        unit = f"000.{z:02d}.{y:02d}.{agency.code}"
    seq = sequence if sequence is not None else rng.randint(1, 350)
    code = f"{unit}-{received:%y%m%d}-{seq:04d}"
    person = random_person(rng, province=agency.province if rng.random() < 0.7 else None)
    due = _add_working_days(received.date(), info.days)
    appointment = datetime.combine(due, time(rng.choice((8, 9, 14, 15, 16)), 0))
    style = qr_style or rng.choice(QR_STYLES)
    if style not in ALL_QR_STYLES:
        raise ValueError(f"unknown QR style {style!r}")
    gplx = _random_gplx(rng, person, agency, received.date()) if proc == "doi-gplx" else None
    lltp = _random_lltp(rng, person) if proc == "lltp" else None
    return DossierTruth(
        dossier_code=code,
        procedure=proc,
        procedure_code=f"{info.base_code}.000.00.00.{agency.code}",
        person=person,
        received=received,
        appointment=appointment,
        agency=agency,
        qr_style=style,
        gplx=gplx,
        lltp=lltp,
    )


def _random_gplx(rng: random.Random, person: Person, agency: Agency, today: date) -> GplxDetails:
    cls = rng.choice(("B2", "B2", "B2", "A1", "C", "B1"))
    adult = _add_years(person.date_of_birth, 18)
    latest = max(adult, today - timedelta(days=365))
    issued = _random_date(rng, adult, latest)
    province = rng.choice((agency.province, person.address.rsplit(", ", 1)[-1]))
    school = rng.choice(
        (
            f"Trung tâm đào tạo lái xe {province}",
            f"Trường Cao đẳng nghề Giao thông vận tải {province}",
            f"Trung tâm giáo dục nghề nghiệp lái xe {province}",
        )
    )
    return GplxDetails(
        licence_class=cls,
        licence_number=f"{rng.randint(10, 96):02d}{rng.randint(0, 9_999_999_999):010d}",
        licence_issuer=f"Sở GTVT {province}",
        licence_issue_date=issued,
        driving_school=nfc(school),
        learned_year=issued.year if rng.random() < 0.6 else issued.year - 1,
        requested_class={"B2": "B", "B1": "B", "A1": "A1", "C": "C"}[cls],
        reason=rng.choice(
            (
                "Giấy phép lái xe hết hạn sử dụng",
                "Giấy phép lái xe sắp hết hạn sử dụng",
                "Bị mất giấy phép lái xe",
                "Đổi sang giấy phép lái xe mẫu mới",
            )
        ),
    )


def _random_lltp(rng: random.Random, person: Person) -> LltpDetails:
    family = person.full_name.split()[0]
    spouse = ""
    if person.date_of_birth.year < 1998 and rng.random() < 0.7:
        spouse = _random_name(rng, "Nữ" if person.sex == "Nam" else "Nam")
    occupation = rng.choice(OCCUPATIONS)
    workplace = rng.choice(WORKPLACES)
    adult = _add_years(person.date_of_birth, 14)
    mid = _random_date(rng, adult, max(adult, date(2020, 1, 1)))
    history = (
        (f"{adult:%m/%Y}", f"{mid:%m/%Y}", person.hometown, "Học sinh", "Tại địa phương"),
        (f"{mid:%m/%Y}", "nay", person.address, occupation, workplace),
    )
    return LltpDetails(
        father=_random_name(rng, "Nam", family),
        mother=_random_name(rng, "Nữ"),
        spouse=spouse,
        occupation=occupation,
        workplace=workplace,
        temporary_residence="",
        certificate="Phiếu số 1",
        purpose=rng.choice(("Bổ sung hồ sơ xin việc", "Đi lao động nước ngoài", "Hồ sơ du học")),
        history=history,
    )


def receipt_qr_payload(truth: DossierTruth, style: str | None = None) -> str:
    """What the receipt's QR code holds (TT 01/2023/TT-VPCP Art. 26 contents) in one of the
    three encodings of ``QR_STYLES``."""
    style = style or truth.qr_style
    issued = truth.received
    due = truth.appointment
    if style == "json":
        return json.dumps(
            {
                "maHoSo": truth.dossier_code,
                "maTTHC": truth.procedure_code,
                "soDinhDanh": truth.person.id_number,
                "tenGiay": RECEIPT_PAPER_NAME,
                "heThong": truth.agency.portal,
                "thoiGianCap": issued.isoformat(timespec="seconds") + "+07:00",
                "ngayHenTra": due.date().isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
    if style == "kv":
        pairs = [
            ("MHS", truth.dossier_code),
            ("MTTHC", truth.procedure_code),
            ("CCCD", truth.person.id_number),
            ("GIAY", RECEIPT_PAPER_NAME),
            ("HT", truth.agency.portal),
            ("TGCAP", f"{issued:%d/%m/%Y %H:%M:%S}"),
            ("HENTRA", f"{due:%d/%m/%Y %H:%M}"),
        ]
        return ";".join(f"{k}={v}" for k, v in pairs)
    if style == "pipe":
        return "|".join(
            (
                truth.dossier_code,
                truth.procedure_code,
                truth.person.id_number,
                RECEIPT_PAPER_NAME,
                truth.agency.portal,
                f"{issued:%Y%m%d%H%M%S}",
                f"{due:%Y%m%d}",
            )
        )
    if style == "art26":
        return "|".join(
            (
                truth.dossier_code,
                truth.procedure_code,
                truth.person.id_number,
                RECEIPT_PAPER_NAME,
                "DVC",
                f"{issued:%d%m%Y}",
            )
        )
    if style == "url":
        return (
            "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html"
            f"?maHoSo={truth.dossier_code}&maTTHC={truth.procedure_code}"
            f"&soDinhDanh={truth.person.id_number}"
        )
    raise ValueError(f"unknown QR style {style!r}")


def qr_payloads_for(
    truth: DossierTruth | None, kind: str, qr_style: str | None = None
) -> list[str]:
    """The QR payloads printed on a page of ``kind`` (empty for pages without a QR code)."""
    if kind == "separator":
        return [SEPARATOR_PAYLOAD]
    if truth is None:
        return []
    if kind == "receipt":
        return [receipt_qr_payload(truth, qr_style)]
    if kind == "id_copy":
        return [cccd_qr_payload(truth.id_qr_person or truth.person)]
    return []


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------

INK = (25, 25, 30)
BLUE = (22, 42, 150)  # typed / filled-in values
RED = (200, 35, 45)
GREY = (110, 110, 110)
_TT = "/usr/share/fonts/truetype"
# Hand-filled values: URW Z003 (a Zapf Chancery clone) for the letters it has (ASCII), a
# condensed italic for the Vietnamese letters it lacks, each glyph jittered in size, baseline
# and slant, in blue ink: what a citizen's pen looks like to OCR, near enough.
HAND_FONT = "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf"
HAND_FALLBACK = f"{_TT}/dejavu/DejaVuSerifCondensed-Italic.ttf"
HAND_INK = (28, 48, 160)


@dataclass(frozen=True)
class FontSet:
    regular: str
    bold: str
    italic: str
    typed: str  # values filled in
    sans: str
    sans_bold: str
    mono: str


def _font_sets() -> list[FontSet]:
    candidates = [
        FontSet(
            f"{_TT}/liberation2/LiberationSerif-Regular.ttf",
            f"{_TT}/liberation2/LiberationSerif-Bold.ttf",
            f"{_TT}/liberation2/LiberationSerif-Italic.ttf",
            f"{_TT}/liberation2/LiberationSans-Regular.ttf",
            f"{_TT}/liberation2/LiberationSans-Regular.ttf",
            f"{_TT}/liberation2/LiberationSans-Bold.ttf",
            f"{_TT}/liberation2/LiberationMono-Regular.ttf",
        ),
        FontSet(
            f"{_TT}/dejavu/DejaVuSerif.ttf",
            f"{_TT}/dejavu/DejaVuSerif-Bold.ttf",
            f"{_TT}/dejavu/DejaVuSerif-Italic.ttf",
            f"{_TT}/dejavu/DejaVuSans.ttf",
            f"{_TT}/dejavu/DejaVuSans.ttf",
            f"{_TT}/dejavu/DejaVuSans-Bold.ttf",
            f"{_TT}/dejavu/DejaVuSansMono.ttf",
        ),
        FontSet(
            f"{_TT}/noto/NotoSerif-Regular.ttf",
            f"{_TT}/noto/NotoSerif-Bold.ttf",
            f"{_TT}/noto/NotoSerif-Italic.ttf",
            f"{_TT}/liberation2/LiberationMono-Regular.ttf",
            f"{_TT}/noto/NotoSans-Regular.ttf",
            f"{_TT}/noto/NotoSans-Bold.ttf",
            f"{_TT}/noto/NotoSansMono-Regular.ttf",
        ),
    ]
    found = [fs for fs in candidates if all(Path(p).exists() for p in vars(fs).values())]
    if found:
        return found
    fallback = synth.find_font("sans")
    return [FontSet(*(fallback,) * 7)]


@functools.cache
def _symbol_font() -> str:
    """A font with ★ (DejaVu Sans)."""
    path = f"{_TT}/dejavu/DejaVuSans.ttf"
    return path if Path(path).exists() else synth.find_font("sans")


@functools.cache
def _available_font_sets() -> tuple[FontSet, ...]:
    return tuple(_font_sets())


def _pick_fonts(rng: random.Random) -> FontSet:
    return rng.choice(_available_font_sets())


def _hand_font_path(ascii_char: bool) -> str:
    if ascii_char and Path(HAND_FONT).exists():
        return HAND_FONT
    return HAND_FALLBACK if Path(HAND_FALLBACK).exists() else synth.find_font("sans")


@functools.lru_cache(maxsize=256)
def _load_font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


@functools.lru_cache(maxsize=64)
def _qr_modules(payload: str, error: str) -> np.ndarray:
    qr = segno.make(payload, error=error, boost_error=False, micro=False, encoding="utf-8")
    return np.array(qr.matrix, dtype=bool)


class _Canvas:
    """A page in millimetres that remembers the text lines it printed, in reading order."""

    def __init__(
        self,
        page_mm: tuple[float, float],
        dpi: int,
        fonts: FontSet,
        paper: tuple[int, int, int] = (255, 255, 255),
    ) -> None:
        self.dpi = dpi
        self.fonts = fonts
        self.page_mm = page_mm
        size = (self.px(page_mm[0]), self.px(page_mm[1]))
        self.image = Image.new("RGB", size, paper)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[str] = []
        # The same lines without what was written by pen: the machine-printed text alone,
        # the truth for reading a filled-in form's print (bench/forms.py).
        self.printed: list[str] = []
        # Narrower still: what the blank form itself prints (labels, headings), none of the
        # values filled in, typed or by pen.
        self.form_print: list[str] = []
        self.hand_filled = False  # values after labels written by hand, not typed

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def font(self, role: str, pt: float) -> ImageFont.FreeTypeFont:
        if role == "hand":
            return _load_font(_hand_font_path(True), max(4, round(pt * 1.15 * self.dpi / 72)))
        return _load_font(getattr(self.fonts, role), max(4, round(pt * self.dpi / 72)))

    def width_mm(self, text: str, role: str, pt: float) -> float:
        if role == "hand":
            return sum(self._hand_advance(ch, pt) for ch in nfc(text)) * 25.4 / self.dpi
        return self.font(role, pt).getlength(text) * 25.4 / self.dpi

    def _hand_advance(self, char: str, pt: float) -> float:
        size = max(4, round(pt * 1.15 * self.dpi / 72))
        return _load_font(_hand_font_path(char.isascii()), size).getlength(char) * 1.08

    def hand(self, x: float, y: float, text: str, *, pt: float) -> float:
        """``text`` as if written by pen, baseline at ``y`` mm; returns the right edge in mm.

        Deterministic for a given text and place (the jitter is seeded by them), so a stack
        renders the same every time.
        """
        rng = random.Random(f"{text}|{x:.2f}|{y:.2f}")
        cursor = float(self.px(x))
        base = self.px(y)
        for char in nfc(text):
            advance = self._hand_advance(char, pt)
            if char.strip():
                size = max(4, round(pt * 1.15 * rng.uniform(0.92, 1.08) * self.dpi / 72))
                font = _load_font(_hand_font_path(char.isascii()), size)
                box = size * 2
                glyph = Image.new("L", (box, box), 0)
                ImageDraw.Draw(glyph).text((box // 4, box * 3 // 4), char, font=font, fill=255,
                                           anchor="ls")  # fmt: skip
                glyph = glyph.rotate(rng.uniform(-6.0, 6.0), resample=Image.Resampling.BICUBIC)
                r, g, b = (max(0, min(255, v + rng.randint(-12, 12))) for v in HAND_INK)
                ink = (r, g, b)
                dy = round(rng.uniform(-0.35, 0.35) * self.dpi / 25.4)
                self.image.paste(
                    Image.new("RGB", glyph.size, ink),
                    (round(cursor) - box // 4, base - box * 3 // 4 + dy),
                    glyph,
                )
            cursor += advance
        return cursor * 25.4 / self.dpi

    def fit(self, text: str, role: str, pt: float, width_mm: float) -> float:
        """``pt``, or the smaller size at which ``text`` is ``width_mm`` wide."""
        width = self.width_mm(text, role, pt)
        return pt if width <= width_mm else pt * width_mm / width * 0.97

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        pt: float,
        role: str = "regular",
        fill: tuple[int, int, int] = INK,
        align: str = "left",
        record: bool = True,
    ) -> float:
        """Draw ``text`` with its baseline at ``y`` mm; returns the right edge in mm."""
        text = nfc(text)
        width = self.width_mm(text, role, pt)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        if role == "hand":
            end = self.hand(x, y, text, pt=pt)
            if record and text.strip():
                self.lines.append(text)
            return end
        self.draw.text(
            (self.px(x), self.px(y)), text, font=self.font(role, pt), fill=fill, anchor="ls"
        )
        if record and text.strip():
            self.record_line(text, form="" if role == "typed" else None)
        return x + width

    def record_line(self, line: str, printed: str | None = None, form: str | None = None) -> None:
        """A line of the page's text; ``printed`` is its machine-printed part (default: all),
        ``form`` the blank form's own print in it (default: all that is printed)."""
        self.lines.append(line)
        printed = line if printed is None else " ".join(printed.split())
        form = printed if form is None else " ".join(form.split())
        if printed:
            self.printed.append(printed)
        if form:
            self.form_print.append(form)

    def wrap(self, text: str, role: str, pt: float, first_mm: float, rest_mm: float) -> list[str]:
        out: list[str] = []
        current = ""
        limit = first_mm
        for word in nfc(text).split():
            trial = f"{current} {word}".strip()
            if not current or self.width_mm(trial, role, pt) <= limit:
                current = trial
            else:
                out.append(current)
                current = word
                limit = rest_mm
        if current:
            out.append(current)
        return out or [""]

    def paragraph(
        self,
        x: float,
        y: float,
        text: str,
        *,
        pt: float,
        right: float,
        role: str = "regular",
        fill: tuple[int, int, int] = INK,
        leading: float = 1.45,
        indent: float = 0.0,
        align: str = "left",
    ) -> float:
        step = pt * leading * 25.4 / 72
        for i, line in enumerate(self.wrap(text, role, pt, right - x - indent, right - x)):
            if align == "center":
                self.text((x + right) / 2, y, line, pt=pt, role=role, fill=fill, align="center")
            else:
                self.text(x + (indent if i == 0 else 0), y, line, pt=pt, role=role, fill=fill)
            y += step
        return y

    def dots(self, x0: float, x1: float, y: float) -> None:
        spacing = 1.0
        yy = self.px(y + 0.7)
        x = x0
        while x < x1:
            px = self.px(x)
            self.draw.point((px, yy), fill=(90, 90, 90))
            x += spacing

    def field(
        self,
        x: float,
        y: float,
        label: str,
        value: str,
        *,
        right: float,
        pt: float,
        leading: float = 1.55,
        label_role: str = "regular",
        value_role: str = "typed",
        value_fill: tuple[int, int, int] = BLUE,
        dotted: bool = True,
    ) -> float:
        """``label`` printed, ``value`` filled in after it (wrapping onto dotted lines)."""
        step = pt * leading * 25.4 / 72
        if self.hand_filled and value_role == "typed":
            value_role = "hand"
        label = nfc(label)
        end = self.text(x, y, label, pt=pt, role=label_role, record=False)
        vx = end + 1.5
        chunks = self.wrap(value, value_role, pt, right - vx, right - x) if value else [""]
        for i, chunk in enumerate(chunks):
            start = vx if i == 0 else x
            if dotted:
                self.dots(start, right, y)
            if chunk:
                self.text(start, y, chunk, pt=pt, role=value_role, fill=value_fill, record=False)
            typed = "" if value_role == "hand" else chunk
            self.record_line(
                f"{label} {chunk}".strip() if i == 0 else chunk,
                f"{label} {typed}" if i == 0 else typed,
                label if i == 0 else "",
            )
            y += step
        return y

    def inline_fields(
        self,
        y: float,
        parts: Sequence[tuple[float | None, str, str]],
        *,
        left: float,
        right: float,
        pt: float,
        leading: float = 1.55,
        value_role: str = "typed",
        dotted: bool = True,
    ) -> float:
        """Several ``(x, label, value)`` pairs flowing along a line: each label starts at ``x``
        (None: right after the previous value) or later if the previous value is long, and a
        pair that does not fit goes to the next line at ``left``. Returns the next baseline."""
        step = pt * leading * 25.4 / 72
        if self.hand_filled and value_role == "typed":
            value_role = "hand"
        recorded: list[str] = []
        printed: list[str] = []  # the labels, and the values when they are not by pen
        labels: list[str] = []
        cursor = left
        dots_from: float | None = None
        for x, label, value in parts:
            label, value = nfc(label), nfc(value)
            need = self.width_mm(label, "regular", pt) + 1.5 + self.width_mm(value, value_role, pt)
            start = max(x if x is not None else cursor, cursor + (3.0 if recorded else 0.0))
            if recorded and start + need > right:
                if dotted and dots_from is not None:
                    self.dots(dots_from, right, y)
                self.record_line(" ".join(recorded), " ".join(printed), " ".join(labels))
                recorded, printed, labels, y, start = [], [], [], y + step, left
            elif dotted and dots_from is not None:
                self.dots(dots_from, start - 1.5, y)
            vx = self.text(start, y, label, pt=pt, record=False) + 1.5
            if value:
                self.text(vx, y, value, pt=pt, role=value_role, fill=BLUE, record=False)
            cursor = vx + self.width_mm(value, value_role, pt)
            dots_from = vx
            recorded.append(f"{label} {value}".strip())
            printed.append(label if value_role == "hand" else f"{label} {value}".strip())
            labels.append(label)
        if dotted and dots_from is not None:
            self.dots(dots_from, right, y)
        self.record_line(" ".join(recorded), " ".join(printed), " ".join(labels))
        return y + step

    def hline(self, x0: float, x1: float, y: float, *, fill: tuple[int, int, int] = INK) -> None:
        self.draw.line((self.px(x0), self.px(y), self.px(x1), self.px(y)), fill=fill, width=1)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        outline: tuple[int, int, int] | None = INK,
        fill: tuple[int, int, int] | None = None,
        radius: float = 0.0,
        width: int = 1,
    ) -> None:
        box = (self.px(x), self.px(y), self.px(x + w), self.px(y + h))
        if radius:
            self.draw.rounded_rectangle(
                box, radius=self.px(radius), outline=outline, fill=fill, width=width
            )
        else:
            self.draw.rectangle(box, outline=outline, fill=fill, width=width)

    def paste_qr(
        self,
        payload: str,
        x: float,
        y: float,
        width_mm: float,
        *,
        error: str = "m",
        dark: tuple[int, int, int] = (0, 0, 0),
        light: tuple[int, int, int] = (255, 255, 255),
        min_module_px: float = 2.5,
        integer_modules: bool = False,
        align: str = "left",
    ) -> float:
        """A QR code (``segno``, UTF-8 byte mode, no ECI) whose symbol, without quiet zone, is
        ``width_mm`` wide -- or wider if its modules would be under ``min_module_px`` pixels --
        with its top edge at ``y`` and its left (``align="left"``) or right edge at ``x``.
        With ``integer_modules`` every module is the same whole number of pixels (the width is
        rounded to a multiple of the module count); otherwise modules are 2 or 3 pixels wide
        in a pattern, as a scan of a printed code. The quiet zone (4 modules) is painted
        ``light``. Returns the symbol's width in mm."""
        modules = _qr_modules(payload, error)
        n = modules.shape[0]
        size = max(self.px(width_mm), math.ceil(n * min_module_px))
        if integer_modules:
            size = n * max(math.ceil(min_module_px), round(self.px(width_mm) / n))
        x0 = self.px(x) - (size if align == "right" else 0)
        y0 = self.px(y)
        quiet = math.ceil(4 * size / n)
        self.draw.rectangle(
            (x0 - quiet, y0 - quiet, x0 + size + quiet, y0 + size + quiet), fill=light
        )
        scale = math.ceil(size / n)
        big = np.kron(modules, np.ones((scale, scale), dtype=bool))
        symbol = Image.fromarray(big.astype(np.uint8) * 255, "L")
        if big.shape[0] != size:
            symbol = symbol.resize((size, size), Image.Resampling.NEAREST)
        mask = np.asarray(symbol) > 127
        rgb = np.empty((size, size, 3), dtype=np.uint8)
        rgb[mask] = dark
        rgb[~mask] = light
        self.image.paste(Image.fromarray(rgb, "RGB"), (x0, y0))
        return size * 25.4 / self.dpi

    def signature(self, x: float, y: float, w: float, rng: random.Random) -> None:
        """A blue-ink scribble about ``w`` mm wide around baseline ``y``."""
        pts: list[tuple[int, int]] = []
        loops = rng.randint(3, 6)
        amp = rng.uniform(2.0, 4.0)
        for i in range(80):
            t = i / 79
            xx = x + w * t + 2.5 * math.sin(t * loops * 2 * math.pi + 1.0)
            yy = y - amp * math.sin(t * loops * 2 * math.pi) * (1 - 0.6 * t) - 2 * t
            pts.append((self.px(xx), self.px(yy)))
        self.draw.line(pts, fill=(30, 50, 160), width=max(1, self.px(0.3)), joint="curve")
        self.draw.line(
            (self.px(x + w * 0.1), self.px(y + 1.5), self.px(x + w * 0.95), self.px(y - 0.5)),
            fill=(30, 50, 160),
            width=max(1, self.px(0.25)),
        )

    def seal(
        self,
        cx: float,
        cy: float,
        r: float,
        ring_text: str,
        *,
        color: tuple[int, int, int] = RED,
        center: str = "★",
    ) -> None:
        """A round seal in ink that multiplies over what is beneath (text stays visible)."""
        layer = Image.new("RGB", self.image.size, (255, 255, 255))
        draw = ImageDraw.Draw(layer)
        cxp, cyp, rp = self.px(cx), self.px(cy), self.px(r)
        for rr, width in ((rp, max(2, self.px(0.6))), (round(rp * 0.68), max(1, self.px(0.3)))):
            draw.ellipse((cxp - rr, cyp - rr, cxp + rr, cyp + rr), outline=color, width=width)
        text = nfc(ring_text.upper())
        radius = rp * 0.84
        span = 330.0
        arc_px = 2 * math.pi * radius * span / 360
        size = max(6, min(round(rp * 0.2), round(arc_px / max(1, len(text)) / 0.72)))
        font = _load_font(self.fonts.sans_bold, size)
        for i, ch in enumerate(text):
            angle = -span / 2 + span * (i + 0.5) / len(text)  # degrees, 0 = top, clockwise
            half = round(font.size)
            glyph = Image.new("L", (2 * half, 2 * half), 0)
            ImageDraw.Draw(glyph).text((half, half), ch, font=font, fill=255, anchor="mm")
            glyph = glyph.rotate(-angle, resample=Image.Resampling.BICUBIC)
            gx = cxp + radius * math.sin(math.radians(angle)) - half
            gy = cyp - radius * math.cos(math.radians(angle)) - half
            layer.paste(Image.new("RGB", glyph.size, color), (round(gx), round(gy)), glyph)
        star_font = _load_font(_symbol_font(), max(6, round(rp * 0.7)))
        draw.text((cxp, cyp), center, font=star_font, fill=color, anchor="mm")
        self.image = ImageChops.multiply(self.image, layer)
        self.draw = ImageDraw.Draw(self.image)


def _default_rng(truth: DossierTruth | None, kind: str, rng: random.Random | None) -> random.Random:
    if rng is not None:
        return rng
    return random.Random(f"{truth.dossier_code if truth else 'none'}:{kind}")


def _national_header(c: _Canvas, cx: float, y: float, pt: float) -> float:
    c.text(cx, y, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", pt=pt, role="bold", align="center")
    y += pt * 1.4 * 25.4 / 72
    end = c.text(cx, y, "Độc lập - Tự do - Hạnh phúc", pt=pt + 0.5, role="bold", align="center")
    width = end - (cx - (end - cx))
    c.hline(cx - width / 2, cx + width / 2, y + 1.4)
    return y + pt * 1.6 * 25.4 / 72


def _date_words(day: date) -> str:
    return f"ngày {day:%d} tháng {day:%m} năm {day:%Y}"


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@dataclass
class _Rendered:
    image: Image.Image
    kind: PageKind
    lines: list[str]
    qr_payloads: list[str]
    page_mm: tuple[float, float]
    printed: list[str] | None = None  # ``lines`` without handwriting; None: the same as lines
    form_print: list[str] | None = None  # the blank form's own print; None: as ``printed``


def _receipt(
    truth: DossierTruth, dpi: int, qr_style: str | None, rng: random.Random | None
) -> _Rendered:
    rng = _default_rng(truth, "receipt", rng)
    c = _Canvas(A5_MM, dpi, _pick_fonts(rng))
    p = truth.person
    info = PROCEDURES[truth.procedure]
    payload = receipt_qr_payload(truth, qr_style)
    left, right = 11.0, 137.0
    qr_x, qr_y = 9.0 + rng.uniform(0, 2), 8.0 + rng.uniform(0, 2)
    qr_w = c.paste_qr(
        payload, qr_x, qr_y, rng.uniform(21.0, 23.0), min_module_px=3, integer_modules=True
    )
    # national header top right, agency under the QR
    hx = 100.0
    y = _national_header(c, hx, 13.0, 8.0)
    where = truth.agency.province
    c.text(
        hx,
        y + 1.0,
        f"{where}, {_date_words(truth.received_date)}",
        pt=8.0,
        role="italic",
        align="center",
    )
    ax = qr_x + qr_w / 2 + 8
    ay = qr_y + qr_w + 5.5
    c.text(ax, ay, f"UBND TỈNH {upper_vi(truth.agency.province)}", pt=8.0, align="center")
    c.text(ax, ay + 3.6, "TRUNG TÂM PHỤC VỤ", pt=8.0, role="bold", align="center")
    c.text(ax, ay + 7.2, "HÀNH CHÍNH CÔNG", pt=8.0, role="bold", align="center")
    c.text(ax, ay + 11.0, f"Số: {truth.dossier_code[-4:]}/TNHS", pt=8.0, align="center")

    pt = 9.5
    step = pt * 1.45 * 25.4 / 72
    y = ay + 20.0
    c.text(
        (left + right) / 2,
        y,
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        pt=11.0,
        role="bold",
        align="center",
    )
    y += 5.5
    c.text(
        (left + right) / 2,
        y,
        "Mã hồ sơ: " + truth.dossier_code,
        pt=10.0,
        role="bold",
        align="center",
    )
    y += 4.5
    liên = rng.choice(("Liên: Lưu", "Liên: Giao khách hàng"))
    c.text((left + right) / 2, y, f"({liên})", pt=8.0, role="italic", align="center")
    y += step + 1.0
    c.paragraph(
        left,
        y,
        f"Trung tâm Phục vụ hành chính công tỉnh {truth.agency.province}",
        pt=pt,
        right=right,
    )
    y += step
    name = p.full_name if rng.random() < 0.7 else upper_vi(p.full_name)
    y = c.field(
        left,
        y,
        "Tiếp nhận hồ sơ của:",
        name,
        right=right,
        pt=pt,
        leading=1.45,
        value_role="bold",
        value_fill=INK,
        dotted=False,
    )
    y = c.field(
        left,
        y,
        "Địa chỉ:",
        p.address,
        right=right,
        pt=pt,
        leading=1.45,
        value_role="regular",
        value_fill=INK,
        dotted=False,
    )
    c.text(left, y, "Số điện thoại:", pt=pt, record=False)
    c.text(left + 24.0, y, p.phone, pt=pt, record=False)
    c.text(left + 58.0, y, "Email:", pt=pt, record=False)
    if p.email:
        c.text(left + 69.0, y, p.email, pt=pt, record=False)
    c.record_line(f"Số điện thoại: {p.phone} Email: {p.email}".strip())
    y += step
    y = c.field(
        left,
        y,
        "Nội dung yêu cầu giải quyết:",
        info.title,
        right=right,
        pt=pt,
        leading=1.45,
        value_role="regular",
        value_fill=INK,
        dotted=False,
    )
    c.text(left, y, "1. Thành phần hồ sơ nộp gồm:", pt=pt)
    y += step
    for item in info.components:
        y = c.paragraph(left + 3, y, f"- {item}", pt=pt - 0.5, right=right, leading=1.4)
    c.text(left, y, "2. Số lượng hồ sơ: 01 (bộ)", pt=pt)
    y += step
    c.text(left, y, f"3. Thời gian giải quyết hồ sơ theo quy định là: {info.days:02d} ngày", pt=pt)
    y += step
    rec = truth.received
    y = c.paragraph(
        left,
        y,
        f"4. Thời gian nhận hồ sơ: {rec:%H} giờ {rec:%M} phút, {_date_words(rec.date())}",
        pt=pt,
        right=right,
    )
    due = truth.appointment
    y = c.paragraph(
        left,
        y,
        f"5. Thời gian trả kết quả giải quyết hồ sơ: {due:%H} giờ {due:%M} phút, "
        f"{_date_words(due.date())}",
        pt=pt,
        right=right,
    )
    place = rng.choice(
        (
            f"Trung tâm Phục vụ hành chính công tỉnh {truth.agency.province}",
            "Bưu điện (dịch vụ bưu chính công ích), trả tại địa chỉ người nộp",
        )
    )
    y = c.paragraph(left, y, f"6. Đăng ký nhận kết quả tại: {place}", pt=pt, right=right)
    # signatures
    y += 2.0
    lx, rx = 42.0, 105.0
    c.text(lx, y, "NGƯỜI NỘP HỒ SƠ", pt=8.5, role="bold", align="center", record=False)
    c.text(rx, y, "NGƯỜI TIẾP NHẬN HỒ SƠ", pt=8.5, role="bold", align="center", record=False)
    c.record_line("NGƯỜI NỘP HỒ SƠ NGƯỜI TIẾP NHẬN HỒ SƠ")
    y += 3.6
    c.text(lx, y, "(Ký và ghi rõ họ tên)", pt=7.5, role="italic", align="center", record=False)
    c.text(rx, y, "(Ký và ghi rõ họ tên)", pt=7.5, role="italic", align="center", record=False)
    c.record_line("(Ký và ghi rõ họ tên) (Ký và ghi rõ họ tên)")
    sig_y = min(y + 10.0, A5_MM[1] - 12.0)
    c.signature(lx - 12, sig_y, 22, rng)
    c.signature(rx - 12, sig_y, 22, rng)
    clerk = _random_name(rng, rng.choice(("Nam", "Nữ")))
    name_y = min(sig_y + 6.0, A5_MM[1] - 6.0)
    c.text(lx, name_y, p.full_name, pt=8.5, role="bold", align="center", record=False)
    c.text(rx, name_y, clerk, pt=8.5, role="bold", align="center", record=False)
    c.record_line(f"{p.full_name} {clerk}")
    c.seal(
        rx - 9 + rng.uniform(-2, 2),
        sig_y - 2 + rng.uniform(-2, 2),
        13.0,
        f"Trung tâm phục vụ hành chính công * {truth.agency.province} *",
    )
    return _Rendered(c.image, "receipt", c.lines, [payload], A5_MM)


def render_receipt(
    truth: DossierTruth,
    *,
    dpi: int = 200,
    qr_style: str | None = None,
    rng: random.Random | None = None,
) -> tuple[Image.Image, PageKind]:
    """The A5 receipt with its QR code (``receipt_qr_payload(truth, qr_style)``) upper left.
    ``qr_style`` defaults to ``truth.qr_style``; ``rng`` varies fonts, offsets and signatures
    (default: seeded from the dossier code)."""
    r = _receipt(truth, dpi, qr_style, rng)
    return r.image, r.kind


def _gplx(truth: DossierTruth, dpi: int, rng: random.Random | None) -> _Rendered:
    if truth.gplx is None:
        raise ValueError("not a driver's-licence dossier (truth.gplx is None)")
    rng = _default_rng(truth, "gplx", rng)
    c = _Canvas(A4_MM, dpi, _pick_fonts(rng))
    c.hand_filled = truth.handwritten
    p, g = truth.person, truth.gplx
    left, right = 22.0 + rng.uniform(-1, 1), 190.0
    pt = 12.0
    c.text(right, 12.0, "Phụ lục XII", pt=10.0, role="italic", align="right")
    y = _national_header(c, 105.0, 22.0, 12.0)
    y += 8.0
    c.text(105.0, y, "ĐỀ NGHỊ ĐỔI (CẤP LẠI) GIẤY PHÉP LÁI XE", pt=14.0, role="bold", align="center")
    y += 11.0
    y = c.field(
        left + 25,
        y,
        "Kính gửi:",
        f"Phòng Cảnh sát giao thông Công an tỉnh {truth.agency.province}",
        right=right,
        pt=pt,
    )
    y += 2.0
    name = upper_vi(p.full_name) if rng.random() < 0.6 else p.full_name
    y = c.inline_fields(
        y,
        [(left, "Tôi là:", name), (left + 105, "Quốc tịch:", "Việt Nam")],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "Ngày tháng năm sinh:", f"{p.date_of_birth:%d/%m/%Y}", right=right, pt=pt)
    y = c.inline_fields(
        y,
        [
            (left, "Số định danh cá nhân hoặc số Hộ chiếu:", p.id_number),
            (None, "ngày cấp:", f"{p.id_issue_date:%d/%m/%Y}"),
            (None, "nơi cấp:", ID_ISSUER),
        ],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.inline_fields(
        y,
        [(left, "Đã học lái xe tại:", g.driving_school), (left + 140, "năm", str(g.learned_year))],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.inline_fields(
        y,
        [
            (left, "Hiện đã có giấy phép lái xe hạng:", g.licence_class),
            (left + 85, "số:", g.licence_number),
        ],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.inline_fields(
        y,
        [
            (left, "do:", g.licence_issuer),
            (left + 95, "cấp ngày", f"{g.licence_issue_date:%d/%m/%Y}"),
        ],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(
        left,
        y,
        "Đề nghị cho tôi được đổi hoặc cấp lại giấy phép lái xe hạng:",
        g.requested_class,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "Lý do:", g.reason, right=right, pt=pt)
    y += 2.0
    c.text(left, y, "Gửi kèm theo đơn:", pt=pt)
    y += 6.5
    for item in (
        "Giấy khám sức khỏe của người lái xe do cơ sở y tế có thẩm quyền cấp;",
        "Bản sao giấy phép lái xe;",
    ):
        y = c.paragraph(left + 5, y, f"- {item}", pt=pt, right=right, leading=1.55)
    y += 2.0
    y = c.paragraph(
        left,
        y,
        "Tôi xin cam đoan những điều ghi trên là đúng sự thật, nếu sai tôi xin hoàn toàn chịu "
        "trách nhiệm.",
        pt=pt,
        right=right,
        indent=10.0,
        leading=1.55,
    )
    y += 6.0
    sx = 145.0
    c.text(
        sx,
        y,
        f"{truth.agency.province}, {_date_words(truth.received_date)}",
        pt=11.0,
        role="italic",
        align="center",
    )
    y += 6.0
    c.text(sx, y, "NGƯỜI LÀM ĐƠN", pt=12.0, role="bold", align="center")
    y += 5.0
    c.text(sx, y, "(Ký và ghi rõ họ, tên)", pt=10.0, role="italic", align="center")
    c.signature(sx - 15, y + 14, 30, rng)
    c.text(sx, y + 26, p.full_name, pt=12.0, role="typed", fill=BLUE, align="center")
    return _Rendered(c.image, "application_form", c.lines, [], A4_MM, c.printed, c.form_print)


def render_gplx_form(
    truth: DossierTruth, *, dpi: int = 200, rng: random.Random | None = None
) -> tuple[Image.Image, PageKind]:
    """The A4 driver's-licence exchange request (Phụ lục XII, TT 12/2025/TT-BCA), filled in."""
    r = _gplx(truth, dpi, rng)
    return r.image, r.kind


def _lltp(truth: DossierTruth, dpi: int, rng: random.Random | None) -> _Rendered:
    if truth.lltp is None:
        raise ValueError("not a criminal-record dossier (truth.lltp is None)")
    rng = _default_rng(truth, "lltp", rng)
    c = _Canvas(A4_MM, dpi, _pick_fonts(rng))
    c.hand_filled = truth.handwritten
    p, d = truth.person, truth.lltp
    left, right = 20.0 + rng.uniform(-1, 1), 192.0
    pt = 11.5
    c.text(right, 11.0, "Mẫu số 03/2024/TT-BTP", pt=9.5, role="italic", align="right")
    y = _national_header(c, 105.0, 19.0, 11.5)
    y += 6.0
    c.text(
        105.0, y, "TỜ KHAI YÊU CẦU CẤP PHIẾU LÝ LỊCH TƯ PHÁP", pt=13.5, role="bold", align="center"
    )
    y += 5.0
    c.text(
        105.0,
        y,
        "(Dùng cho cá nhân có yêu cầu cấp Phiếu lý lịch tư pháp)",
        pt=10.0,
        role="italic",
        align="center",
    )
    y += 8.0
    y = c.field(
        left + 20, y, "Kính gửi:", f"Sở Tư pháp tỉnh {truth.agency.province}", right=right, pt=pt
    )
    name = upper_vi(p.full_name) if rng.random() < 0.5 else p.full_name
    y = c.field(left, y, "1. Họ và tên:", name, right=right, pt=pt)
    y = c.field(left, y, "2. Tên gọi khác (nếu có):", "Không", right=right, pt=pt)
    y = c.inline_fields(
        y,
        [
            (left, "3. Giới tính:", p.sex),
            (left + 55, "4. Ngày sinh:", f"{p.date_of_birth:%d/%m/%Y}"),
        ],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "5. Nơi sinh:", p.birthplace, right=right, pt=pt)
    y = c.inline_fields(
        y,
        [(left, "6. Quốc tịch:", "Việt Nam"), (left + 70, "7. Dân tộc:", p.ethnicity)],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "8. Nơi thường trú:", p.address, right=right, pt=pt)
    y = c.field(left, y, "9. Nơi tạm trú:", d.temporary_residence, right=right, pt=pt)
    y = c.inline_fields(
        y,
        [
            (left, "10. CMND/CCCD/Hộ chiếu số:", p.id_number),
            (None, "ngày cấp:", f"{p.id_issue_date:%d/%m/%Y}"),
            (None, "nơi cấp:", ID_ISSUER),
        ],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.inline_fields(
        y,
        [(left, "11. Số điện thoại:", p.phone), (left + 85, "Email:", p.email)],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "12. Họ và tên cha:", d.father, right=right, pt=pt)
    y = c.field(left, y, "Họ và tên mẹ:", d.mother, right=right, pt=pt)
    y = c.field(left, y, "Họ và tên vợ/chồng:", d.spouse, right=right, pt=pt)
    c.text(left, y, "13. Quá trình cư trú, nghề nghiệp, nơi làm việc:", pt=pt)
    y += 3.0
    cols = (left, left + 22, left + 44, left + 100, left + 132, right)
    heads = ("Từ ngày", "Đến ngày", "Nơi thường trú/tạm trú", "Nghề nghiệp", "Nơi làm việc")
    cell_pt, cell_step = 8.5, 3.8
    wrapped_rows = [
        [
            c.wrap(v, "typed", cell_pt, cols[i + 1] - cols[i] - 2, cols[i + 1] - cols[i] - 2)
            for i, v in enumerate(entry)
        ]
        for entry in d.history
    ]
    heights = [9.0] + [max(9.0, 3.0 + cell_step * max(map(len, row))) for row in wrapped_rows]
    tops = [y]
    for h in heights:
        tops.append(tops[-1] + h)
    for top in tops:
        c.hline(cols[0], cols[-1], top)
    for x in cols:
        c.draw.line((c.px(x), c.px(y), c.px(x), c.px(tops[-1])), fill=INK, width=1)
    for i, head in enumerate(heads):
        c.text(
            (cols[i] + cols[i + 1]) / 2,
            y + 5.8,
            head,
            pt=9.5,
            role="bold",
            align="center",
            record=False,
        )
    c.record_line(" ".join(heads))
    for top, row in zip(tops[1:], wrapped_rows, strict=False):
        for i, parts in enumerate(row):
            for k, part in enumerate(parts):
                c.text(
                    cols[i] + 1,
                    top + 4.3 + k * cell_step,
                    part,
                    pt=cell_pt,
                    role="typed",
                    fill=BLUE,
                    record=False,
                )
        c.record_line(" ".join(" ".join(parts) for parts in row), form="")
    y = tops[-1] + 6.5
    y = c.field(left, y, "14. Tiền án, tiền sự:", "Không", right=right, pt=pt)
    y = c.field(left, y, "Mục đích sử dụng Phiếu lý lịch tư pháp:", d.purpose, right=right, pt=pt)
    ticked = d.certificate == "Phiếu số 1"
    box = 3.2
    c.text(left, y, "Yêu cầu cấp:", pt=pt, record=False)
    for x, label, on in ((left + 28, "Phiếu số 1", ticked), (left + 68, "Phiếu số 2", not ticked)):
        c.text(x, y, label, pt=pt, record=False)
        bx = x + c.width_mm(label, "regular", pt) + 2
        c.rect(bx, y - box, box, box)
        if on:  # a blue cross in the box
            x0, y0, x1, y1 = (
                c.px(bx + 0.4),
                c.px(y - box + 0.4),
                c.px(bx + box - 0.4),
                c.px(y - 0.4),
            )
            c.draw.line((x0, y0, x1, y1), fill=BLUE, width=2)
            c.draw.line((x0, y1, x1, y0), fill=BLUE, width=2)
    c.record_line("Yêu cầu cấp: Phiếu số 1 Phiếu số 2")
    y += 6.5
    y = c.field(left, y, "Số lượng Phiếu yêu cầu cấp:", "01", right=right, pt=pt)
    y = c.paragraph(
        left,
        y + 1.0,
        "Tôi xin cam đoan những lời khai trên là đúng sự thật và chịu trách nhiệm về lời khai "
        "của mình.",
        pt=pt,
        right=right,
        indent=10.0,
        leading=1.5,
    )
    sx = 148.0
    y += 3.0
    c.text(
        sx,
        y,
        f"{truth.agency.province}, {_date_words(truth.received_date)}",
        pt=10.5,
        role="italic",
        align="center",
    )
    y += 5.5
    c.text(sx, y, "NGƯỜI YÊU CẦU", pt=11.5, role="bold", align="center")
    y += 4.8
    c.text(sx, y, "(Ký, ghi rõ họ tên)", pt=9.5, role="italic", align="center")
    sig_y = min(y + 12, A4_MM[1] - 20)
    c.signature(sx - 14, sig_y, 28, rng)
    c.text(
        sx,
        min(sig_y + 9, A4_MM[1] - 10),
        p.full_name,
        pt=11.5,
        role="typed",
        fill=BLUE,
        align="center",
    )
    return _Rendered(c.image, "application_form", c.lines, [], A4_MM, c.printed, c.form_print)


def render_lltp_form(
    truth: DossierTruth, *, dpi: int = 200, rng: random.Random | None = None
) -> tuple[Image.Image, PageKind]:
    """The A4 criminal-record certificate request (Tờ khai, TT 06/2024/TT-BTP), filled in."""
    r = _lltp(truth, dpi, rng)
    return r.image, r.kind


def render_application_form(
    truth: DossierTruth, *, dpi: int = 200, rng: random.Random | None = None
) -> SynthPage:
    """The application form of ``truth``'s procedure, clean, as drawn by ``render_gplx_form``
    or ``render_lltp_form``. ``lines`` holds every line of text, the values filled in too;
    ``meta["printed_lines"]`` the machine-printed text alone, in reading order: labels,
    headings and typed values, not what ``truth.handwritten`` put down by pen (nor the dot
    leaders, check boxes or signature, which are no text); ``meta["form_lines"]`` only what
    the blank form prints, none of the values filled in."""
    r = _gplx(truth, dpi, rng) if truth.gplx is not None else _lltp(truth, dpi, rng)
    printed = r.lines if r.printed is None else r.printed
    meta: dict[str, object] = {
        "kind": r.kind,
        "page_mm": r.page_mm,
        "printed_lines": list(printed),
        "form_lines": list(printed if r.form_print is None else r.form_print),
    }
    return SynthPage(image=r.image, lines=list(r.lines), dpi=dpi, meta=meta)


def _mrz_check(data: str) -> str:
    weights = (7, 3, 1)
    total = 0
    for i, ch in enumerate(data):
        if ch.isdigit():
            v = int(ch)
        elif ch.isalpha():
            v = ord(ch.upper()) - 55
        else:
            v = 0
        total += v * weights[i % 3]
    return str(total % 10)


def _card_expiry(person: Person) -> date | None:
    age = person.id_issue_date.year - person.date_of_birth.year
    for limit in (25, 40, 60):
        if age < limit - 2:
            return _add_years(person.date_of_birth, limit)
    return None


def _mrz(person: Person) -> list[str]:
    doc = person.id_number[3:]
    line1 = f"IDVNM{doc}{_mrz_check(doc)}{person.id_number}<<<"[:30].ljust(30, "<")
    dob = f"{person.date_of_birth:%y%m%d}"
    expiry_day = _card_expiry(person)
    expiry = f"{expiry_day:%y%m%d}" if expiry_day else "<<<<<<"
    exp_check = _mrz_check(expiry) if expiry_day else "<"
    sex = "M" if person.sex == "Nam" else "F"
    line2 = f"{dob}{_mrz_check(dob)}{sex}{expiry}{exp_check}VNM".ljust(29, "<")
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += _mrz_check(composite)
    parts = ascii_fold(person.full_name).upper().split()
    line3 = (parts[0] + "<<" + "<".join(parts[1:]))[:30].ljust(30, "<")
    return [line1, line2, line3]


def _id_copy(truth: DossierTruth, dpi: int, rng: random.Random | None) -> _Rendered:
    rng = _default_rng(truth, "id_copy", rng)
    paper = (246, 246, 244)
    c = _Canvas(A4_MM, dpi, _pick_fonts(rng), paper=paper)
    p = truth.person
    payload = cccd_qr_payload(truth.id_qr_person or p)
    cw, ch = CARD_MM
    fx = (A4_MM[0] - cw) / 2 + rng.uniform(-8, 8)
    fy = 28.0 + rng.uniform(-5, 5)
    card = (208, 208, 206)
    dark = (45, 45, 48)
    # ---- front
    c.rect(fx, fy, cw, ch, outline=(120, 120, 120), fill=card, radius=3.2, width=2)
    c.draw.ellipse((c.px(fx + 3), c.px(fy + 3), c.px(fx + 15), c.px(fy + 15)), fill=(150, 150, 150))
    c.draw.text(
        (c.px(fx + 9), c.px(fy + 9)),
        "★",
        font=_load_font(_symbol_font(), c.px(7.0)),
        fill=(90, 90, 90),
        anchor="mm",
    )
    qr_w = c.paste_qr(
        payload, fx + cw - 3.0, fy + 3.0, 15.0, dark=(20, 20, 22), light=card, align="right"
    )
    qx = fx + cw - 3.0 - qr_w
    s = "sans"
    sb = "sans_bold"
    # between the emblem and the QR code's quiet zone (wider QR codes at low dpi leave less room)
    qr_left = qx - 1.0 - 4 * qr_w / _qr_modules(payload, "m").shape[0]
    hx = (fx + 17 + qr_left) / 2
    header = (
        (5.0, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 5.2, sb),
        (7.4, "SOCIALIST REPUBLIC OF VIET NAM", 4.3, s),
        (9.9, "Độc lập - Tự do - Hạnh phúc", 5.0, sb),
        (12.2, "Independence - Freedom - Happiness", 4.3, s),
        (16.8, "CĂN CƯỚC CÔNG DÂN", 8.5, sb),
        (19.6, "Citizen Identity Card", 5.0, s),
    )
    for dy, text, size, role in header:
        size = c.fit(text, role, size, qr_left - fx - 17)
        c.text(hx, fy + dy, text, pt=size, role=role, fill=dark, align="center")
    # photo
    px0, py0 = fx + 3.0, fy + 21.5
    c.rect(px0, py0, 19.0, 24.0, outline=None, fill=(95, 95, 98))
    c.draw.ellipse(
        (c.px(px0 + 5.5), c.px(py0 + 3.5), c.px(px0 + 13.5), c.px(py0 + 13.5)),
        fill=(165, 165, 165),
    )
    c.draw.chord(
        (c.px(px0 + 1.5), c.px(py0 + 13.5), c.px(px0 + 17.5), c.px(py0 + 32)),
        180,
        360,
        fill=(165, 165, 165),
    )
    tx = fx + 25.0
    right = fx + cw - 2.0
    number = f"Số / No.: {p.id_number}"
    number_pt = c.fit(number, sb, 8.0, qr_left - tx) if 3.0 + qr_w + 1.5 > 22.5 else 8.0
    c.text(tx, fy + 25.5, number, pt=number_pt, role=sb, fill=(20, 20, 22))
    c.text(tx, fy + 29.0, "Họ và tên / Full name:", pt=5.0, role=s, fill=dark)
    c.text(tx, fy + 32.4, upper_vi(p.full_name), pt=7.2, role=sb, fill=(20, 20, 22))
    c.text(
        tx,
        fy + 35.6,
        f"Ngày sinh / Date of birth: {p.date_of_birth:%d/%m/%Y}",
        pt=5.0,
        role=s,
        fill=dark,
    )
    c.text(tx, fy + 38.4, f"Giới tính / Sex: {p.sex}", pt=5.0, role=s, fill=dark, record=False)
    c.text(
        tx + 25,
        fy + 38.4,
        "Quốc tịch / Nationality: Việt Nam",
        pt=5.0,
        role=s,
        fill=dark,
        record=False,
    )
    c.record_line(f"Giới tính / Sex: {p.sex} Quốc tịch / Nationality: Việt Nam")
    c.text(tx, fy + 41.2, "Quê quán / Place of origin:", pt=5.0, role=s, fill=dark)
    c.text(tx, fy + 44.0, p.hometown, pt=5.6, role=s, fill=(20, 20, 22))
    label = "Nơi thường trú / Place of residence:"
    end = c.text(tx, fy + 46.8, label, pt=5.0, role=s, fill=dark, record=False)
    parts = c.wrap(p.address, s, 5.6, right - end - 1, right - tx)
    c.text(end + 1, fy + 46.8, parts[0], pt=5.6, role=s, fill=(20, 20, 22), record=False)
    c.record_line(f"{label} {parts[0]}")
    rest = c.wrap(" ".join(parts[1:]), s, 5.6, right - tx, right - tx) if parts[1:] else []
    if len(rest) == 1:
        c.text(tx, fy + 49.6, rest[0], pt=5.6, role=s, fill=(20, 20, 22))
    elif rest:
        for k, line in enumerate(c.wrap(" ".join(rest), s, 5.0, right - tx, right - tx)[:2]):
            c.text(tx, fy + 49.3 + k * 2.5, line, pt=5.0, role=s, fill=(20, 20, 22))
    expiry = _card_expiry(p)
    c.text(fx + 3.0, fy + 48.5, "Có giá trị đến:", pt=4.3, role=s, fill=dark)
    c.text(
        fx + 3.0,
        fy + 51.0,
        f"{expiry:%d/%m/%Y}" if expiry else "Không thời hạn",
        pt=4.6,
        role=s,
        fill=dark,
    )
    # ---- back
    bx, by = fx + rng.uniform(-3, 3), fy + ch + 14.0 + rng.uniform(-3, 3)
    c.rect(bx, by, cw, ch, outline=(120, 120, 120), fill=card, radius=3.2, width=2)
    c.rect(bx + 4, by + 5, 11, 8, outline=(80, 80, 80), fill=(170, 170, 168), radius=1.2)
    c.text(
        bx + 18,
        by + 5.5,
        "Đặc điểm nhân dạng / Personal identification:",
        pt=4.6,
        role=s,
        fill=dark,
    )
    mark = rng.choice(
        (
            "Nốt ruồi C:1cm trên sau đuôi mắt trái",
            "Sẹo chấm C:2cm dưới cằm",
            "Nốt ruồi C:2cm dưới trước mép phải",
        )
    )
    c.text(bx + 18, by + 8.3, mark, pt=5.0, role=s, fill=(20, 20, 22))
    c.text(
        bx + 18,
        by + 12.5,
        f"Ngày, tháng, năm / Date, month, year: {p.id_issue_date:%d/%m/%Y}",
        pt=4.6,
        role=s,
        fill=dark,
    )
    c.text(bx + 18, by + 15.5, "CỤC TRƯỞNG CỤC CẢNH SÁT", pt=4.6, role=sb, fill=dark)
    c.text(bx + 18, by + 17.8, "QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", pt=4.6, role=sb, fill=dark)
    for i, finger in enumerate(("Ngón trỏ trái", "Ngón trỏ phải")):
        fx0 = bx + 60 + i * 12.5
        c.rect(fx0, by + 3, 11, 15, outline=(90, 90, 90))
        for k in range(5):
            inset = 1.0 + k * 0.9
            c.draw.ellipse(
                (
                    c.px(fx0 + inset),
                    c.px(by + 4 + inset),
                    c.px(fx0 + 11 - inset),
                    c.px(by + 16 - inset * 0.6),
                ),
                outline=(110, 110, 110),
            )
        c.text(fx0 + 5.5, by + 20.2, finger, pt=3.8, role=s, fill=dark, align="center")
    c.signature(bx + 22, by + 25, 16, rng)
    mrz_font = "mono"
    for i, line in enumerate(_mrz(p)):
        c.text(bx + 4.0, by + 38.5 + i * 5.0, line, pt=10.5, role=mrz_font, fill=(20, 20, 22))
    # ---- certified copy stamp (sometimes)
    if rng.random() < 0.5:
        sy = by + ch + 18.0
        sx = 40.0 + rng.uniform(-5, 10)
        ink = (160, 30, 70)
        c.rect(sx, sy, 78, 30, outline=ink, width=2)
        c.text(
            sx + 39,
            sy + 6,
            "CHỨNG THỰC BẢN SAO ĐÚNG VỚI BẢN CHÍNH",
            pt=7.5,
            role="bold",
            fill=ink,
            align="center",
        )
        c.text(
            sx + 3,
            sy + 12,
            f"Số chứng thực: {rng.randint(100, 9999)}  Quyển số: "
            f"{rng.randint(1, 9):02d}/{truth.received:%Y}-SCT/BS",
            pt=7.0,
            fill=ink,
        )
        cert_day = truth.received_date - timedelta(days=rng.randint(0, 20))
        c.text(sx + 3, sy + 17, _date_words(cert_day).capitalize(), pt=7.0, fill=ink)
        c.text(sx + 3, sy + 22, "CÔNG CHỨC TƯ PHÁP - HỘ TỊCH", pt=7.0, role="bold", fill=ink)
        c.signature(sx + 45, sy + 24, 20, rng)
        c.seal(sx + 58, sy + 18, 14.0, f"Ủy ban nhân dân * {truth.agency.province} *")
    return _Rendered(c.image, "id_copy", c.lines, [payload], A4_MM)


def render_id_copy(
    truth: DossierTruth, *, dpi: int = 200, rng: random.Random | None = None
) -> tuple[Image.Image, PageKind]:
    """An A4 photocopy of the chip CCCD, front (with the card QR ``cccd_qr_payload``) above
    back (MRZ), sometimes with a certified-copy stamp."""
    r = _id_copy(truth, dpi, rng)
    return r.image, r.kind


def _separator(dpi: int) -> _Rendered:
    c = _Canvas(A4_MM, dpi, _available_font_sets()[0])
    size = 60.0
    real = c.paste_qr(
        SEPARATOR_PAYLOAD, (A4_MM[0] - size) / 2, 60.0, size, error="h", integer_modules=True
    )
    c.text(105.0, 60.0 + real + 20, "TỜ PHÂN CÁCH HỒ SƠ", pt=28, role="bold", align="center")
    c.text(105.0, 60.0 + real + 30, SEPARATOR_PAYLOAD, pt=12, role="mono", align="center")
    for y in (40.0, 250.0):
        c.draw.line((c.px(20), c.px(y), c.px(190), c.px(y)), fill=INK, width=c.px(1.0))
    return _Rendered(c.image, "separator", c.lines, [SEPARATOR_PAYLOAD], A4_MM)


def render_separator(*, dpi: int = 200) -> tuple[Image.Image, PageKind]:
    """A separator sheet: a large QR code holding ``SEPARATOR_PAYLOAD`` and its caption."""
    r = _separator(dpi)
    return r.image, r.kind


def _blank(dpi: int, page_mm: tuple[float, float], rng: random.Random | None) -> _Rendered:
    rng = rng or random.Random(0)
    tone = rng.randint(246, 255)
    c = _Canvas(page_mm, dpi, _available_font_sets()[0], paper=(tone, tone, tone - 2))
    if rng.random() < 0.5:  # show-through of the front, mirrored and faint
        y = 30.0
        shade = tone - rng.randint(6, 12)
        while y < page_mm[1] - 30:
            w = rng.uniform(60, page_mm[0] - 50)
            x1 = page_mm[0] - 20
            c.rect(x1 - w, y - 2.5, w, 2.5, outline=None, fill=(shade, shade, shade))
            y += rng.choice((6.5, 6.5, 13.0))
    return _Rendered(c.image, "blank", [], [], page_mm)


def render_blank_back(
    *, dpi: int = 200, page_mm: tuple[float, float] = A4_MM, rng: random.Random | None = None
) -> tuple[Image.Image, PageKind]:
    """The blank back of a sheet (duplex scan), sometimes with faint show-through."""
    r = _blank(dpi, page_mm, rng)
    return r.image, r.kind


HEALTH_FINDINGS = (
    "I. Tiền sử bệnh của đối tượng khám sức khỏe: không mắc bệnh mãn tính",
    "II. Khám lâm sàng",
    "1. Tâm thần: bình thường. 2. Thần kinh: bình thường",
    "3. Mắt: thị lực nhìn xa hai mắt có kính 10/10, nhìn màu bình thường",
    "4. Tai - Mũi - Họng: nghe nói thường hai tai bình thường",
    "5. Tim mạch: mạch 78 lần/phút, huyết áp 120/80 mmHg",
    "6. Hô hấp: bình thường. 7. Cơ xương khớp: bình thường",
    "III. Khám cận lâm sàng: xét nghiệm ma túy âm tính, nồng độ cồn trong máu âm tính",
)
RESIDENCE_FINDINGS = (
    "Thông tin về chủ hộ và các thành viên trong hộ gia đình",
    "Quan hệ với chủ hộ: Chủ hộ",
    "Thông tin được khai thác từ Cơ sở dữ liệu quốc gia về dân cư",
    "Giấy xác nhận có giá trị 30 ngày kể từ ngày cấp",
)


def _other(truth: DossierTruth, dpi: int, rng: random.Random | None) -> _Rendered:
    rng = _default_rng(truth, "other", rng)
    c = _Canvas(A4_MM, dpi, _pick_fonts(rng))
    p = truth.person
    left, right, pt = 22.0, 188.0, 11.5
    province = upper_vi(truth.agency.province)
    if truth.procedure == "doi-gplx":
        issuer = f"SỞ Y TẾ TỈNH {province}"
        title = "GIẤY KHÁM SỨC KHỎE CỦA NGƯỜI LÁI XE"
        findings: tuple[str, ...] = HEALTH_FINDINGS
        licence_class = truth.gplx.requested_class if truth.gplx else "B"
        conclusion = f"Đủ điều kiện sức khỏe lái xe hạng {licence_class}"
    else:
        issuer = f"CÔNG AN TỈNH {province}"
        title = "XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ"
        findings = RESIDENCE_FINDINGS
        conclusion = "Thông tin về cư trú của công dân như trên là đúng"
    c.text(left, 18.0, issuer, pt=10.0)
    y = _national_header(c, 130.0, 18.0, 10.0) + 10.0
    c.text(105.0, y, title, pt=14.0, role="bold", align="center")
    y += 12.0
    y = c.field(left, y, "Họ và tên (chữ in hoa):", upper_vi(p.full_name), right=right, pt=pt)
    y = c.inline_fields(
        y,
        [(left, "Giới tính:", p.sex), (left + 50, "Ngày sinh:", f"{p.date_of_birth:%d/%m/%Y}")],
        left=left,
        right=right,
        pt=pt,
    )
    y = c.field(left, y, "Số CCCD/Hộ chiếu:", p.id_number, right=right, pt=pt)
    y = c.field(left, y, "Chỗ ở hiện tại:", p.address, right=right, pt=pt)
    y += 4.0
    for line in findings:
        y = c.paragraph(left, y, line, pt=pt, right=right, leading=1.55)
    y = c.field(left, y + 3, "Kết luận:", conclusion, right=right, pt=pt)
    day = truth.received_date - timedelta(days=rng.randint(1, 30))
    c.text(
        145.0,
        y + 8,
        f"{truth.agency.province}, {_date_words(day)}",
        pt=10.5,
        role="italic",
        align="center",
    )
    c.signature(130.0, y + 28, 28, rng)
    c.seal(136.0, y + 24, 15.0, f"{issuer} * {truth.agency.province} *")
    return _Rendered(c.image, "other", c.lines, [], A4_MM)


def render_other(
    truth: DossierTruth, *, dpi: int = 200, rng: random.Random | None = None
) -> tuple[Image.Image, PageKind]:
    """A supporting paper: a driver's health certificate (doi-gplx) or a residence
    confirmation (lltp)."""
    r = _other(truth, dpi, rng)
    return r.image, r.kind


# --------------------------------------------------------------------------------------------
# Dossiers and stacks
# --------------------------------------------------------------------------------------------


def _dossier_pages(
    rng: random.Random,
    truth: DossierTruth,
    *,
    dpi: int,
    with_id_copy: bool,
    blank_backs: bool,
    with_other: bool | None,
) -> list[_Rendered]:
    pages = [_receipt(truth, dpi, None, random.Random(rng.random()))]
    form = _gplx if truth.procedure == "doi-gplx" else _lltp
    pages.append(form(truth, dpi, random.Random(rng.random())))
    if with_id_copy:
        pages.append(_id_copy(truth, dpi, random.Random(rng.random())))
    other = with_other if with_other is not None else rng.random() < 0.4
    if other:
        pages.append(_other(truth, dpi, random.Random(rng.random())))
    if not blank_backs:
        return pages
    out: list[_Rendered] = []
    for page in pages:
        out.append(page)
        out.append(_blank(dpi, page.page_mm, random.Random(rng.random())))
    return out


def make_dossier(
    rng: random.Random,
    *,
    procedure: str | None = None,
    with_id_copy: bool = True,
    blank_backs: bool = False,
    dpi: int = 200,
    with_other: bool | None = None,
    truth: DossierTruth | None = None,
) -> tuple[list[tuple[Image.Image, PageKind]], DossierTruth]:
    """One dossier, clean: receipt, application form, ID copy (optional), sometimes a
    supporting paper (``with_other``: None = random), each followed by a blank back if
    ``blank_backs``. The QR payloads of each page are ``qr_payloads_for(truth, kind)``."""
    truth = truth or random_truth(rng, procedure=procedure)
    pages = _dossier_pages(
        rng,
        truth,
        dpi=dpi,
        with_id_copy=with_id_copy,
        blank_backs=blank_backs,
        with_other=with_other,
    )
    return [(p.image, p.kind) for p in pages], truth


def scan_degradation(rng: random.Random) -> Degradation:
    """A mild 200-dpi counter scan: skew within ±2°, light noise, JPEG ~75, sometimes upside
    down; no heavy blur and no dust specks (a speck beside a finder pattern defeats zxing), so
    QR codes stay readable."""
    return Degradation(
        rotation=180 if rng.random() < 0.12 else 0,
        skew_deg=round(rng.uniform(-2.0, 2.0), 2),
        noise_sigma=round(rng.uniform(2.0, 6.0), 1),
        blur_sigma=rng.choice((0.0, 0.0, 0.0, 0.4)),
        jpeg_quality=rng.randint(70, 80),
        dark_border_px=rng.choice((0, 0, 0, 0, 12)),
        background=rng.randint(232, 255),
        gradient=rng.choice((0.0, 0.0, 0.08)),
    )


@dataclass(frozen=True)
class Variant:
    """How one dossier of a stack departs from the usual printed receipt + form + ID copy.

    ``qr_style``: the receipt QR's layout (one of ``ALL_QR_STYLES``; None: drawn at random);
    ``handwritten``: the form filled in by hand; ``with_id_copy``: False leaves the copy out;
    ``conflicting_qr``: the ID copy's chip QR carries another person's name and birth date
    (one wrong source against the receipt, the form and the copy's printed text).
    """

    qr_style: str | None = None
    handwritten: bool = False
    with_id_copy: bool = True
    conflicting_qr: bool = False


def _apply_variant(truth: DossierTruth, variant: Variant, seed: int) -> DossierTruth:
    changed = replace(truth, handwritten=variant.handwritten)
    if variant.qr_style is not None:
        if variant.qr_style not in ALL_QR_STYLES:
            raise ValueError(f"unknown QR style {variant.qr_style!r}")
        changed = replace(changed, qr_style=variant.qr_style)
    if variant.conflicting_qr:
        other = random_person(random.Random(seed))
        # Same card number and sex (the card's own cross-checks still pass): only the name
        # and birth date disagree with every other paper.
        wrong = replace(
            truth.person,
            full_name=other.full_name,
            date_of_birth=truth.person.date_of_birth.replace(day=min(28, other.date_of_birth.day)),
        )
        if wrong.date_of_birth == truth.person.date_of_birth:
            wrong = replace(wrong, date_of_birth=truth.person.date_of_birth + timedelta(days=1))
        if wrong.full_name == truth.person.full_name:
            wrong = replace(wrong, full_name=f"{truth.person.full_name} Anh")
        changed = replace(changed, id_qr_person=wrong)
    return changed


def make_stack(
    n_dossiers: int,
    seed: int,
    *,
    dpi: int = 200,
    degrade: bool = True,
    separators: bool = False,
    blank_backs: bool = False,
    procedures: Sequence[str] | None = None,
    variants: Sequence[Variant] | None = None,
) -> tuple[list[SynthPage], list[DossierTruth], list[int]]:
    """A counter batch of ``n_dossiers`` dossiers scanned one after another.

    Returns the pages (``SynthPage``: image, printed lines, dpi, meta with ``kind``,
    ``dossier`` index or None, ``qr_payloads``, ``page_mm``, ``rotation``, ``degradation`` and
    ``degrade_seed``: the page is ``synth.degrade(clean, degradation, degrade_seed)``; with
    ``degrade=False`` the same stack comes back clean),
    the truths, and the index of each dossier's first page (its receipt). With ``separators``
    a separator sheet lies between consecutive dossiers (not before the first one); it belongs
    to no dossier. One batch is one counter on one day: sequence numbers increase.
    ``variants`` (cycled over the dossiers) change QR layouts, fill forms in by hand, leave
    ID copies out or make one source disagree; without them, the stack is as it always was.
    """
    rng = random.Random(seed)
    agency = rng.choice(list(AGENCIES))
    day = _random_weekday(rng, date(2025, 3, 3), date(2025, 12, 19))
    minute = rng.randint(7 * 60 + 30, 9 * 60)
    seq = rng.randint(1, 120)
    pages: list[SynthPage] = []
    truths: list[DossierTruth] = []
    firsts: list[int] = []
    for index in range(n_dossiers):
        if separators and index > 0:
            sep = _separator(dpi)
            pages.append(_to_synth(sep, dpi, None, rng, degrade))
        minute = min(minute + rng.randint(5, 25), 16 * 60 + 45)
        seq += rng.randint(1, 4)
        received = datetime.combine(day, time(minute // 60, minute % 60, rng.randint(0, 59)))
        procedure = procedures[index % len(procedures)] if procedures else None
        truth = random_truth(
            rng, procedure=procedure, agency_code=agency, received=received, sequence=seq
        )
        variant = variants[index % len(variants)] if variants else Variant()
        if variants:
            truth = _apply_variant(truth, variant, seed * 1000 + index)
        rendered = _dossier_pages(
            rng,
            truth,
            dpi=dpi,
            with_id_copy=variant.with_id_copy,
            blank_backs=blank_backs,
            with_other=None,
        )
        firsts.append(len(pages))
        truths.append(truth)
        for r in rendered:
            pages.append(_to_synth(r, dpi, index, rng, degrade))
    return pages, truths, firsts


def _to_synth(
    r: _Rendered, dpi: int, dossier: int | None, rng: random.Random, degrade: bool
) -> SynthPage:
    meta: dict[str, object] = {
        "kind": r.kind,
        "dossier": dossier,
        "qr_payloads": list(r.qr_payloads),
        "page_mm": r.page_mm,
        "rotation": 0,
        "printed_lines": list(r.lines if r.printed is None else r.printed),
        "form_lines": list(r.form_print or (r.lines if r.printed is None else r.printed)),
    }
    page = SynthPage(image=r.image, lines=list(r.lines), dpi=dpi, meta=meta)
    # drawn even when not applied, so a clean stack has the same content as a degraded one
    spec = scan_degradation(rng)
    seed = rng.randint(0, 2**31 - 1)
    if not degrade:
        page.meta.update(degradation=None, degrade_seed=None)
        return page
    out = synth.degrade(page, spec, seed=seed)
    out.meta = {**meta, "rotation": spec.rotation, "degradation": spec, "degrade_seed": seed}
    return out


def save_stack_pdf(pages: Sequence[SynthPage], path: Path) -> None:
    """An image-only PDF of the stack, as the counter scanner writes it."""
    synth.save_pdf(list(pages), Path(path))
