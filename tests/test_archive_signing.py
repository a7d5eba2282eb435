"""The archival copy end to end: PDF/A-2b, the counter's digitiser's signature, the colour
gate, and ``sohoa verify`` catching what changed after archiving.

Dossiers are real one-page scans (a generated receipt with its QR, a GPLX form) run through
the same step functions the Prefect tasks call, signed with a throwaway CA (tests/pki.py).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image

from app.verify import every_dossier
from config import Settings
from config.signers import SignerConfigError, parse_signers, signers_from_settings
from flows import archiving, runtime, steps
from flows.runtime import metadata_store, object_store
from models import BatchInfo, DossierStatus
from models.errors import BadInputError
from models.pagerecord import colour_warning
from pipeline.load import ColourMode
from pipeline.sign import verify_pdf_signature
from pipeline.stamp import STAMP_PHRASE
from pipeline.xmp import ARCHIVE_NS
from storage import keys
from storage.archive import read_manifest
from tests import dossiers, synth
from tests.pki import ThrowawayPki, make_pki

SIGNER = "Nguyễn Thị Thu Hằng"  # counter QN-01's digitiser
OTHER = "Trần Văn Bình"  # the [default] signer: must not sign QN-01's dossiers
COUNTER = "QN-01"
DOSSIER = "b1-001"
XMP = {
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "sohoa": ARCHIVE_NS,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}


# --- helpers -----------------------------------------------------------------------------


def _receipt(path: Path, seed: int = 7) -> str:
    """A colour receipt scan (JPEG, 200 dpi); returns the dossier code its QR holds."""
    truth = dossiers.random_truth(random.Random(seed), procedure="doi-gplx")
    image, _ = dossiers.render_receipt(truth, dpi=200)
    image.convert("RGB").save(path, quality=90, dpi=(200, 200))
    return truth.dossier_code


def _run_pages(
    settings: Settings, dossier_id: str, source: Path, position: int = 0
) -> tuple[steps.ReceivedDossier, steps.DossierPart, list[steps.PageDone]]:
    received = steps.receive_source(
        settings, "b1", dossier_id, position, steps.SourceRef(str(source), source.name)
    )
    assert received.error is None, received.error
    pages = [
        steps.process_one_page(settings, received, i, "vie") for i in range(received.page_count)
    ]
    (part,) = steps.split_stack(settings, received, pages)
    return received, part, pages


def _batch(settings: Settings, **kw: str) -> None:
    metadata_store(settings).create_batch(
        BatchInfo("b1", datetime.now(UTC), "vie", 1, uploaded_by="thu.ky", **kw)  # type: ignore[arg-type]
    )


def _xmp(pdf: pikepdf.Pdf) -> dict[str, str]:
    from lxml import etree

    root = etree.fromstring(pdf.Root.Metadata.read_bytes())
    values: dict[str, str] = {}
    for description in root.iter(f"{{{XMP['rdf']}}}Description"):
        for key, value in description.attrib.items():
            values[key] = value
        for child in description:
            values[child.tag] = child.text or ""
    return values


def _flip(path: Path, offset: int) -> None:
    path.chmod(0o644)  # originals are stored read-only
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _verify(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    from app.cli import main

    monkeypatch.setenv("SOHOA_DATABASE_URL", settings.resolved_database_url)
    for name in ("SOHOA_TRUST_ROOTS", "SOHOA_SIGNING_REQUIRED"):
        monkeypatch.delenv(name, raising=False)  # each call says what it wants
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["--data-dir", str(settings.data_dir), "verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- one signed archive, copied for each test that tampers with it ------------------------


@dataclass(frozen=True)
class Archive:
    data_dir: Path
    signers_file: Path
    pki: ThrowawayPki
    other: ThrowawayPki
    dossier_code: str
    source: Path


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("signed-archive")
    pki = make_pki(root / "pki-qn01", signer_common_name=SIGNER)
    other = make_pki(root / "pki-default", signer_common_name=OTHER, stem="binh")
    (root / "qn01.pw").write_bytes(pki.password + b"\n")  # as `echo pw > file` writes it
    signers_file = root / "signers.toml"
    signers_file.write_text(
        f"""
