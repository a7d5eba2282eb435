"""A dossier in the national public-service portal's shape (issue 27): one module, pure.

The shape is the portal's dossier sync, service ``DongBoHoSoMC``, as VietOpenCPS/opencps-v2
builds it (``DVCQGIntegrationActionImpl.createSyncDossierBodyRequest``): ``MaHoSo``,
``MaTTHC``, ``TenTTHC``, ``MaLinhVuc``, ``ChuHoSo``, ``LoaiDoiTuong`` ("1" a citizen, "2" a
business), ``SoDienThoai``, ``Email``, ``NgayTiepNhan``/``NgayHenTra`` (``yyyyMMddHHmmss``,
Asia/Ho_Chi_Minh), ``TrangThaiHoSo`` (the portal's status code, which opencps maps from its
own statuses through a per-province table), ``DonViXuLy`` and ``TaiLieuNop[]``
(``TepDinhKemId``, ``TenTepDinhKem``, ``IsDeleted``, ``MaThanhPhanHoSo``,
``DuongDanTaiTepTin``).

What sohoa does not know is left empty and named in ``ThieuMa`` (what is missing, and why),
never invented: the procedure's MaTTHC and MaLinhVuc and each paper's MaThanhPhanHoSo come
from the catalogue (``national_code``, ``sector_code``, ``[[procedures.X.papers]] code``);
the portal's status code list is not published, so ``TrangThaiHoSo`` stays empty unless a
mapping is given one. What sohoa adds of its own sits under one key, ``SoHoa``.

A province whose system wants another shape gets another ``PortalMapping`` (a subclass that
overrides a method or two), registered in ``MAPPINGS``; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from config.catalogue import Catalogue, PaperSpec, Procedure
from models import DossierInfo

VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
SERVICE = "DongBoHoSoMC"
# Page kinds that are papers; blank pages (backs) belong to no paper.
_NOT_A_PAPER = frozenset({"blank"})
OTHER_PAPER = "Giấy tờ khác (chưa xác định thành phần hồ sơ)"


@dataclass(frozen=True)
class Paper:
    """One submitted paper: consecutive pages of the same kind (a "thành phần hồ sơ")."""

    number: int  # 1-based, in paper order
    kind: str  # receipt, application_form, id_copy, other
    pages: tuple[int, ...]  # 0-based pages of the dossier (its archived PDF)
    name: str  # as the catalogue names it (Vietnamese)
    code: str | None  # MaThanhPhanHoSo; None: not known

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "kind": self.kind,
            "pages": [p + 1 for p in self.pages],
            "name": self.name,
            "code": self.code,
        }


def papers_of(dossier: DossierInfo, procedure: Procedure | None) -> list[Paper]:
    """The dossier's papers from its pages' kinds: a run of pages of one kind is one paper.

    A kind the procedure lists once is that paper (its name and code); a page no kind
    recognises (``other``) is a paper whose component is not known: no code, said so.
    """
    runs: list[tuple[str, list[int]]] = []
    for page in sorted(dossier.pages, key=lambda p: p.index):
        kind = page.kind or "other"
        if kind in _NOT_A_PAPER:
            continue
        if runs and runs[-1][0] == kind and runs[-1][1][-1] == page.index - 1:
            runs[-1][1].append(page.index)
        elif runs and runs[-1][0] == kind and kind != "other":
            runs[-1][1].append(page.index)  # a blank back between two pages of one paper
        else:
            runs.append((kind, [page.index]))
    specs: tuple[PaperSpec, ...] = procedure.papers if procedure is not None else ()
    papers = []
    for number, (kind, pages) in enumerate(runs, start=1):
        matches = [s for s in specs if s.kind == kind] if kind != "other" else []
        spec = matches[0] if len(matches) == 1 else None
        name = spec.name if spec is not None else _KIND_NAMES.get(kind, OTHER_PAPER)
        papers.append(Paper(number, kind, tuple(pages), name, spec.code if spec else None))
    return papers


_KIND_NAMES = {
    "receipt": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "application_form": "Đơn, tờ khai",
    "id_copy": "Bản sao giấy tờ tùy thân",
}


def portal_time(value: datetime | None) -> str:
    """``yyyyMMddHHmmss`` in Viet Nam time (as opencps's convertDate2String); "" for none."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(VIETNAM_TIME).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class HandoffInput:
    """Everything the mapping reads: the archived dossier, its papers' links, the catalogue."""

    dossier: DossierInfo
    catalogue: Catalogue
    paper_urls: dict[int, str]  # paper number -> expiring authenticated link
    links_expire_at: datetime | None
    signed: bool  # the archive (and so each paper) carries the digitiser's signature
    received_at: datetime  # when the counter took it in (the batch's time)
    due_at: datetime | None = None  # NgayHenTra, when the receipt gave one


@dataclass(frozen=True)
class Missing:
    field: str  # where in the document: "MaTTHC", "TaiLieuNop[2].MaThanhPhanHoSo"
    reason: str  # Vietnamese, for the agency's integrator

    def to_json(self) -> dict[str, str]:
        return {"TruongDuLieu": self.field, "LyDo": self.reason}


class PortalMapping:
    """The national portal's DongBoHoSoMC shape. Subclass it for a province's variant."""

    name = "dvcqg-dongbohosomc"
    # The portal's status code for "received, digitised": not published; a province's
    # mapping sets it from its status table (opencps: DossierStatusMapping).
    received_status_code = ""

    def document(self, given: HandoffInput) -> dict[str, Any]:
        dossier, missing = given.dossier, []
        procedure = given.catalogue.procedure(dossier.procedure) if dossier.procedure else None
        if procedure is None:
            missing.append(Missing("MaTTHC", "chưa xác định được thủ tục của hồ sơ"))
        elif procedure.national_code is None:
            missing.append(Missing("MaTTHC", f"danh mục chưa có mã thủ tục cho «{procedure.name}»"))
        if procedure is not None and procedure.sector_code is None:
            missing.append(
                Missing("MaLinhVuc", f"danh mục chưa có mã lĩnh vực cho «{procedure.name}»")
            )
        if not dossier.dossier_code:
            missing.append(Missing("MaHoSo", "không đọc được mã hồ sơ trên giấy tiếp nhận"))
        if not self.received_status_code:
            missing.append(
                Missing("TrangThaiHoSo", "chưa có bảng mã trạng thái của cổng dịch vụ công")
            )
        if given.due_at is None:
            missing.append(Missing("NgayHenTra", "không có ngày hẹn trả trong hồ sơ"))
        papers = papers_of(dossier, procedure)
        documents = []
        for paper in papers:
            if paper.code is None:
                missing.append(
                    Missing(
                        f"TaiLieuNop[{paper.number - 1}].MaThanhPhanHoSo",
                        f"danh mục chưa có mã thành phần hồ sơ cho «{paper.name}»",
                    )
                )
            documents.append(self.paper(dossier, paper, given.paper_urls.get(paper.number, "")))
        fields = dossier.fields
        return {
            "MaHoSo": dossier.dossier_code or "",
            "MaTTHC": procedure.national_code or "" if procedure else "",
            "TenTTHC": procedure.name if procedure else "",
            "MaLinhVuc": procedure.sector_code or "" if procedure else "",
            "ChuHoSo": dossier.full_name or str(fields.get("full_name") or ""),
            "LoaiDoiTuong": "1",  # a citizen at a post counter
            "SoDienThoai": str(fields.get("phone") or ""),
            "Email": str(fields.get("email") or ""),
            "NgayTiepNhan": portal_time(given.received_at),
            "NgayHenTra": portal_time(given.due_at),
            "TrangThaiHoSo": self.received_status_code,
            "DonViXuLy": dossier.agency_code or "",
            "TaiLieuNop": documents,
            "DanhSachGiayToKetQua": [],
            "ThieuMa": [m.to_json() for m in missing],
            "SoHoa": {
                "mapping": self.name,
                "service": SERVICE,
                "dossier_id": dossier.dossier_id,
                "procedure": dossier.procedure,
                "id_number": dossier.id_number,
                "archived_at": dossier.archived_at.isoformat() if dossier.archived_at else None,
                "signed": given.signed,
                "links_expire_at": (
                    given.links_expire_at.isoformat() if given.links_expire_at else None
                ),
                "papers": [p.to_json() for p in papers],
            },
        }

    def paper(self, dossier: DossierInfo, paper: Paper, url: str) -> dict[str, Any]:
        return {
            "TepDinhKemId": f"{dossier.dossier_id}-{paper.number:02d}",
            "TenTepDinhKem": f"{paper.number:02d}-{paper.kind}.pdf",
            "IsDeleted": False,
            "MaThanhPhanHoSo": paper.code or "",
            "TenThanhPhanHoSo": paper.name,
            "DuongDanTaiTepTin": url,
        }


MAPPINGS: dict[str, PortalMapping] = {PortalMapping.name: PortalMapping()}


def mapping(name: str | None = None) -> PortalMapping:
    """The mapping by name (default: the national portal's)."""
    key = name or PortalMapping.name
    if key not in MAPPINGS:
        raise ValueError(f"no handoff mapping {key!r}; known: {', '.join(sorted(MAPPINGS))}")
    return MAPPINGS[key]
