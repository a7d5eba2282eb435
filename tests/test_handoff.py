"""Issue 27, the handoff: every archived dossier in the portal's DongBoHoSoMC shape
(validated against schemas/handoff.schema.json), missing codes named, each paper a signed
PDF of its own behind an expiring authenticated link, and the catalogue's codes loaded."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pikepdf
import pytest

from config import Settings
from config.catalogue import DEFAULT_CATALOGUE, load_catalogue
from config.catalogue_codes import CatalogueLoadError, apply_codes, parse_code_list
from flows import runtime
from flows.handoff import handoff_document
from models import Role
from pipeline.sign import verify_pdf_signature
from tests.handoff_world import AGENCY, build_world, world_settings
from tests.service_support import open_world, run_nothing

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "schemas" / "handoff.schema.json").read_text()
)
TOKENS = [
    ("counter", Role.COUNTER, None, None),
    ("agency", Role.AGENCY, AGENCY, None),
    ("other_agency", Role.AGENCY, "000.17.22.H56", None),
    ("operator", Role.OPERATOR, None, None),
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Settings, list[str], Path]]:
    runtime.reset()
    settings, pki = world_settings(tmp_path)
    ids = build_world(settings, tmp_path / "work")
    yield settings, ids, pki.root_certificate
    runtime.reset()


def _validate(document: dict[str, object]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_every_dossier_of_the_world_validates_and_names_what_is_missing(world) -> None:
    settings, ids, _root = world
    documents = {i: handoff_document(settings, i, "https://sohoa.example") for i in ids}
    for document in documents.values():
        _validate(document)
    gplx = documents["d-gplx"]
    assert gplx["MaHoSo"] == "000.00.01.H22-261201-0001"
    assert gplx["TenTTHC"] == "Đổi, cấp lại giấy phép lái xe"
    assert gplx["ChuHoSo"] == "Nguyễn Văn An" and gplx["DonViXuLy"] == AGENCY
    assert len(gplx["NgayTiepNhan"]) == 14
    # receipt, form, the id copy's two pages as one paper, an unknown paper
    assert [p["pages"] for p in gplx["SoHoa"]["papers"]] == [[1], [2], [3, 4], [5]]
    assert gplx["SoHoa"]["signed"] is True
    missing = {m["TruongDuLieu"] for m in gplx["ThieuMa"]}
    # The shipped catalogue knows no national code: each is named, none is invented.
    assert {"MaTTHC", "MaLinhVuc", "TrangThaiHoSo", "NgayHenTra"} <= missing
    assert {f"TaiLieuNop[{i}].MaThanhPhanHoSo" for i in range(4)} <= missing
    assert gplx["MaTTHC"] == "" and all(d["MaThanhPhanHoSo"] == "" for d in gplx["TaiLieuNop"])
    # the blank back between the form's pages and the id copy belongs to no paper
    lltp = documents["d-lltp"]
    assert [p["pages"] for p in lltp["SoHoa"]["papers"]] == [[1], [2, 3], [5]]
    unknown = documents["d-unknown"]
    reasons = {m["TruongDuLieu"]: m["LyDo"] for m in unknown["ThieuMa"]}
    assert "MaHoSo" in reasons and "thủ tục" in reasons["MaTTHC"]
    assert [p["pages"] for p in unknown["SoHoa"]["papers"]] == [[1, 2]]


def test_loaded_codes_reach_the_document_and_a_bad_list_changes_nothing(
    world, tmp_path: Path
) -> None:
    settings, _ids, _root = world
    catalogue = tmp_path / "procedures.toml"
    shutil.copy(DEFAULT_CATALOGUE, catalogue)
    listing = tmp_path / "codes.csv"
    listing.write_text(
        "procedure,paper,code\n"
        "doi-gplx,,1.000001.000.00.00.H99\n"  # a test value shaped like a code, not a real one
        "doi-gplx,@sector,G99\n"
        "doi-gplx,receipt,TP-RECEIPT\n"
        'doi-gplx,"Đơn đề nghị đổi, cấp lại giấy phép lái xe",TP-FORM\n',
        encoding="utf-8",
    )
    before = catalogue.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"procedure": "doi-gplx", "papers": [{"name": "x", "code": "1"}]}]))
    env_settings = settings.model_copy(update={"catalogue_path": catalogue})
    with pytest.raises(CatalogueLoadError, match="no paper named 'x'"):
        apply_codes(before.decode(), parse_code_list(bad.read_text(), name="bad.json"))
    assert catalogue.read_bytes() == before
    from app.cli_handoff import cmd_catalogue_load

    class Args:
        file = str(listing)

    assert cmd_catalogue_load(Args(), env_settings) == 0  # type: ignore[arg-type]
    text = catalogue.read_text(encoding="utf-8")
    assert "# National codes" in text  # comments kept
    load_catalogue.cache_clear()
    document = handoff_document(env_settings, "d-gplx", "https://sohoa.example")
    _validate(document)
    assert document["MaTTHC"] == "1.000001.000.00.00.H99" and document["MaLinhVuc"] == "G99"
    assert [d["MaThanhPhanHoSo"] for d in document["TaiLieuNop"]] == [
        "TP-RECEIPT",
        "TP-FORM",
        "",
        "",
    ]
    missing = {m["TruongDuLieu"] for m in document["ThieuMa"]}
    assert "MaTTHC" not in missing and "TaiLieuNop[2].MaThanhPhanHoSo" in missing
    assert "TaiLieuNop[0].MaThanhPhanHoSo" not in missing


def test_routes_papers_are_signed_pdfs_and_links_expire(world) -> None:
    settings, _ids, root = world
    with open_world(settings, run=run_nothing, tokens=TOKENS) as w:
        assert (
            w.client.get("/api/dossiers/d-gplx/handoff", headers=w.auth("counter")).status_code
            == 403
        )
        assert (
            w.client.get("/api/dossiers/d-gplx/handoff", headers=w.auth("other_agency")).status_code
            == 404
        )
        answer = w.client.get("/api/dossiers/d-gplx/handoff", headers=w.auth("agency"))
        assert answer.status_code == 200, answer.text
        document = answer.json()
        _validate(document)
        link = document["TaiLieuNop"][2]["DuongDanTaiTepTin"]  # the id copy, pages 3-4
        url = urlsplit(link)
        target = f"{url.path}?{url.query}"
        pdf = w.client.get(target)  # the link is the credential: no token
        assert pdf.status_code == 200, pdf.text
        path = settings.data_dir / "paper.pdf"
        path.write_bytes(pdf.content)
        with pikepdf.open(path) as opened:
            assert len(opened.pages) == 2
        report = verify_pdf_signature(path, trust_roots=[root])
        assert report.intact and report.trusted, report
        again = w.client.get(target)
        assert again.content == pdf.content  # kept, not signed anew
        query = parse_qs(url.query)
        tampered = target.replace(f"sig={query['sig'][0]}", "sig=" + "0" * 64)
        assert w.client.get(tampered).status_code == 403
        other_paper = target.replace("/3.pdf", "/1.pdf")  # a signature is for one paper
        assert w.client.get(other_paper).status_code == 403
        other_dossier = target.replace("/d-gplx/", "/d-lltp/")
        assert w.client.get(other_dossier).status_code == 403
    # an expired link: made an hour and a half ago
    old = handoff_document(settings, "d-gplx", "http://testserver", now=time.time() - 5400)
    with open_world(settings, run=run_nothing, tokens=TOKENS) as w:
        url = urlsplit(old["TaiLieuNop"][0]["DuongDanTaiTepTin"])
        expired = w.client.get(f"{url.path}?{url.query}")
        assert expired.status_code == 403 and "expired" in expired.text


def test_cli_handoff_prints_the_document(world, capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ids, _root = world
    from app.cli_handoff import cmd_handoff

    class Args:
        dossier_id = "d-unknown"
        base_url = "https://sohoa.example"

    assert cmd_handoff(Args(), settings) == 0  # type: ignore[arg-type]
    out = capsys.readouterr()
    _validate(json.loads(out.out))
    assert "missing MaHoSo" in out.err