[default]
name = "{OTHER}"
pkcs12 = "{other.pkcs12}"
password_env = "SOHOA_TEST_DEFAULT_PW"

[counters.{COUNTER}]
name = "{SIGNER}"
pkcs12 = "pki-qn01/digitiser.p12"
password_file = "qn01.pw"
location = "Bưu điện tỉnh Quảng Ninh"
""",
        encoding="utf-8",
    )
    source = root / "receipt.jpg"
    code = _receipt(source)
    runtime.reset()
    settings = Settings(data_dir=root / "data", workers=2, signers_file=signers_file)
    _batch(settings, counter_id=COUNTER)
    received, part, pages = _run_pages(settings, DOSSIER, source)
    archiving.archive_dossier(settings, received, part, pages)
    steps.finish_source(settings, received)
    runtime.reset()
    yield Archive(settings.data_dir, signers_file, pki, other, code, source)
    runtime.reset()


@pytest.fixture
def archived(archive: Archive, tmp_path: Path) -> Iterator[Settings]:
    """A private copy of the archive (objects and SQLite database) to read or tamper with."""
    data_dir = tmp_path / "data"
    shutil.copytree(archive.data_dir, data_dir)
    runtime.reset()
    yield Settings(
        data_dir=data_dir,
        workers=2,
        signers_file=archive.signers_file,
        trust_roots=(archive.pki.root_certificate,),
    )
    runtime.reset()


def test_archived_copy_is_pdfa_signed_by_the_counters_digitiser(
    archive: Archive, archived: Settings, tmp_path: Path
) -> None:
    objects = object_store(archived)
    info = metadata_store(archived).get_dossier(DOSSIER)
    assert info.status is DossierStatus.ARCHIVED and info.dossier_code == archive.dossier_code
    pdf_path = tmp_path / "dossier.pdf"
    pdf_path.write_bytes(objects.get_bytes(keys.pdf_key(DOSSIER)))

    with pikepdf.open(pdf_path) as pdf:
        xmp = _xmp(pdf)
        assert xmp[f"{{{XMP['pdfaid']}}}part"] == "2"
        assert xmp[f"{{{XMP['pdfaid']}}}conformance"] == "B"
        assert xmp[f"{{{ARCHIVE_NS}}}DossierCode"] == archive.dossier_code
        assert xmp[f"{{{ARCHIVE_NS}}}Digitiser"] == SIGNER
        assert xmp[f"{{{ARCHIVE_NS}}}CounterId"] == COUNTER
        assert xmp[f"{{{ARCHIVE_NS}}}AgencyCode"] == archive.dossier_code.split("-")[0]
        assert pdf.Root.OutputIntents[0].S == pikepdf.Name.GTS_PDFA1

    # The counter's own digitiser signed (not the [default] one), and it validates.
    report = verify_pdf_signature(pdf_path, trust_roots=[archive.pki.root_certificate])
    assert report.ok and report.signer_common_name == SIGNER
    assert not verify_pdf_signature(pdf_path, trust_roots=[archive.other.root_certificate]).trusted

    # Searchable: the OCR layer and the stamp both read back.
    text = unicodedata.normalize(
        "NFC",
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, check=True
        ).stdout.decode(),
    )
    assert archive.dossier_code in text
    assert "TIẾP NHẬN" in text.upper()
    assert STAMP_PHRASE in text and SIGNER in text

    # The manifest vouches for the signed bytes and records the signature.
    manifest = read_manifest(objects, DOSSIER)
    pdf_entry = next(o for o in manifest["objects"] if o["role"] == "pdf")
    assert pdf_entry["sha256"] == hashlib.sha256(pdf_path.read_bytes()).hexdigest()
    signature = manifest["signature"]
    _key, certificate, _chain = pkcs12.load_key_and_certificates(
        archive.pki.pkcs12.read_bytes(), archive.pki.password
    )
    assert certificate is not None
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert signature["signer_name"] == SIGNER
    assert signature["certificate_sha256"] == fingerprint
    assert datetime.fromisoformat(signature["signed_at"]) == report.signing_time
    # fields.json keeps its shape: the signature lives in the manifest only.
    fields = json.loads(objects.get_bytes(keys.fields_key(DOSSIER)))
    assert "signature" not in fields and archive.dossier_code in json.dumps(fields)


def test_verify_passes_on_a_good_archive(
    archive: Archive,
    archived: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roots = str(archive.pki.root_certificate)
    code, out, err = _verify(
        archived, capsys, monkeypatch, DOSSIER, env={"SOHOA_TRUST_ROOTS": roots}
    )
    assert code == 0, err
    line, summary = out.splitlines()
    assert line.startswith(f"ok       {DOSSIER}") and f"signed by {SIGNER}" in line
    assert "objects match" in line and "not checked" not in line
    assert summary == "verified 1 dossier(s): 1 ok"

    code, out, _ = _verify(
        archived, capsys, monkeypatch, "--all", "--json", env={"SOHOA_TRUST_ROOTS": roots}
    )
    assert code == 0
    record, summary_record = (json.loads(line) for line in out.splitlines())
    assert record["ok"] and record["signature"]["signer"] == SIGNER
    assert record["signature"]["trusted"] is True
    manifest = read_manifest(object_store(archived), DOSSIER)
    assert record["objects"] == len(manifest["objects"])
    assert summary_record["summary"]["ok"] == 1

    # Another CA as trust root: the signature is intact but not trusted, a problem.
    other = str(archive.other.root_certificate)
    code, out, _ = _verify(archived, capsys, monkeypatch, DOSSIER, env={"SOHOA_TRUST_ROOTS": other})
    assert code == 8 and "does not chain to SOHOA_TRUST_ROOTS" in out

    code, _, err = _verify(archived, capsys, monkeypatch, DOSSIER, "no-such-dossier")
    assert code == 5 and "1 not found" in err
    code, _, err = _verify(archived, capsys, monkeypatch)
    assert code == 2 and "--all" in err


def test_verify_reports_a_changed_object(
    archived: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = archived.objects_dir / keys.text_key(DOSSIER)
    _flip(text, 3)
    code, out, err = _verify(archived, capsys, monkeypatch, DOSSIER)
    assert code == 8
    [line] = [x for x in out.splitlines() if x.startswith("PROBLEM")]
    now = hashlib.sha256(text.read_bytes()).hexdigest()[:16]
    key = keys.text_key(DOSSIER)
    assert line == f"PROBLEM  {DOSSIER}  {key}: SHA-256 {now}… differs from the manifest"
    assert err == "sohoa: error: verified 1 dossier(s): 0 ok, 1 with problems\n"

    # The original changed: against the manifest and against the database.
    original = metadata_store(archived).original_key(DOSSIER)
    assert original is not None
    _flip(archived.objects_dir / original, 1000)
    code, out, _ = _verify(archived, capsys, monkeypatch, "--all")
    assert code == 8
    assert f"{original}: SHA-256" in out and "differs from the database's" in out


def test_verify_reports_a_missing_manifest(
    archived: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (archived.objects_dir / keys.manifest_key(DOSSIER)).unlink()
    code, out, _ = _verify(archived, capsys, monkeypatch, DOSSIER)
    assert code == 8
    assert f"PROBLEM  {DOSSIER}  archived but has no manifest" in out.splitlines()


def test_verify_reports_a_broken_signature_even_with_a_rewritten_manifest(
    archived: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever changes dossier.pdf and rewrites the manifest to match still breaks the
    signature: that is what the signature is for."""
    pdf = archived.objects_dir / keys.pdf_key(DOSSIER)
    data = pdf.read_bytes()
    _flip(pdf, data.find(b"\xff\xd8\xff") + 400)  # inside the scan, within the signed range
    manifest_path = archived.objects_dir / keys.manifest_key(DOSSIER)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["objects"]:
        if entry["role"] == "pdf":
            entry["sha256"] = hashlib.sha256(pdf.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    code, out, _ = _verify(archived, capsys, monkeypatch, DOSSIER)
    assert code == 8
    [line] = [x for x in out.splitlines() if x.startswith("PROBLEM")]
    assert "dossier.pdf: INVALID, changed after it was signed by" in line
    assert "differs from the manifest" not in line


# --- unsigned archives, signing required, credentials --------------------------------------


def test_signing_required_without_a_signer_fails_the_dossier(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _batch(settings, counter_id=COUNTER)
    source = tmp_path / "receipt.jpg"
    _receipt(source, seed=3)
    received, part, pages = _run_pages(settings, DOSSIER, source)
    objects, meta = object_store(settings), metadata_store(settings)

    # Signing required and nobody to sign (the pages were read on a machine that did not
    # require it): FAILED with one clear line, the original kept, nothing else archived.
    required = Settings(data_dir=settings.data_dir, workers=2, signing_required=True)
    archiving.archive_dossier(required, received, part, pages)
    info = meta.get_dossier(DOSSIER)
    assert info.status is DossierStatus.FAILED
    assert info.error == (
        "receipt.jpg: signing is required (SOHOA_SIGNING_REQUIRED) but no signer is "
        "configured: set SOHOA_SIGNERS_FILE or SOHOA_SIGNING_PKCS12"
    )
    assert objects.get_bytes(received.original_key) == source.read_bytes()
    assert not objects.exists(keys.pdf_key(DOSSIER))
    assert not objects.exists(keys.manifest_key(DOSSIER))

    # A signer whose PKCS#12 will not open: FAILED, naming the file; never archived unsigned.
    pki = make_pki(tmp_path / "pki", signer_common_name=SIGNER)
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not the password\n", encoding="utf-8")
    bad = Settings(
        data_dir=settings.data_dir,
        workers=2,
        signing_pkcs12=pki.pkcs12,
        signing_password_file=wrong,
        digitiser_name=SIGNER,
    )
    archiving.archive_dossier(bad, received, part, pages)
    info = meta.get_dossier(DOSSIER)
    assert info.status is DossierStatus.FAILED and info.error is not None
    assert f"not signed as {SIGNER}" in info.error and "digitiser.p12" in info.error
    assert "\n" not in info.error and not objects.exists(keys.manifest_key(DOSSIER))

    # Not required: archived unsigned, and the XMP names who handed the files in.
    archiving.archive_dossier(settings, received, part, pages)
    assert meta.get_dossier(DOSSIER).status is DossierStatus.ARCHIVED
    assert read_manifest(objects, DOSSIER)["signature"] is None
    unsigned = tmp_path / "unsigned.pdf"
    unsigned.write_bytes(objects.get_bytes(keys.pdf_key(DOSSIER)))
    with pikepdf.open(unsigned) as pdf:
        assert _xmp(pdf)[f"{{{ARCHIVE_NS}}}Digitiser"] == "thu.ky"
    code, out, _ = _verify(settings, capsys, monkeypatch, DOSSIER)
    assert code == 0 and "unsigned" in out.splitlines()[0]
    assert out.splitlines()[1] == "verified 1 dossier(s): 1 ok (1 archived unsigned)"
    code, out, _ = _verify(
        settings, capsys, monkeypatch, DOSSIER, env={"SOHOA_SIGNING_REQUIRED": "true"}
    )
    assert code == 8 and "dossier.pdf is unsigned but signing is required" in out

    # With signing required, a new file is refused as soon as it is kept: no OCR is spent.
    second = tmp_path / "second.jpg"
    _receipt(second, seed=4)
    refused = steps.receive_source(
        required, "b1", "b1-002", 1, steps.SourceRef(str(second), "second.jpg")
    )
    assert refused.error is not None and "signing is required" in refused.error
    assert meta.get_dossier("b1-002").status is DossierStatus.FAILED
    assert objects.get_bytes(refused.original_key) == second.read_bytes()
    assert not meta.get_dossier("b1-002").pages  # never processed

    # --all walks the database a page at a time; a failed dossier's original is checked.
    assert [d.dossier_id for d in every_dossier(meta, page_size=1)] == ["b1-002", DOSSIER]
    code, out, _ = _verify(settings, capsys, monkeypatch, "--all")
    assert code == 0
    assert out.splitlines()[0] == "ok       b1-002  failed, original kept intact"
    assert out.splitlines()[-1] == "verified 2 dossier(s): 2 ok (1 archived unsigned)"


# --- the signers file -----------------------------------------------------------------------


def test_signers_file_maps_counters_and_reports_errors_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signers.toml"
    signers = parse_signers(
        """
[default]
name = "  Trần   Văn Bình "
pkcs12 = "keys/binh.p12"
password_env = "PW_BINH"
[counters."QN-01"]
name = "Nguyễn Thị Thu Hằng"
pkcs12 = "/etc/sohoa/hang.p12"
password_file = "hang.pw"
""",
        path,
    )
    assert signers.for_counter("QN-01").name == "Nguyễn Thị Thu Hằng"  # type: ignore[union-attr]
    fallback = signers.for_counter("QN-99")
    assert fallback is signers.for_counter(None) is signers.default
    assert fallback is not None and fallback.name == "Trần Văn Bình"
    assert fallback.pkcs12 == tmp_path / "keys" / "binh.p12"  # relative to the file
    assert signers.for_counter("QN-01").password_file == tmp_path / "hang.pw"  # type: ignore[union-attr]

    for text, problem in [
        ("[default\n", "not valid TOML"),
        ('[default]\nname = "A"\n', "needs both name and pkcs12"),
        ('[default]\nname = "A"\npkcs12 = "a.p12"\npassword = "x"\n', "unknown key 'password'"),
        (
            '[default]\nname="A"\npkcs12="a.p12"\npassword_file="f"\npassword_env="E"\n',
            "not both",
        ),
        ("[counter.x]\n", "unknown table [counter]"),
        ("", "no signer"),
    ]:
        with pytest.raises(SignerConfigError) as caught:
            parse_signers(text, path)
        assert caught.value.message.startswith(str(path)) and problem in caught.value.message
        assert "\n" not in caught.value.message

    with pytest.raises(SignerConfigError, match=r"missing\.toml: signers file not found"):
        Settings(data_dir=tmp_path, signers_file=tmp_path / "missing.toml")
    with pytest.raises(SignerConfigError, match="needs SOHOA_DIGITISER_NAME"):
        Settings(data_dir=tmp_path, signing_pkcs12=tmp_path / "a.p12")
    single = Settings(
        data_dir=tmp_path, signing_pkcs12=tmp_path / "a.p12", digitiser_name="Lê Thị C"
    )
    assert signers_from_settings(single).for_counter("any").name == "Lê Thị C"  # type: ignore[union-attr]
    with pytest.raises(SignerConfigError, match=r"PW_BINH \(the PKCS#12 password\) is not set"):
        fallback.password()
    (tmp_path / "hang.pw").write_bytes(b"s3cret\r\n")
    assert signers.for_counter("QN-01").password() == b"s3cret"  # type: ignore[union-attr]
    # Passwords are read when signing, never held: nothing can print them.
    monkeypatch.setenv("PW_BINH", "env-s3cret")
    assert fallback.password() == b"env-s3cret"
    single_pw = Settings(
        data_dir=tmp_path,
        signing_pkcs12=tmp_path / "a.p12",
        signing_password_file=tmp_path / "hang.pw",
        digitiser_name="Lê Thị C",
    )
    for shown in (repr(signers), repr(single_pw), repr(signers_from_settings(single_pw))):
        assert "s3cret" not in shown


# --- colour ----------------------------------------------------------------------------------


def _small_page(path: Path, mode: str) -> None:
    page = synth.render_page(synth.corpus_lines(3, 5), dpi=200, font_pt=12, page_mm=(105, 74))
    image: Image.Image = page.image.convert("L")
    if mode == "1":
        image = image.point(lambda v: 255 if v > 128 else 0).convert("1")
    image.save(path, dpi=(200, 200))


@pytest.mark.parametrize(("mode", "shown"), [("L", "grey"), ("1", "black and white (1-bit)")])
def test_colour_gate_at_ingest_warns_or_refuses(
    settings: Settings, tmp_path: Path, mode: str, shown: str
) -> None:
    _batch(settings, procedure="lltp")
    path = tmp_path / "scan.png"
    _small_page(path, mode)
    warning = f"scan is {shown}, colour is required for the archive"

    received, part, pages = _run_pages(settings, DOSSIER, path)
    assert warning in pages[0].info.warnings and pages[0].colour_mode == (
        ColourMode.GREY if mode == "L" else ColourMode.BILEVEL
    )
    archiving.archive_dossier(settings, received, part, pages)
    info = metadata_store(settings).get_dossier(DOSSIER)
    assert info.status is DossierStatus.ARCHIVED and warning in info.pages[0].warnings

    refuse = Settings(data_dir=settings.data_dir, workers=2, colour_action="refuse")
    with pytest.raises(BadInputError) as caught:
        steps.process_one_page(refuse, received, 0, "vie")
    assert caught.value.message == f"scan.png: page 1 {warning}: scan it again in colour"

    # Colour not required by default: the batch's procedure (lltp, colour_required = true in
    # the catalogue) still asks for it; without a procedure the page passes.
    relaxed = Settings(data_dir=settings.data_dir, workers=2, colour_required=False)
    assert warning in steps.process_one_page(relaxed, received, 0, "vie").info.warnings
    unhinted = replace(received, procedure_hint=None)
    assert warning not in steps.process_one_page(relaxed, unhinted, 0, "vie").info.warnings


def test_colour_rule_is_redecided_once_the_papers_name_the_procedure(
    settings: Settings, tmp_path: Path
) -> None:
    """No procedure at upload, colour not required by default: the grey page passes at
    ingest. Its form says doi-gplx, whose catalogue entry requires colour: at archive the
    warning is added, or the dossier refused."""
    _batch(settings)
    truth = dossiers.random_truth(random.Random(11), procedure="doi-gplx")
    image, _ = dossiers.render_gplx_form(truth, dpi=200)
    path = tmp_path / "form.png"
    image.convert("L").save(path, dpi=(200, 200))
    relaxed = Settings(data_dir=settings.data_dir, workers=2, colour_required=False)
    received, part, pages = _run_pages(relaxed, DOSSIER, path)
    warning = colour_warning(ColourMode.GREY).text
    assert warning not in pages[0].info.warnings

    refuse = Settings(
        data_dir=settings.data_dir, workers=2, colour_required=False, colour_action="refuse"
    )
    archiving.archive_dossier(refuse, received, part, pages)
    info = metadata_store(settings).get_dossier(DOSSIER)
    assert info.status is DossierStatus.FAILED
    assert info.error == f"form.png: page 1 {warning} (procedure doi-gplx): scan it again in colour"

    archiving.archive_dossier(relaxed, received, part, pages)
    info = metadata_store(settings).get_dossier(DOSSIER)
    assert info.status is DossierStatus.ARCHIVED and info.procedure == "doi-gplx"
    assert warning in info.pages[0].warnings
