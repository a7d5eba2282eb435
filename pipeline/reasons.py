"""Why a dossier waits for a person: stable machine codes, each with a Vietnamese sentence.

Every review reason the pipeline gives is one of ``ReasonCode``: the code is what programs
(the review page, the message catalogue, statistics) key on and must never be renamed; the
sentence is what an operator reads. A reason names the field it concerns and, where it can,
the paper that should have carried the value ("the form", "the ID copy"), so the operator
knows which page to look at.

Stored as one line ``"<field>: <code>: <sentence>"``: the field first, as every earlier
reason was (a correction of that field clears the reasons that start with its name), then
the code, so the line can be parsed back (``parse_reason``) without a schema change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "FIELD_LABELS_VI",
    "PAPER_NAMES_VI",
    "ReasonCode",
    "ReviewReason",
    "parse_reason",
]


class ReasonCode(StrEnum):
    """Every reason a dossier can need review. Values are stable: add, never rename."""

    MISSING = "missing"  # a required field was on none of the papers that should carry it
    CONFLICT = "conflict"  # sources disagree: all candidates kept, the majority pre-selected
    UNREADABLE = "unreadable"  # a value was read but is not a value of the field (bad date ...)
    HANDWRITTEN = "handwritten"  # ink after the label that OCR cannot read: key it from the crop
    ID_MISMATCH = "id_mismatch"  # the CCCD number contradicts itself, the birth date or the sex
    INVALID_CODE = "invalid_code"  # the dossier code is not a TT 01/2018 Art. 19 code
    DATE_OUT_OF_RANGE = "date_out_of_range"  # a birth date before 1900 or in the future
    AGENCY_MISMATCH = "agency_mismatch"  # the dossier code's unit is not the upload's agency
    PROCEDURE_UNKNOWN = "procedure_unknown"  # no paper names a procedure of the catalogue


# What each field and paper is called on the Vietnamese pages (the reasons' sentences).
FIELD_LABELS_VI: dict[str, str] = {
    "dossier_code": "mã hồ sơ",
    "procedure": "thủ tục",
    "full_name": "họ và tên",
    "date_of_birth": "ngày sinh",
    "sex": "giới tính",
    "id_number": "số định danh (CCCD)",
    "address": "địa chỉ",
    "phone": "số điện thoại",
}
PAPER_NAMES_VI: dict[str, str] = {
    "receipt": "giấy tiếp nhận hồ sơ",
    "receipt_qr": "mã QR của giấy tiếp nhận",
    "application_form": "tờ khai / đơn đề nghị",
    "id_copy": "bản sao căn cước",
    "citizen_id_qr": "mã QR trên căn cước",
    "other": "giấy tờ khác",
}

_TEXTS_VI: dict[ReasonCode, str] = {
    ReasonCode.MISSING: "không tìm thấy {field} trên {paper}",
    ReasonCode.CONFLICT: "các nguồn ghi {field} khác nhau ({detail}); đã chọn sẵn giá trị "
    "được nhiều nguồn nhất",
    ReasonCode.UNREADABLE: "{field} trên {paper} không đọc được thành giá trị hợp lệ ({detail})",
    ReasonCode.HANDWRITTEN: "{field} trên {paper} viết tay, máy không đọc được: nhập theo ảnh cắt",
    ReasonCode.ID_MISMATCH: "số định danh không khớp ({detail})",
    ReasonCode.INVALID_CODE: "mã hồ sơ không đúng mẫu Thông tư 01/2018/TT-VPCP ({detail})",
    ReasonCode.DATE_OUT_OF_RANGE: "ngày sinh ngoài khoảng hợp lý ({detail})",
    ReasonCode.AGENCY_MISMATCH: "mã hồ sơ thuộc đơn vị {detail}: hồ sơ đang ở cơ quan đã "
    "chọn khi tải lên, cần xác nhận cơ quan nhận",
    ReasonCode.PROCEDURE_UNKNOWN: "không nhận ra thủ tục trên {paper}",
}


@dataclass(frozen=True)
class ReviewReason:
    """One reason: the field it concerns, its code, the paper at fault, a detail for the
    sentence (values, the check that failed; kept short, it is shown as is)."""

    field: str
    code: ReasonCode
    paper: str | None = None  # a key of PAPER_NAMES_VI, or several joined by "|"
    detail: str = ""

    @property
    def text_vi(self) -> str:
        papers = [PAPER_NAMES_VI.get(p, p) for p in (self.paper or "").split("|") if p]
        return _TEXTS_VI[self.code].format(
            field=FIELD_LABELS_VI.get(self.field, self.field),
            paper=" hoặc ".join(papers) or "giấy tờ của hồ sơ",
            detail=self.detail,
        )

    def line(self) -> str:
        """The stored form, ``"<field>: <code>: <sentence>"``."""
        return f"{self.field}: {self.code}: {self.text_vi}"

    def to_json(self) -> dict[str, str | None]:
        return {
            "field": self.field,
            "code": str(self.code),
            "paper": self.paper,
            "detail": self.detail,
            "text": self.text_vi,
        }


_CODES = frozenset(code.value for code in ReasonCode)
_LINE = re.compile(r"([a-z_]{1,64}): ([a-z_]{1,64}): (.*)", re.DOTALL)


def parse_reason(line: str) -> tuple[str, ReasonCode | None, str]:
    """(field, code, sentence) of a stored reason line; code None for lines written before
    codes existed ("phone: not found") or by something else."""
    match = _LINE.fullmatch(line)
    if match and match[2] in _CODES:
        return match[1], ReasonCode(match[2]), match[3]
    field, _, rest = line.partition(":")
    return field.strip(), None, rest.strip()
